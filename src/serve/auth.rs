//! Checking that a webhook comes from its source: bearer token, basic auth, or
//! an HMAC-SHA256 signature of the body. Every comparison of a secret runs in
//! constant time so the answer's timing says nothing about how close a guess was.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::remediate::SecretSource;
use crate::rules::{HmacScheme, SourceAuth};

/// Signed timestamps older (or newer) than this are refused: a captured request
/// cannot be replayed later.
const MAX_SKEW_SECS: i64 = 300;

/// Why a request was refused (the 401's reason; never contains a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub &'static str);

/// `header(name)` looks a request header up, case-insensitively.
pub fn check(
    auth: &SourceAuth,
    header: &dyn Fn(&str) -> Option<String>,
    body: &[u8],
    now_secs: i64,
    secrets: &dyn SecretSource,
) -> Result<(), Refusal> {
    let resolve = |s: &crate::rules::secret::SecretString| {
        s.resolve(|n| secrets.env(n), |p| secrets.read_file(p))
            .map_err(|_| Refusal("the source's secret cannot be read on this server"))
    };
    match auth {
        SourceAuth::Bearer(token) => {
            let expected = resolve(token)?;
            let given = header("authorization").ok_or(Refusal("missing Authorization header"))?;
            let given = strip_scheme(&given, "bearer").ok_or(Refusal("expected a Bearer token"))?;
            if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
                Ok(())
            } else {
                Err(Refusal("wrong bearer token"))
            }
        }
        SourceAuth::Basic { username, password } => {
            let expected = format!("{username}:{}", resolve(password)?);
            let given = header("authorization").ok_or(Refusal("missing Authorization header"))?;
            let encoded =
                strip_scheme(&given, "basic").ok_or(Refusal("expected Basic credentials"))?;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|_| Refusal("malformed Basic credentials"))?;
            if constant_time_eq(&decoded, expected.as_bytes()) {
                Ok(())
            } else {
                Err(Refusal("wrong username or password"))
            }
        }
        SourceAuth::Hmac {
            secret,
            scheme,
            header: name,
            timestamp_header,
        } => {
            let secret = resolve(secret)?;
            let given = header(name).ok_or(Refusal("missing signature header"))?;
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
                .map_err(|_| Refusal("unusable HMAC secret"))?;
            if let Some(ts_name) = timestamp_header {
                let ts = header(ts_name).ok_or(Refusal("missing signature timestamp header"))?;
                let secs: i64 = ts
                    .trim()
                    .parse()
                    .map_err(|_| Refusal("malformed signature timestamp"))?;
                // A network value: `now - secs` overflows for a timestamp
                // near i64::MIN or MAX (and wrapped to a negative `abs()` in
                // a release build, which passed the check). No difference
                // fits in an i64: far out of the window.
                let skew = now_secs.checked_sub(secs).and_then(i64::checked_abs);
                if skew.is_none_or(|s| s > MAX_SKEW_SECS) {
                    return Err(Refusal("signature timestamp too old or in the future"));
                }
                mac.update(ts.trim().as_bytes());
                mac.update(b":");
            }
            mac.update(body);
            let expected = hex(&mac.finalize().into_bytes());
            let candidates: Vec<&str> = match scheme {
                HmacScheme::Hex => vec![given.trim().trim_start_matches("sha256=")],
                HmacScheme::PagerDuty => given
                    .split(',')
                    .filter_map(|s| s.trim().strip_prefix("v1="))
                    .collect(),
            };
            // Check every candidate so the time does not depend on which matched.
            let mut ok = false;
            for c in candidates {
                ok |= constant_time_eq(c.to_ascii_lowercase().as_bytes(), expected.as_bytes());
            }
            if ok {
                Ok(())
            } else {
                Err(Refusal("bad signature"))
            }
        }
    }
}

/// The credentials after an auth scheme, which is case-insensitive (RFC 9110 §11.1).
pub fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.trim().split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then_some(rest.trim())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Compares in time that depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

