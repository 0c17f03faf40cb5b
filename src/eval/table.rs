//! The score table printed by `drummernet eval` (the same layout as `score.py`).

use std::fmt::Write as _;

use super::score::{EvalResult, SUBSETS};

pub fn table(res: &EvalResult) -> String {
    let mut out = String::new();
    let hdr = format!(
        "{:6} {:>3} | {:>5} {:>5} {:>5} {:>5} | {:>5} {:>5} {:>5} {:>5} {:>5} {:>5} | {:>5} {:>5} | microF1",
        "subset", "n", "KD", "SD", "HH", "mean", "P_KD", "R_KD", "P_SD", "R_SD", "P_HH", "R_HH", "TT", "CY"
    );
    let _ = writeln!(out, "{hdr}");
    let _ = writeln!(out, "{}", "-".repeat(hdr.len()));
    for s in SUBSETS {
        let Some(a) = res.subsets.get(s) else {
            continue;
        };
        // A class the subset is not scored on shows its false events per clip instead (`+n`).
        let f = |k: &str| match (a.classes.get(k), a.unscored_events_per_clip.get(k)) {
            (Some(c), _) => format!("{:5.3}", c.f1),
            (None, Some(n)) => format!("{:>5}", format!("+{n:.0}")),
            (None, None) => "    -".to_string(),
        };
        let pr = |k: &str| {
            a.classes.get(k).map_or("    -     -".to_string(), |c| {
                format!("{:5.3} {:5.3}", c.p, c.r)
            })
        };
        let _ = writeln!(
            out,
            "{s:6} {:3} | {} {} {} {:5.3} | {} {} {} | {} {} | {:5.3}",
            a.n_clips,
            f("KD"),
            f("SD"),
            f("HH"),
            a.mean.f1,
            pr("KD"),
            pr("SD"),
            pr("HH"),
            f("TT"),
            f("CY"),
            a.mean.micro_f1
        );
    }
    if !res.missing.is_empty() {
        let shown: Vec<&str> = res.missing.iter().take(8).map(String::as_str).collect();
        let _ = writeln!(
            out,
            "MISSING predictions for {} clips: {}{}",
            res.missing.len(),
            shown.join(" "),
            if res.missing.len() > 8 { " ..." } else { "" }
        );
    }
    if res
        .subsets
        .values()
        .any(|a| !a.unscored_events_per_clip.is_empty())
    {
        let _ = writeln!(
            out,
            "+n: false events per clip of a class the subset's clips hold none of"
        );
    }
    out
}

/// One line per clip: F1 per class.
pub fn per_clip_lines(res: &EvalResult) -> String {
    let mut out = String::new();
    for r in &res.clips {
        let mut line = format!("{:48}", r.id);
        for (k, c) in &r.classes {
            let _ = write!(line, " {k} {:.3}", c.f1);
        }
        let _ = writeln!(out, "{line} mean {:.3}", r.mean_f1);
    }
    out
}
