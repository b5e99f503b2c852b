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

/// A reader that is interrupted (`EINTR`) before each of its reads, then
/// hands out `data` a few bytes at a time, as a socket with a read timeout
/// does when a signal (SIGHUP reloads rules) lands on its thread: with
/// `SO_RCVTIMEO` set, Linux fails the read with EINTR even under SA_RESTART
/// (signal(7), "Interruption of system calls and library functions").
struct Interrupted<'a> {
    data: &'a [u8],
    interrupt: bool,
}

impl std::io::Read for Interrupted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(self.data.len()).min(5);
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl std::io::Write for Interrupted<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl resgate::serve::Wire for Interrupted<'_> {
    fn set_read_timeout(&self, _: Option<std::time::Duration>) -> std::io::Result<()> {
        Ok(())
    }
}

/// Target `http_read`, 2026-12-07, on its first seed with a read split: a
/// read interrupted before the request's first byte closed the connection
/// without an answer (the head reader took any error there for "the peer is
/// gone"), while the same bytes read without the interruption were a good
/// request. An interrupted read is retried, as everywhere else in the reader.
#[test]
fn an_interrupted_first_read_is_retried_not_taken_for_a_closed_connection() {
    let wire = b"POST /webhook/am HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{}GET /";
    let read = resgate::serve::read_request(
        Interrupted {
            data: wire,
            interrupt: false,
        },
        16 * 1024,
        1024,
    )
    .expect("a request");
    assert_eq!(
        (read.method.as_str(), read.path.as_str()),
        ("POST", "/webhook/am")
    );
    assert_eq!(read.body, b"{}");
    assert_eq!(
        read.consumed,
        wire.len() - b"GET /".len(),
        "the next request stays"
    );
}

/// Hands out `data` in two reads: the first `split` bytes, then the rest.
struct Split<'a> {
    data: &'a [u8],
    split: usize,
}

impl std::io::Read for Split<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = match self.split {
            0 => self.data.len(),
            s => s,
        }
        .min(buf.len())
        .min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.split = 0;
        Ok(n)
    }
}

impl std::io::Write for Split<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl resgate::serve::Wire for Split<'_> {
    fn set_read_timeout(&self, _: Option<std::time::Duration>) -> std::io::Result<()> {
        Ok(())
    }
}

/// Target `http_read`, 2026-12-07, after 40 s: a request line with a space
/// too many (`POST http://host:9 95/webhook ... HTTP/1.1000`) was answered
/// 505 when it arrived whole and 400 when split inside the line, because
/// the version was looked for in the line's *last* word, of which only a
/// part had arrived. The version is the third word (RFC 9112 §3: method SP
/// target SP version): here `95/webhook`, malformed, 400 however it arrives;
/// a real `HTTP/2.0` is 505 however it arrives.
#[test]
fn the_version_status_does_not_depend_on_how_the_line_arrives() {
    let status = |wire: &[u8], split: usize| {
        resgate::serve::read_request(Split { data: wire, split }, 16 * 1024, 1024).map(|_| ())
    };
    let cases: [(&[u8], u16); 3] = [
        (b"POST /x 95/webhook HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        (
            b"POST http://h:9 95/webhook?x=1 HTTP/1.1000\r\nHost: a\r\n\r\n",
            400,
        ),
        (b"GET /x HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    ];
    for (wire, expected) in cases {
        for split in 0..wire.len() {
            assert_eq!(
                status(wire, split),
                Err(Some(expected)),
                "{} split at {split}",
                String::from_utf8_lossy(wire)
            );
        }
    }
}

/// Target `http_read`, 2026-12-07, after 3.8 million executions: a head one
/// byte over the limit was accepted (the reader keeps `max_head + 1` bytes to
/// tell "too large" from "complete", and took a head that ended on that last
/// byte). The limit is the head's length: 431 above it, however it arrives.
#[test]
fn a_head_one_byte_over_the_limit_is_refused() {
    let head = b"POST /o| HTTP/1.0\r\n\r\n";
    let read = |max_head: usize, split: usize| {
        resgate::serve::read_request(Split { data: head, split }, max_head, 0).map(|r| r.consumed)
    };
    for split in 0..head.len() {
        assert_eq!(read(head.len(), split), Ok(head.len()), "split at {split}");
        assert_eq!(
            read(head.len() - 1, split),
            Err(Some(431)),
            "split at {split}"
        );
    }
}