/// The signature a sender using `secret` would put in the header (tests, docs).
pub fn sign_hex(secret: &str, timestamp: Option<&str>, body: &[u8]) -> String {
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    if let Some(ts) = timestamp {
        mac.update(ts.as_bytes());
        mac.update(b":");
    }
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::secret::SecretString;

    struct Env;
    impl SecretSource for Env {
        fn env(&self, name: &str) -> Option<String> {
            match name {
                "TOKEN" => Some("t0ken".to_owned()),
                "EMPTY" => Some(String::new()),
                _ => None,
            }
        }
        fn read_file(&self, _: &str) -> std::io::Result<String> {
            Err(std::io::Error::other("no files here"))
        }
    }

    fn secret(s: &str) -> SecretString {
        SecretString::parse(s).unwrap()
    }

    fn run(
        auth: &SourceAuth,
        headers: &[(&str, &str)],
        body: &[u8],
        now: i64,
    ) -> Result<(), Refusal> {
        let lookup = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| (*v).to_owned())
        };
        check(auth, &lookup, body, now, &Env)
    }

    #[test]
    fn bearer_tokens_compare_exactly() {
        let auth = SourceAuth::Bearer(secret("${env:TOKEN}"));
        assert!(run(&auth, &[("Authorization", "Bearer t0ken")], b"", 0).is_ok());
        assert!(run(&auth, &[("authorization", "bearer t0ken")], b"", 0).is_ok());
        assert_eq!(
            run(&auth, &[("Authorization", "Bearer t0ke")], b"", 0),
            Err(Refusal("wrong bearer token"))
        );
        assert_eq!(
            run(&auth, &[("Authorization", "Basic t0ken")], b"", 0),
            Err(Refusal("expected a Bearer token"))
        );
        assert_eq!(
            run(&auth, &[], b"", 0),
            Err(Refusal("missing Authorization header"))
        );
        let unset = SourceAuth::Bearer(secret("${env:NOPE}"));
        let refused = run(&unset, &[("Authorization", "Bearer ")], b"", 0).unwrap_err();
        assert!(
            !refused.0.contains("NOPE"),
            "the reason does not name server secrets"
        );
    }

    #[test]
    fn basic_auth_decodes_and_compares() {
        let auth = SourceAuth::Basic {
            username: "am".into(),
            password: secret("${env:TOKEN}"),
        };
        // base64("am:t0ken")
        assert!(run(&auth, &[("Authorization", "Basic YW06dDBrZW4=")], b"", 0).is_ok());
        assert!(run(&auth, &[("Authorization", "Basic YW06dDBrZW5=")], b"", 0).is_err());
        assert_eq!(
            run(&auth, &[("Authorization", "Basic !!!")], b"", 0),
            Err(Refusal("malformed Basic credentials"))
        );
    }

    /// Found by the `auth` fuzz target's run (issue 19.7): a variable set to
    /// the empty string made the HMAC key empty, and a signature anyone can
    /// compute without knowing a secret was accepted. An empty secret is no
    /// secret: every scheme refuses, whatever the request carries.
    #[test]
    fn an_empty_secret_accepts_nothing() {
        let body = br#"{"alerts": []}"#;
        let hmac = SourceAuth::Hmac {
            secret: secret("${env:EMPTY}"),
            scheme: HmacScheme::Hex,
            header: "X-Grafana-Alerting-Signature".into(),
            timestamp_header: None,
        };
        let forged = sign_hex("", None, body);
        assert!(run(&hmac, &[("X-Grafana-Alerting-Signature", &forged)], body, 0).is_err());
        let bearer = SourceAuth::Bearer(secret("${env:EMPTY}"));
        assert!(run(&bearer, &[("Authorization", "Bearer ")], body, 0).is_err());
        let basic = SourceAuth::Basic {
            username: "am".into(),
            password: secret("${env:EMPTY}"),
        };
        // "am:" in Base64.
        assert!(run(&basic, &[("Authorization", "Basic YW06")], body, 0).is_err());
    }

    #[test]
    fn grafana_signatures_with_and_without_timestamp() {
        let body = br#"{"alerts": []}"#;
        let plain = SourceAuth::Hmac {
            secret: secret("${env:TOKEN}"),
            scheme: HmacScheme::Hex,
            header: "X-Grafana-Alerting-Signature".into(),
            timestamp_header: None,
        };
        let sig = sign_hex("t0ken", None, body);
        assert!(run(&plain, &[("X-Grafana-Alerting-Signature", &sig)], body, 0).is_ok());
        assert_eq!(
            run(
                &plain,
                &[("X-Grafana-Alerting-Signature", &sig)],
                b"{\"alerts\": [1]}",
                0
            ),
            Err(Refusal("bad signature")),
            "a changed body fails"
        );
        let stamped = SourceAuth::Hmac {
            secret: secret("${env:TOKEN}"),
            scheme: HmacScheme::Hex,
            header: "X-Grafana-Alerting-Signature".into(),
            timestamp_header: Some("X-Grafana-Alerting-Timestamp".into()),
        };
        let sig = sign_hex("t0ken", Some("1000"), body);
        let headers = [
            ("X-Grafana-Alerting-Signature", sig.as_str()),
            ("X-Grafana-Alerting-Timestamp", "1000"),
        ];
        assert!(run(&stamped, &headers, body, 1100).is_ok());
        for extreme in [i64::MIN, i64::MIN + 1100, i64::MAX, -1100] {
            let ts = extreme.to_string();
            let sig = sign_hex("t0ken", Some(&ts), body);
            let headers = [
                ("X-Grafana-Alerting-Signature", sig.as_str()),
                ("X-Grafana-Alerting-Timestamp", ts.as_str()),
            ];
            assert_eq!(
                run(&stamped, &headers, body, 1100),
                Err(Refusal("signature timestamp too old or in the future")),
                "timestamp {ts}"
            );
        }
        assert_eq!(
            run(&stamped, &headers, body, 1000 + 301),
            Err(Refusal("signature timestamp too old or in the future")),
            "a replay after 5 minutes fails"
        );
        let forged = [
            ("X-Grafana-Alerting-Signature", sig.as_str()),
            ("X-Grafana-Alerting-Timestamp", "1200"),
        ];
        assert_eq!(
            run(&stamped, &forged, body, 1200),
            Err(Refusal("bad signature")),
            "the timestamp is signed"
        );
    }

    #[test]
    fn pagerduty_accepts_any_listed_v1_signature() {
        let body = br#"{"event": {}}"#;
        let auth = SourceAuth::Hmac {
            secret: secret("${env:TOKEN}"),
            scheme: HmacScheme::PagerDuty,
            header: "X-PagerDuty-Signature".into(),
            timestamp_header: None,
        };
        let good = format!("v1=deadbeef, v1={}", sign_hex("t0ken", None, body));
        assert!(run(&auth, &[("X-PagerDuty-Signature", &good)], body, 0).is_ok());
        let bad = format!("v0={}", sign_hex("t0ken", None, body));
        assert!(run(&auth, &[("X-PagerDuty-Signature", &bad)], body, 0).is_err());
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
