//! The webhook authentication checks (`resgate::serve::auth::check`): bearer
//! token, Basic credentials, and HMAC-SHA256 signatures the Grafana way (hex,
//! optionally `sha256=`, optionally over `timestamp:body` with a timestamp
//! header) and the PagerDuty way (`X-PagerDuty-Signature: v1=...,v1=...`).
//!
//! Input layout (so that libFuzzer can mutate each part on its own):
//! - byte 0: the scheme (`% 6`: bearer, basic, hex, hex + timestamp,
//!   PagerDuty, PagerDuty + timestamp); byte 1: flags;
//! - 8 bytes: a timestamp, 8 bytes: "now" (both `i64`, extremes included);
//! - 2 bytes: which body byte to change, 1 byte: the change (xor, never 0);
//! - the rest, split at 0xFF (never in UTF-8): the secret, the username,
//!   the raw authorization/signature header, the raw timestamp header, the
//!   body (the body takes whatever is left, 0xFF included).
//!
//! Properties:
//! - with the raw headers, `check` returns accept or refuse, never panics or
//!   overflows; an acceptance of raw headers holds the right credential (the
//!   expected signature, a timestamp within 300 s of now);
//! - a request built correctly with the right secret (and a timestamp within
//!   the window) is accepted, unless the secret is empty: an empty secret is
//!   refused like a missing one and accepts nothing;
//! - the same request with any single body byte changed is refused, and so
//!   is one whose timestamp is moved by one second or lies 301 s away.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use resgate::remediate::SecretSource;
use resgate::rules::secret::SecretString;
use resgate::rules::{HmacScheme, SourceAuth};
use resgate::serve::auth::{Refusal, check, sign_hex};

const SIG: &str = "X-Signature";
const TS: &str = "X-Signature-Timestamp";

/// The one secret the source is configured with, as `${env:FUZZ_SECRET}`.
struct Secret(String);

impl SecretSource for Secret {
    fn env(&self, name: &str) -> Option<String> {
        (name == "FUZZ_SECRET").then(|| self.0.clone())
    }
    fn read_file(&self, _: &str) -> std::io::Result<String> {
        Err(std::io::Error::other("no files"))
    }
}

fn run(
    auth: &SourceAuth,
    secret: &Secret,
    headers: &[(&str, &str)],
    body: &[u8],
    now: i64,
) -> Result<(), Refusal> {
    // The daemon's lookup is case-insensitive, on names it already parsed.
    let lookup = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| (*v).to_owned())
    };
    check(auth, &lookup, body, now, secret)
}

fn take<const N: usize>(data: &mut &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = N.min(data.len());
    out[..n].copy_from_slice(&data[..n]);
    *data = &data[n..];
    out
}

