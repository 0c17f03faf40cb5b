//! Every key of config.toml with out-of-range, negative, huge, NaN and wrong-type values: each
//! refusal names the key, and a key with a range states it even when the value was of the wrong
//! type or sign. The three cases the issue names also go through the binary.

use drummernet::config::{Config, DEFAULT_CONFIG_TOML};

use super::common::{drummernet, root, run};

/// Dotted names of every integer and float key of the shipped config.
fn numeric_keys() -> Vec<(String, bool)> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<(String, bool)>) {
        match v {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    let key = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&key, v, out);
                }
            }
            toml::Value::Integer(_) => out.push((prefix.to_string(), true)),
            toml::Value::Float(_) => out.push((prefix.to_string(), false)),
            _ => {}
        }
    }
    let table: toml::Table = DEFAULT_CONFIG_TOML.parse().expect("config.toml");
    let mut out = Vec::new();
    walk("", &toml::Value::Table(table), &mut out);
    out
}

#[test]
fn every_numeric_key_refuses_bad_values_naming_the_key_and_its_range() {
    let keys = numeric_keys();
    assert!(keys.len() > 60, "{} keys", keys.len());
    let mut refused = 0;
    for (key, integer) in &keys {
        let probes: &[&str] = if *integer {
            &["-1", "0", "9223372036854775807", "\"many\"", "1.5"]
        } else {
            &[
                "-1.0", "0.0", "1e300", "nan", "inf", "-inf", "\"much\"", "true",
            ]
        };
        let errors: Vec<(String, String)> = probes
            .iter()
            .filter_map(|p| {
                Config::load(None, &[format!("{key}={p}")])
                    .err()
                    .map(|e| (p.to_string(), e.to_string()))
            })
            .collect();
        let has_range = errors.iter().any(|(_, e)| e.contains("must"));
        for (probe, e) in &errors {
            assert!(
                e.starts_with(&format!("config: `{key}`")) && !e.contains('\n'),
                "{key}={probe}: {e}"
            );
            if has_range {
                assert!(
                    e.contains("must"),
                    "{key}={probe} does not state the range: {e}"
                );
            } else {
                assert!(e.contains("expected"), "{key}={probe}: {e}");
            }
        }
        // A value of the wrong type is never accepted.
        assert!(
            errors.iter().any(|(p, _)| p.starts_with('"')),
            "{key} took a string"
        );
        refused += errors.len();
    }
    println!("{refused} refusals over {} keys", keys.len());
}

#[test]
fn the_issues_three_config_cases_through_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "[train]\nbatch_size = -8\n",
            "negative.toml",
            &["train.batch_size", "must be in 1..=4096"],
        ),
        (
            "[loss]\nhop = 0\n",
            "hop.toml",
            &["loss.hop", "must be in 1..=1024"],
        ),
        (
            "[audio]\nsample_rate = 0\n",
            "rate.toml",
            &["audio.sample_rate", "must be 16000"],
        ),
        (
            "[train]\nbach_size = 8\n",
            "typo.toml",
            &["train.bach_size", "unknown key"],
        ),
    ];
    for (text, name, needles) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        let ran = run(drummernet()
            .arg("--config")
            .arg(&p)
            .args(["transcribe", "x.wav", "--out"])
            .arg(dir.path().join("out")));
        ran.one_line_error(needles);
        assert!(
            !dir.path().join("out").exists(),
            "nothing created before the config check"
        );
    }
    // The shipped file itself is accepted as a --config.
    run(drummernet()
        .arg("--config")
        .arg(root().join("config.toml"))
        .args(["kit", "list"])
        .arg(root().join("assets/kits/default")))
    .succeeded();
}
