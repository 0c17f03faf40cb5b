//! The Rust scorer against the evaluation set's reference scorer (`score.py`), whose output on a
//! deterministic prediction set (tests/fixtures/eval, made by make_predictions.py) is committed.

use std::path::{Path, PathBuf};

use drummernet::eval::score::score_dir;
use drummernet::eval::table;
use serde_json::Value;

fn eval_dev() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval-dev");
    if p.join("manifest.json").exists() {
        Some(p)
    } else {
        println!("skipped: ../shared/eval-dev not found");
        None
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval")
}

/// `score.py`'s part of drummernet's JSON, which adds the confusion counts (checked apart).
fn score_py_part(mut v: Value) -> Value {
    let confusion = v.as_object_mut().and_then(|o| o.remove("confusion"));
    assert!(confusion.is_some_and(|c| c["false_positives"]["HH"].is_object()));
    // The counts of false events of classes a clip is not scored on (score.py has none).
    for clip in v["clips"].as_array_mut().unwrap() {
        let counts = clip.as_object_mut().unwrap().remove("unscored_events");
        assert!(counts.is_some_and(|c| c.is_object()));
    }
    for subset in v["subsets"].as_object_mut().unwrap().values_mut() {
        let counts = subset
            .as_object_mut()
            .unwrap()
            .remove("unscored_events_per_clip");
        assert!(counts.is_some_and(|c| c.is_object()));
    }
    v
}

/// Every number equal to 1e-9, every string/array/key equal; reports the first difference.
fn assert_close(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= 1e-9, "{at}: {a} != {b}");
        }
        (Value::Object(a), Value::Object(b)) => {
            let mut ka: Vec<&String> = a.keys().collect();
            let mut kb: Vec<&String> = b.keys().collect();
            ka.sort();
            kb.sort();
            assert_eq!(ka, kb, "{at}: keys");
            for k in kb {
                assert_close(&a[k], &b[k], &format!("{at}.{k}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}: length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_close(x, y, &format!("{at}[{i}]"));
            }
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

fn check(channel: Option<u8>, fixture: &str) {
    let Some(gt) = eval_dev() else { return };
    let res = score_dir(&fixtures().join("pred"), &gt, channel).unwrap();
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join(fixture)).unwrap()).unwrap();
    let got = score_py_part(serde_json::to_value(&res).unwrap());
    assert_close(&got, &want, "result");
    // Sanity: the set exercises what it claims to.
    assert_eq!(res.missing, vec!["dtp_11_funk_dn_logic_12".to_string()]);
    assert!(res.subsets["all"].mean.f1 > 0.7 && res.subsets["all"].mean.f1 < 0.9);
}

#[test]
fn reproduces_score_py_on_eval_dev() {
    check(None, "score_py.json");
}

#[test]
fn reproduces_score_py_with_midi_channel_filter() {
    check(Some(10), "score_py_channel10.json");
}

#[test]
fn table_has_subset_rows_and_missing_line() {
    let Some(gt) = eval_dev() else { return };
    let res = score_dir(&fixtures().join("pred"), &gt, None).unwrap();
    let t = table(&res);
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines[0].starts_with("subset   n |    KD    SD    HH  mean"));
    assert!(
        lines[2].starts_with("dtd      6 | 0.823 0.860 0.889 0.857"),
        "{t}"
    );
    assert!(
        lines[4].starts_with("all     12 | 0.782 0.784 0.811 0.792"),
        "{t}"
    );
    assert!(lines[5].starts_with("MISSING predictions for 1 clips"));
}

#[test]
fn plain_folder_without_manifest_and_empty_class_conventions() {
    let dir = tempfile::tempdir().unwrap();
    let gt = dir.path().join("gt");
    let pred = dir.path().join("pred");
    std::fs::create_dir_all(&gt).unwrap();
    std::fs::create_dir_all(&pred).unwrap();
    // Clip a: no SD anywhere (1.0), KD perfect, HH predicted but not annotated (0.0).
    std::fs::write(gt.join("a.txt"), "1.0\tKD\n2.0\tKD\n").unwrap();
    std::fs::write(
        pred.join("a.txt"),
        "1.01\tKD\n2.04\tkick\n2.05\tKD\n3\tHH\n",
    )
    .unwrap();
    let res = score_dir(&pred, &gt, None).unwrap();
    let c = &res.clips[0].classes;
    assert_eq!((c["KD"].f1, c["KD"].tp, c["KD"].n_est), (1.0, 2, 3));
    assert_eq!(c["SD"].f1, 1.0);
    assert_eq!(c["HH"].f1, 0.0);
    assert!((res.clips[0].mean_f1 - 2.0 / 3.0).abs() < 1e-12);
    assert_eq!(res.subsets.keys().collect::<Vec<_>>(), vec!["all"]);
}

#[test]
fn cli_prints_the_table_and_writes_json() {
    let Some(gt) = eval_dev() else { return };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    assert_cmd::Command::cargo_bin("drummernet")
        .unwrap()
        .args(["eval", "--gt"])
        .arg(&gt)
        .arg("--pred")
        .arg(fixtures().join("pred"))
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "all     12 | 0.782 0.784 0.811 0.792",
        ));
    let got: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let got = score_py_part(got);
    let want: Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("score_py.json")).unwrap())
            .unwrap();
    assert_close(&got, &want, "cli");
    // The JSON is not overwritten without --force.
    assert_cmd::Command::cargo_bin("drummernet")
        .unwrap()
        .args(["eval", "--gt"])
        .arg(&gt)
        .arg("--pred")
        .arg(fixtures().join("pred"))
        .arg("--json")
        .arg(&json)
        .assert()
        .failure()
        .stderr(predicates::str::contains("r.json"));
}
