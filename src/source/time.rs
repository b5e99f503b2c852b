//! Timestamps in payloads.
//!
//! Parsing is jiff's: RFC 3339 with fractional seconds (Go sends up to nine
//! digits) and `Z` or a numeric offset. jiff also accepts a little more than RFC
//! 3339 (a space instead of `T`, a bracketed time zone after the offset); that
//! is harmless for input. A timestamp without an offset is refused: guessing the
//! sender's zone would shift `age` by hours.

use jiff::Timestamp;

/// Go's zero `time.Time`: Alertmanager and Grafana send it as `endsAt` while an
/// alert fires, meaning "no end yet".
const GO_ZERO: Timestamp = Timestamp::constant(-62_135_596_800, 0);

/// Parses one timestamp; the error is jiff's reason, for the message.
pub(super) fn parse(text: &str) -> Result<Timestamp, String> {
    text.parse::<Timestamp>().map_err(|e| e.to_string())
}

/// `None` for Go's zero time, else the time itself.
pub(super) fn unless_zero(at: Timestamp) -> Option<Timestamp> {
    (at != GO_ZERO).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_zero_time_is_no_time() {
        let zero = parse("0001-01-01T00:00:00Z").ok();
        assert_eq!(zero.and_then(unless_zero), None);
    }

    #[test]
    fn fractions_and_offsets_parse() {
        let a = parse("2021-10-12T09:51:03.157076+02:00");
        let b = parse("2021-10-12T07:51:03.157076Z");
        assert!(a.is_ok());
        assert_eq!(a, b);
        assert!(parse("2022-04-05T22:16:47.085355886+02:00").is_ok());
    }

    #[test]
    fn no_offset_is_refused() {
        assert!(parse("2026-11-20T10:00:00").is_err());
        assert!(parse("yesterday").is_err());
    }
}
