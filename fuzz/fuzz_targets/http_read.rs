//! Reading a request head and body the way `resgate serve` does
//! (`resgate::serve::read_request`: the daemon's `read_head` and body reading
//! over any reader), with the bytes arriving in pieces whose sizes the input
//! chooses.
//!
//! Input layout:
//! - byte 0: the head limit (even: the daemon's 16 KiB; odd: `4 * b + 16`);
//! - bytes 1-2: the body limit (`u16`);
//! - byte 3: `n` (`% 16`), then `n` bytes: the sizes of successive reads,
//!   used in turn (0: the read is interrupted, `EINTR`, for the first 64
//!   reads; 255: the read times out); no sizes: everything in one read;
//! - the rest: the bytes on the wire.
//!
//! Properties: a request or an error status, never a panic or overflow, and
//! - the request consumed exactly its head and its declared body, nothing
//!   after it (the next request's bytes stay on the wire);
//! - an accepted head has no NUL and no CR or LF outside a CRLF, and no field
//!   value holds an ASCII control character (HTAB aside);
//! - it is at most the head limit long;
//! - an error is one of the statuses the daemon answers with;
//! - whether a request is accepted, and what it is, does not depend on how
//!   the bytes were split (reads that time out aside; a head with two faults
//!   may be refused with the status of either).
#![no_main]

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use resgate::serve::{ReadRequest, Wire, read_request};

struct Chunked<'a> {
    data: &'a [u8],
    sizes: &'a [u8],
    reads: usize,
    timed_out: &'a Cell<bool>,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.data.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        let size = if self.sizes.is_empty() {
            usize::MAX
        } else {
            let s = self.sizes[self.reads % self.sizes.len()];
            self.reads += 1;
            match s {
                0 if self.reads <= 64 => return Err(ErrorKind::Interrupted.into()),
                0 => 1,
                255 => {
                    self.timed_out.set(true);
                    return Err(ErrorKind::WouldBlock.into());
                }
                s => usize::from(s),
            }
        };
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl Write for Chunked<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Wire for Chunked<'_> {
    fn set_read_timeout(&self, _: Option<Duration>) -> std::io::Result<()> {
        Ok(())
    }
}

fn read(
    data: &[u8],
    sizes: &[u8],
    max_head: usize,
    max_body: usize,
) -> (Result<ReadRequest, Option<u16>>, bool) {
    let timed_out = Cell::new(false);
    let wire = Chunked {
        data,
        sizes,
        reads: 0,
        timed_out: &timed_out,
    };
    let result = read_request(wire, max_head, max_body);
    (result, timed_out.get())
}

fn bare_line_ending_or_nul(head: &[u8]) -> bool {
    head.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => i == 0 || head[i - 1] != b'\r',
        b'\r' => head.get(i + 1) != Some(&b'\n'),
        0 => true,
        _ => false,
    })
}

fuzz_target!(|input: &[u8]| {
    let Some((&head_byte, rest)) = input.split_first() else {
        return;
    };
    let max_head = if head_byte % 2 == 0 {
        16 * 1024
    } else {
        4 * usize::from(head_byte) + 16
    };
    let Some((body_bytes, rest)) = rest.split_first_chunk::<2>() else {
        return;
    };
    let max_body = usize::from(u16::from_le_bytes(*body_bytes));
    let Some((&n, rest)) = rest.split_first() else {
        return;
    };
    let n = usize::from(n % 16).min(rest.len());
    let (sizes, data) = rest.split_at(n);

    let (result, timed_out) = read(data, sizes, max_head, max_body);
    match &result {
        Ok(request) => {
            assert!(
                request.consumed <= data.len(),
                "consumed more than was sent"
            );
            assert!(
                request.body.len() <= request.consumed,
                "a body longer than what was consumed"
            );
            let head_end = request.consumed - request.body.len();
            assert_eq!(
                request.body,
                &data[head_end..request.consumed],
                "the body is not the bytes after the head"
            );
            let declared = request
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| {
                    v.trim().parse::<usize>().expect("a valid length")
                });
            assert_eq!(request.body.len(), declared, "not the declared body");
            assert!(request.body.len() <= max_body, "a body over the limit");
            let head = &data[..head_end];
            assert!(head.ends_with(b"\r\n\r\n"), "a head without its blank line");
            assert!(head.len() <= max_head, "a head over the limit accepted");
            assert!(
                !bare_line_ending_or_nul(head),
                "a head with a bare CR, LF or NUL accepted"
            );
            for (name, value) in &request.headers {
                assert!(!name.is_empty(), "an empty header name");
                assert!(
                    // ASCII controls: obs-text (0x80-0xFF, C1 controls
                    // in UTF-8 included) is allowed (RFC 9110 §5.5).
                    !value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f),
                    "a control character in the value of {name:?}"
                );
            }
        }
        Err(None) => {}
        Err(Some(status)) => assert!(
            [400, 408, 411, 413, 431, 501, 505].contains(status),
            "status {status}"
        ),
    }
    if !timed_out && !sizes.is_empty() {
        // A head with two faults may be refused for whichever arrives
        // first (nginx too answers the first it sees): only acceptance, and
        // what is accepted, must not depend on the split.
        let (whole, _) = read(data, &[], max_head, max_body);
        if result.is_ok() || whole.is_ok() {
            assert_eq!(
                result, whole,
                "the answer depends on how the bytes were split"
            );
        }
    }
});
