//! Durations written in rules: `15s`, `10m`, `1h30m` (humantime syntax).

use std::time::Duration;

pub fn parse(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.chars().all(|c| c.is_ascii_digit()) && !trimmed.is_empty() {
        // A bare number is ambiguous (seconds? minutes?); Prometheus refuses it too.
        return Err(format!("duration {trimmed:?} has no unit"));
    }
    humantime::parse_duration(trimmed).map_err(|e| format!("invalid duration {trimmed:?}: {e}"))
}

/// `10m`, `1h30m`, `45s`: the shortest way to write it, for output.
pub fn format(d: Duration) -> String {
    let mut secs = d.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_style_durations() {
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse("15s"), Ok(Duration::from_secs(15)));
        assert!(parse("10").is_err());
        assert!(parse("ten minutes").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn formats_compactly() {
        assert_eq!(format(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format(Duration::from_secs(600)), "10m");
        assert_eq!(format(Duration::ZERO), "0s");
    }
}
