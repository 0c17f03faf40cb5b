//! Axis ticks at "nice" values (1, 2 or 5 times a power of ten) and their labels.

/// Ticks covering [lo, hi] with about `target` intervals, at multiples of 1, 2 or 5 x 10^k;
/// only those inside the range. A degenerate or non-finite range gives its one value.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return if lo.is_finite() { vec![lo] } else { Vec::new() };
    }
    let step = nice_step((hi - lo) / target.max(1) as f64);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last).map(|i| i as f64 * step).collect()
}

/// The smallest of 1, 2, 5 x 10^k at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let power = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// A tick label: thousands as "k", millions as "M", and no trailing zeros ("50k", "1.5M",
/// "0.25").
pub fn tick_label(v: f64) -> String {
    let (scaled, suffix) = match v.abs() {
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let mut text = format!("{scaled:.3}");
    while text.contains('.') && (text.ends_with('0') || text.ends_with('.')) {
        text.pop();
    }
    if text == "-0" {
        text = "0".into();
    }
    format!("{text}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
    }

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        let unit = nice_ticks(0.0, 1.0, 5);
        assert!(close(&unit, &[0.0, 0.2, 0.4, 0.6, 0.8, 1.0]), "{unit:?}");
        let t = nice_ticks(3.0, 187_000.0, 5);
        assert_eq!(t.first(), Some(&50_000.0));
        assert_eq!(t, vec![50_000.0, 100_000.0, 150_000.0]);
        assert_eq!(nice_ticks(11.4, 17.2, 4), vec![12.0, 14.0, 16.0]);
        assert_eq!(nice_ticks(2.0, 2.0, 5), vec![2.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(tick_label(50_000.0), "50k");
        assert_eq!(tick_label(1_500_000.0), "1.5M");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(tick_label(12.0), "12");
        assert_eq!(tick_label(0.0), "0");
    }
}
