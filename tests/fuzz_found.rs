//! Inputs the fuzz targets (fuzz/fuzz_targets) found, kept as normal tests so
//! `cargo test` keeps them fixed: a seed in fuzz/corpus alone is run by no one.
//! Each test names the target and the date the input was found.

use resgate::remediate::SecretSource;
use resgate::rules::secret::SecretString;
use resgate::rules::{HmacScheme, SourceAuth};
use resgate::serve::auth::{Refusal, check, sign_hex};

struct Secret;

impl SecretSource for Secret {
    fn env(&self, name: &str) -> Option<String> {
        (name == "GRAFANA_SECRET").then(|| "gafraet".to_owned())
    }
    fn read_file(&self, _: &str) -> std::io::Result<String> {
        Err(std::io::Error::other("no files"))
    }
}

fn grafana_with_timestamp() -> SourceAuth {
    SourceAuth::Hmac {
        secret: SecretString::parse("${env:GRAFANA_SECRET}").unwrap(),
        scheme: HmacScheme::Hex,
        header: "X-Grafana-Alerting-Signature".to_owned(),
        timestamp_header: Some("X-Grafana-Alerting-Timestamp".to_owned()),
    }
}

fn check_signed(timestamp: &str, now: i64) -> Result<(), Refusal> {
    let body = b"{";
    let signature = sign_hex("gafraet", Some(timestamp), body);
    let lookup = |name: &str| {
        if name.eq_ignore_ascii_case("X-Grafana-Alerting-Signature") {
            Some(signature.clone())
        } else if name.eq_ignore_ascii_case("X-Grafana-Alerting-Timestamp") {
            Some(timestamp.to_owned())
        } else {
            None
        }
    };
    check(&grafana_with_timestamp(), &lookup, body, now, &Secret)
}

/// Target `auth`, 2026-12-07, on main at 9c218f0: 178,799 executions (3 s)
/// to `attempt to subtract with overflow` in `(now - ts).abs()`
/// (issue 19 item 5). The fuzzer's input had "now" at `i64::MIN + 1` and a
/// timestamp header of `17651000765100000`; a sender controls only the
/// timestamp, and a real clock overflows the same subtraction with one near
/// `i64::MIN`. Either way: refused as out of the window, no panic (a panic
/// killed the connection thread), and never accepted (a release build
/// wrapped to a negative skew and accepted a signature of any age).
#[test]
fn hmac_timestamps_far_from_now_are_refused_without_overflow() {
    let window = Err(Refusal("signature timestamp too old or in the future"));
    assert_eq!(check_signed("17651000765100000", i64::MIN + 1), window);
    let now = 1_765_100_000;
    for ts in [i64::MIN, i64::MIN + now, i64::MIN + now - 1, i64::MAX] {
        assert_eq!(check_signed(&ts.to_string(), now), window, "{ts}");
    }
    for now in [i64::MIN, i64::MAX] {
        assert_eq!(check_signed("0", now), window, "now {now}");
        assert_eq!(check_signed(&now.to_string(), now), Ok(()), "now {now}");
    }
}