/// RFC 6750 §2.1 b64token: what a bearer token can be in a header.
fn is_b64token(s: &str) -> bool {
    let t = s.trim_end_matches('=');
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

fn within_window(now: i64, ts: i64) -> bool {
    (i128::from(now) - i128::from(ts)).abs() <= 300
}

fuzz_target!(|data: &[u8]| {
    let mut data = data;
    let [mode, flags] = take::<2>(&mut data);
    let ts = i64::from_le_bytes(take::<8>(&mut data));
    let now = i64::from_le_bytes(take::<8>(&mut data));
    let index = u16::from_le_bytes(take::<2>(&mut data));
    let [delta] = take::<1>(&mut data);
    let delta = delta.max(1);
    let mut parts = data.splitn(5, |&b| b == 0xFF);
    let mut next = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let secret = Secret(next());
    let username = next();
    let raw_sig = next();
    let raw_ts = next();
    let body = parts.next().unwrap_or_default().to_vec();

    let reference = || SecretString::parse("${env:FUZZ_SECRET}").expect("a valid reference");
    let mode = mode % 6;
    let auth = match mode {
        0 => SourceAuth::Bearer(reference()),
        1 => SourceAuth::Basic {
            username: username.clone(),
            password: reference(),
        },
        _ => SourceAuth::Hmac {
            secret: reference(),
            scheme: if mode < 4 {
                HmacScheme::Hex
            } else {
                HmacScheme::PagerDuty
            },
            header: SIG.to_owned(),
            timestamp_header: (mode == 3 || mode == 5).then(|| TS.to_owned()),
        },
    };
    let stamped = mode == 3 || mode == 5;
    let auth_header = if mode < 2 { "Authorization" } else { SIG };

    // 1. Raw headers: an answer, and an acceptance only with the credential.
    let mut headers = Vec::new();
    if flags & 1 == 0 {
        headers.push((auth_header, raw_sig.as_str()));
    }
    if flags & 2 == 0 {
        headers.push((TS, raw_ts.as_str()));
    }
    if run(&auth, &secret, &headers, &body, now).is_ok() {
        // An empty secret is refused as a missing one: it accepts nothing.
        assert!(!secret.0.is_empty(), "an empty secret accepted a request");
        match mode {
            0 => assert!(
                !secret.0.is_empty() && raw_sig.contains(&secret.0),
                "a bearer header without the token was accepted"
            ),
            1 => {}
            _ => {
                let stamp = stamped.then(|| raw_ts.trim());
                let expected = sign_hex(&secret.0, stamp, &body);
                assert!(
                    raw_sig.to_ascii_lowercase().contains(&expected),
                    "a signature header without the signature was accepted"
                );
                if let Some(stamp) = stamp {
                    let secs: i64 = stamp.parse().expect("an accepted timestamp parses");
                    assert!(within_window(now, secs), "a stale timestamp was accepted");
                }
            }
        }
    }

    // 2. A request built correctly with the right secret is accepted.
    let now = if stamped {
        // A "now" within 300 s of the signed timestamp, when one fits an i64.
        let Some(now) = ts.checked_add(now.rem_euclid(601) - 300) else {
            return;
        };
        now
    } else {
        now
    };
    let stamp = ts.to_string();
    let stamp = stamped.then_some(stamp.as_str());
    let good = match mode {
        0 => {
            if !is_b64token(&secret.0) {
                return;
            }
            let scheme = if flags & 4 == 0 { "Bearer" } else { "bearer" };
            format!("{scheme} {}", secret.0)
        }
        1 => {
            let pair = format!("{username}:{}", secret.0);
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            )
        }
        _ => {
            let mut sig = sign_hex(&secret.0, stamp, &body);
            if flags & 4 != 0 {
                sig.make_ascii_uppercase();
            }
            match (mode < 4, flags & 8 != 0) {
                (true, false) => sig,
                (true, true) => format!("sha256={sig}"),
                // PagerDuty lists several while a secret rotates.
                (false, false) => format!("v1={sig}"),
                (false, true) => format!("v1=00ff, v1={sig}"),
            }
        }
    };
    let mut headers = vec![(auth_header, good.as_str())];
    if let Some(stamp) = stamp {
        headers.push((TS, stamp));
    }
    if secret.0.is_empty() {
        // Even "correctly" signed with the empty key (which anyone can do).
        assert_eq!(
            run(&auth, &secret, &headers, &body, now),
            Err(Refusal("the source's secret cannot be read on this server")),
            "a request signed with an empty secret was accepted"
        );
        return;
    }
    assert_eq!(
        run(&auth, &secret, &headers, &body, now),
        Ok(()),
        "a correctly built request was refused"
    );
    if mode < 2 {
        return;
    }

    // 3. Any single changed body byte is refused.
    if !body.is_empty() {
        let mut changed = body.clone();
        let i = usize::from(index) % changed.len();
        changed[i] ^= delta;
        assert_eq!(
            run(&auth, &secret, &headers, &changed, now),
            Err(Refusal("bad signature")),
            "a changed body byte was accepted"
        );
    }

    // 4. The timestamp is signed, and the window is 300 s.
    if stamped {
        if let Some(moved) = ts.checked_add(1) {
            let moved = moved.to_string();
            let headers = [(SIG, good.as_str()), (TS, moved.as_str())];
            assert!(
                run(&auth, &secret, &headers, &body, now).is_err(),
                "a moved timestamp was accepted"
            );
        }
        for stale in [ts.checked_add(301), ts.checked_sub(301)] {
            if let Some(later) = stale {
                assert_eq!(
                    run(&auth, &secret, &headers, &body, later),
                    Err(Refusal("signature timestamp too old or in the future")),
                    "a timestamp 301 s from now was accepted"
                );
            }
        }
    }
});
