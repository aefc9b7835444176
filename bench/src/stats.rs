//! Percentile summaries of measured durations.

use std::time::Duration;

/// Summarizes durations in milliseconds: count, min, mean, p50, p90, p99 and max. Percentiles
/// use the nearest-rank method, so each one is a measured value.
pub fn summary_ms(samples: &[Duration]) -> serde_json::Value {
    if samples.is_empty() {
        return serde_json::json!({ "count": 0 });
    }
    let mut values: Vec<f64> = samples.iter().map(|sample| sample.as_secs_f64() * 1000.0).collect();
    values.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / values.len() as f64;

    serde_json::json!({
        "count": values.len(),
        "min": round(values[0]),
        "mean": round(mean),
        "p50": round(percentile(&values, 50.0)),
        "p90": round(percentile(&values, 90.0)),
        "p99": round(percentile(&values, 99.0)),
        "max": round(values[values.len() - 1]),
    })
}

/// Returns the nearest-rank percentile of sorted, non-empty `values`.
fn percentile(values: &[f64], percent: f64) -> f64 {
    let rank = (percent / 100.0 * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

/// Rounds to microseconds, the resolution worth reporting.
fn round(milliseconds: f64) -> f64 {
    (milliseconds * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&values, 100.0), 100.0);
        assert_eq!(percentile(&[7.0], 50.0), 7.0);
    }

    #[test]
    fn summary_of_nothing() {
        assert_eq!(summary_ms(&[])["count"], 0);
    }

    #[test]
    fn summary_in_milliseconds() {
        let samples = [Duration::from_micros(1500), Duration::from_micros(500)];
        let summary = summary_ms(&samples);
        assert_eq!(summary["min"], 0.5);
        assert_eq!(summary["max"], 1.5);
        assert_eq!(summary["p50"], 0.5);
    }
}
