//! A small HTTP/1.1 server with the limits a webhook receiver needs, because
//! tiny_http has none and hides its sockets: every connection has a read
//! timeout (idle between requests, and for the request head), the head is at
//! most `max_head` bytes and 100 header lines, a body must arrive within
//! `body_timeout`, bodies are read only when the handler asks (after it checked
//! credentials and the Content-Length), and at most `max_connections`
//! connections are open.
//!
//! Request heads are parsed by httparse (the parser under hyper); the
//! policy around it is ours: CRLF line endings only, no control character in
//! a field value, one `Host`, known methods (else 501), HTTP/1.x (else 505),
//! origin- or absolute-form targets, `Connection` as a token list, HEAD
//! answered as GET without the body.
//!
//! One thread per connection, up to that cap: a blocking design that is easy to
//! follow, and what a webhook receiver with tens of senders needs. Only
//! `Content-Length` bodies are taken (senders of webhooks set it); chunked
//! bodies are refused with 411, and a Content-Length that is not plain digits
//! or that a repeated header contradicts with 400.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_head: usize,
    /// Between requests on a kept-alive connection.
    pub idle_timeout: Duration,
    /// For the request line and headers, from their first byte.
    pub head_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
    /// Open connections from one client address at most.
    pub max_per_ip: usize,
}

/// One request, its body still on the wire until [`Incoming::body`] is called.
pub struct Incoming<'a> {
    pub method: String,
    /// The host of an absolute-form target (`GET http://host/path`), which
    /// stands for `Host` (RFC 9112 §3.2.2).
    pub authority: Option<String>,
    pub path: String,
    pub query: String,
    headers: Vec<(String, String)>,
    content_length: usize,
    expect_continue: bool,
    body_read: bool,
    stream: &'a mut BufReader<dyn Wire + 'a>,
    body_timeout: Duration,
}

/// What a request is read from: a TCP stream in the daemon; any reader in
/// the fuzz target ([`read_request`]).
pub trait Wire: Read + Write {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;
}

impl Wire for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }
}

pub enum BodyError {
    TooLarge,
    Timeout,
    Io(std::io::Error),
}

impl Incoming<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Reads the body (at most `max` bytes, within the body timeout).
    pub fn body(&mut self, max: usize) -> Result<Vec<u8>, BodyError> {
        if self.content_length > max {
            return Err(BodyError::TooLarge);
        }
        self.body_read = true;
        if self.content_length == 0 {
            return Ok(Vec::new());
        }
        if self.expect_continue {
            self.stream
                .get_mut()
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .map_err(BodyError::Io)?;
        }
        let deadline = Instant::now() + self.body_timeout;
        let mut body = vec![0u8; self.content_length];
        let mut filled = 0;
        while filled < body.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(BodyError::Timeout);
            }
            self.stream
                .get_ref()
                .set_read_timeout(Some(left))
                .map_err(BodyError::Io)?;
            match self.stream.read(&mut body[filled..]) {
                Ok(0) => {
                    return Err(BodyError::Io(std::io::ErrorKind::UnexpectedEof.into()));
                }
                Ok(n) => filled += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(BodyError::Timeout);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(BodyError::Io(e)),
            }
        }
        Ok(body)
    }
}

/// A finished answer.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(&'static str, String)>,
}

pub type Handler = dyn Fn(&mut Incoming) -> Reply + Send + Sync;

/// The listening side: accept loop and connection threads.
pub struct Server {
    listener: TcpListener,
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    /// Requests being handled right now (shutdown waits for them).
    busy: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    /// Open connections by client address (entries at zero are removed).
    per_ip: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl Server {
    pub fn bind(addr: &str) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        Ok(Server {
            listener,
            addr,
            stopping: Arc::new(AtomicBool::new(false)),
            busy: Arc::new(AtomicUsize::new(0)),
            open: Arc::new(AtomicUsize::new(0)),
            per_ip: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting; `run` returns once the requests in progress are answered.
    pub fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }

    /// Accepts until [`Server::stop`], then waits (bounded) for requests in progress.
    pub fn run(&self, limits: &Limits, handler: Arc<Handler>, metrics: &Metrics) {
        let mut failing = false;
        for stream in self.listener.incoming() {
            if self.stopping.load(Ordering::SeqCst) {
                break;
            }
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    // EMFILE/ENFILE (out of file descriptors) and friends:
                    // the connection waits in the listen backlog. Say so once
                    // per state change, count each, and back off rather than
                    // spin on an accept that fails at once.
                    metrics.accept_error();
                    if !failing {
                        tracing::error!(error = %e, "cannot accept connections (out of file descriptors? raise LimitNOFILE / ulimit -n, or lower --max-connections); retrying");
                        failing = true;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if failing {
                tracing::info!("accepting connections again");
                failing = false;
            }
            if self.open.load(Ordering::SeqCst) >= limits.max_connections {
                metrics.connection_refused("max_connections");
                refuse_busy(stream, "too many connections; retry");
                continue;
            }
            let Some(ip_slot) = stream
                .peer_addr()
                .ok()
                .and_then(|peer| IpSlot::take(&self.per_ip, peer.ip(), limits.max_per_ip))
            else {
                metrics.connection_refused("per_ip");
                refuse_busy(
                    stream,
                    "too many connections from your address (--max-connections-per-ip); retry",
                );
                continue;
            };
            // Given back when the thread ends, or by the closure's drop when
            // it cannot start.
            let slot = (Counted::take(self.open.clone()), ip_slot);
            let (limits, handler) = (limits.clone(), handler.clone());
            let (stopping, busy) = (self.stopping.clone(), self.busy.clone());
            let _ = std::thread::Builder::new()
                .name("http-conn".into())
                .stack_size(CONNECTION_STACK)
                .spawn(move || {
                    let _slot = slot;
                    connection(stream, &limits, &*handler, &stopping, &busy);
                });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.busy.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// One unit of a counter (an open connection, a request in progress), given
/// back on drop: on return and on a panic alike, so that a handler that
/// panics never leaks a connection slot (issue 19: four leaked slots with
/// `--max-connections 4` made every later request 503) nor keeps shutdown
/// waiting for a request that will never finish.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn take(counter: Arc<AtomicUsize>) -> Counted {
        counter.fetch_add(1, Ordering::SeqCst);
        Counted(counter)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A connection from one client address, given back on drop.
struct IpSlot {
    map: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl IpSlot {
    /// `None` when `ip` already has `max` connections open.
    fn take(map: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut open = map.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            map: map.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

fn refuse_busy(stream: TcpStream, why: &str) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let body = serde_json::json!({"status": "error", "error": why}).to_string();
    // One write, as in `write_reply`. `write!` on the socket sent the head in
    // pieces and Nagle held the body back for the client's delayed ACK; the
    // drop below then reset a connection whose request was unread and the
    // kernel discarded the unsent body (a CI run read a 503 with no reason).
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: {}\r\nRetry-After: 5\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = (&stream).write_all(reply.as_bytes());
    // The accept loop must not wait for this client: take only what has
    // already arrived, so that the close is a FIN rather than a reset.
    lingering_close(&stream, Duration::ZERO);
}

/// Closes after an answer the client may still be sending to (RFC 9112
/// §9.6): the write side first, so the answer and a FIN leave, then read and
/// discard what the client still sends, for `linger` at most and 256 KiB at
/// most, so that the close does not become a reset. A reset makes the
/// client's kernel drop the answer it has not read yet (nginx's
/// `lingering_close` does the same; its `lingering_time` is 30 s, ours is
/// bounded much lower because a connection slot is held meanwhile).
/// `Duration::ZERO`: read only what has already arrived, without waiting.
fn lingering_close(stream: &TcpStream, linger: Duration) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    if linger.is_zero() && stream.set_nonblocking(true).is_err() {
        return;
    }
    let deadline = Instant::now() + linger;
    let mut sink = [0u8; 8192];
    let mut left = 256 * 1024usize;
    while left > 0 {
        if !linger.is_zero() {
            let now = Instant::now();
            if now >= deadline || stream.set_read_timeout(Some(deadline - now)).is_err() {
                return;
            }
        }
        match (&*stream).read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// How long a connection closed after an error answer reads what its
/// client still sends (see [`lingering_close`]).
const ERROR_LINGER: Duration = Duration::from_secs(1);

/// The stack of a connection thread. Bodies are parsed on it, and
/// serde_json's nesting limit (128) takes about 300 KiB of stack in a debug
/// build for `{"a":{"a":...` (256 KiB overflowed and aborted the daemon); the
/// margin is for the handler around it. Virtual memory: a thread's untouched
/// pages cost nothing, even with `--max-connections` threads.
const CONNECTION_STACK: usize = 1024 * 1024;

/// Header lines a request may have; more is answered 431, like a long head.
const MAX_HEADERS: usize = 100;

/// Why a request head could not be read.
enum HeadError {
    /// The connection ended or idled out between requests: close quietly.
    Gone,
    TooLarge,
    Timeout,
    Malformed(&'static str),
    /// A method no RFC defines (RFC 9110 §9.1: 501).
    NotImplemented,
    /// An HTTP version other than 1.0 and 1.1 (RFC 9110 §15.6.6: 505).
    Version,
}

impl HeadError {
    /// The answer to a head that could not be read; `None`: close quietly.
    fn reply(self) -> Option<Reply> {
        Some(match self {
            HeadError::Gone => return None,
            HeadError::TooLarge => error(431, "request head too large or too many header lines"),
            HeadError::Timeout => error(408, "request head not received in time"),
            HeadError::Malformed(why) => error(400, why),
            HeadError::NotImplemented => error(501, "unknown method"),
            HeadError::Version => error(505, "this server speaks HTTP/1.1 and HTTP/1.0"),
        })
    }
}

fn connection(
    stream: TcpStream,
    limits: &Limits,
    handler: &Handler,
    stopping: &AtomicBool,
    busy: &Arc<AtomicUsize>,
) {
    let accepted = Instant::now();
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(limits.body_timeout));
    // One descriptor per connection: answers are written through a shared
    // reference to the reader's socket (`&TcpStream` is `Write`), not a
    // `try_clone` that doubled the descriptors (issue 19: under `ulimit -n
    // 1024`, connections were reset silently at ~508).
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut first = true;
    loop {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        // A new connection's first byte is awaited for the head timeout, not
        // the idle timeout: a client that connects and says nothing holds a
        // slot no longer than a slow one (issue 19: 1,030 silent sockets
        // locked everyone out for the 30 s idle timeout).
        let since = first.then_some(accepted);
        first = false;
        let head = match read_head(&mut reader, limits, since) {
            Ok(h) => h,
            Err(e) => {
                // A refused head may have more bytes behind it; a client
                // that timed out is not sending (and Gone gets no answer).
                let lingers = !matches!(e, HeadError::Timeout);
                if let Some(reply) = e.reply()
                    && write_reply(reader.get_ref(), &reply, true, false).is_ok()
                    && lingers
                {
                    lingering_close(reader.get_ref(), ERROR_LINGER);
                }
                return;
            }
        };
        let head_only = head.method == "HEAD";
        let in_progress = Counted::take(busy.clone());
        // A panic is a bug of ours: answer 500 (a sender retries a 5xx) and
        // close, rather than drop the connection without a word.
        let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            answer(head, &mut reader, limits, handler)
        }));
        let (reply, after) = answered.unwrap_or_else(|_| {
            tracing::error!("a request handler panicked; answering 500 (a bug in resgate)");
            (
                error(500, "internal error (a bug in resgate); retry"),
                After::Close,
            )
        });
        let written = write_reply(
            reader.get_ref(),
            &reply,
            after.closes() || stopping.load(Ordering::SeqCst),
            head_only,
        );
        drop(in_progress);
        if written.is_err() {
            return;
        }
        match after {
            After::KeepAlive => {}
            After::Close => return,
            After::CloseLingering => {
                lingering_close(reader.get_ref(), ERROR_LINGER);
                return;
            }
        }
    }
}

/// What becomes of the connection after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    KeepAlive,
    Close,
    /// The client may still be sending (a body refused before it was read,
    /// a framing we would not read): close after a bounded lingering read
    /// ([`lingering_close`]), so that the close is not a reset that takes
    /// the answer with it. Only then: a lingering connection holds its slot
    /// until the client closes too.
    CloseLingering,
}

impl After {
    fn closes(self) -> bool {
        self != After::KeepAlive
    }
}

struct Head {
    method: String,
    /// Path and query.
    target: String,
    /// The host of an absolute-form target, which replaces `Host`.
    authority: Option<String>,
    keep_alive: bool,
    headers: Vec<(String, String)>,
}

/// Runs the handler; the reply and whether the connection must close after it.
fn answer(
    head: Head,
    reader: &mut BufReader<dyn Wire + '_>,
    limits: &Limits,
    handler: &Handler,
) -> (Reply, After) {
    let find = |name: &str| {
        head.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_owned())
    };
    if find("transfer-encoding").is_some() {
        return (
            error(411, "send the body with a Content-Length"),
            After::CloseLingering,
        );
    }
    let content_length = match content_length(&head.headers) {
        Ok(n) => n,
        Err(why) => return (error(400, why), After::CloseLingering),
    };
    let expect_continue = find("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let (path, query) = match head.target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (head.target.clone(), String::new()),
    };
    let mut incoming = Incoming {
        method: head.method,
        authority: head.authority,
        path,
        query,
        headers: head.headers,
        content_length,
        expect_continue,
        body_read: false,
        stream: reader,
        body_timeout: limits.body_timeout,
    };
    let reply = handler(&mut incoming);
    // A body left on the wire (refused before reading) cannot be skipped
    // safely; after a malformed request, the next one's framing is doubtful.
    let unread = !incoming.body_read && content_length > 0;
    let after = if unread || reply.status == 400 {
        After::CloseLingering
    } else if head.keep_alive {
        After::KeepAlive
    } else {
        After::Close
    };
    (reply, after)
}

/// The body length the headers declare (0 if none). Only digits are taken
/// (`+5` and `5, 5` are refused), and repeated `Content-Length` headers must
/// agree: a proxy in front that read the other value would see a different
/// request boundary than ours (request smuggling, RFC 9112 §6.3).
fn content_length(headers: &[(String, String)]) -> Result<usize, &'static str> {
    let mut found: Option<usize> = None;
    for (_, value) in headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
    {
        // Only SP and HTAB are whitespace here: `str::trim` would also take
        // a no-break space off `5\u{a0}`, which other parsers read otherwise.
        let value = value.trim_matches([' ', '\t']);
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err("invalid Content-Length");
        }
        let n = value.parse().map_err(|_| "invalid Content-Length")?;
        if found.is_some_and(|f| f != n) {
            return Err("conflicting Content-Length headers");
        }
        found = Some(n);
    }
    Ok(found.unwrap_or(0))
}

/// Reads the next request head. `first`: when the connection was accepted, for
/// its first request, whose first byte must come within the head timeout;
/// later requests' first byte may take the idle timeout.
fn read_head(
    reader: &mut BufReader<dyn Wire + '_>,
    limits: &Limits,
    first: Option<Instant>,
) -> Result<Head, HeadError> {
    let timed_out = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )
    };
    let wait = match first {
        Some(accepted) => (accepted + limits.head_timeout)
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1)),
        None => limits.idle_timeout,
    };
    let _ = reader.get_ref().set_read_timeout(Some(wait));
    loop {
        match reader.fill_buf() {
            Ok([]) => return Err(HeadError::Gone),
            Ok(_) => break,
            // With a read timeout set, Linux fails a read with EINTR when a
            // signal (SIGHUP: reload) lands on this thread, SA_RESTART or
            // not (signal(7)): not the peer leaving (found by fuzzing).
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(HeadError::Gone),
        }
    }
    let deadline = first.unwrap_or_else(Instant::now) + limits.head_timeout;
    let mut head: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(HeadError::Timeout);
        }
        let _ = reader.get_ref().set_read_timeout(Some(left));
        let available = match reader.fill_buf() {
            Ok([]) => return Err(HeadError::Gone),
            Ok(b) => b,
            Err(e) if timed_out(&e) => return Err(HeadError::Timeout),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(HeadError::Gone),
        };
        let take = available
            .len()
            .min(limits.max_head + 1 - head.len().min(limits.max_head));
        head.extend_from_slice(&available[..take]);
        // Parsed again from the start as bytes arrive: at most 16 KiB, and
        // httparse is fast; what follows the head stays in the reader.
        if let Some((parsed, end)) = parse_head(&head)? {
            // `head` may hold one byte over the limit (to tell "too large"
            // from "complete"); a head ending on it is too large too.
            if end > limits.max_head {
                return Err(HeadError::TooLarge);
            }
            let used = take - (head.len() - end);
            reader.consume(used);
            return Ok(parsed);
        }
        reader.consume(take);
        if head.len() > limits.max_head {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Methods of RFC 9110 §9 and RFC 5789: anything else is answered 501, these
/// 405 where a route does not take them.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Parses a request head with httparse; `None` while it is incomplete, else
/// the head and its length in bytes. On top of httparse: line endings must be
/// CRLF (a bare LF or CR, or a NUL anywhere in the head, is refused, so that
/// no front end can split this head into other lines than we do), field
/// values may hold no control character, `Host` must be there once (HTTP/1.1),
/// and the target must be a path or an absolute `http(s)` URL.
fn parse_head(bytes: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    let end = match request.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            // A bare LF or a NUL is refused as soon as it arrives.
            bare_line_ending(bytes)?;
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
        Err(httparse::Error::Version) => return Err(version_error(bytes)),
        Err(httparse::Error::HeaderValue) => {
            return Err(HeadError::Malformed(
                "a header value holds a control character (CR, LF, NUL, ...)",
            ));
        }
        Err(httparse::Error::HeaderName) => {
            return Err(HeadError::Malformed("malformed header name"));
        }
        Err(httparse::Error::NewLine) => {
            return Err(HeadError::Malformed("lines must end with CRLF"));
        }
        Err(_) => return Err(HeadError::Malformed("malformed request line")),
    };
    bare_line_ending(&bytes[..end])?;
    let method = request.method.unwrap_or_default();
    if !KNOWN_METHODS.contains(&method) {
        return Err(HeadError::NotImplemented);
    }
    let target = request.path.unwrap_or_default();
    if !target.is_ascii() {
        return Err(HeadError::Malformed("the request target must be ASCII"));
    }
    let (authority, target) = split_target(target)?;
    let (mut close, mut keep) = (false, false);
    let mut headers = Vec::with_capacity(request.headers.len());
    let mut hosts = 0;
    for header in request.headers.iter() {
        // httparse lets HTAB, SP, VCHAR and obs-text (0x80-0xFF) through;
        // check again, a field value is never where a line may end.
        if header
            .value
            .iter()
            .any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(HeadError::Malformed(
                "a header value holds a control character (CR, LF, NUL, ...)",
            ));
        }
        // obs-text is kept as U+FFFD: no header we read may hold it.
        let value = String::from_utf8_lossy(header.value);
        let value = value.trim_matches([' ', '\t']);
        if header.name.eq_ignore_ascii_case("host") {
            hosts += 1;
        }
        if header.name.eq_ignore_ascii_case("connection") {
            // A list of tokens (RFC 9110 §7.6.1); `close` anywhere wins.
            for token in value.split(',').map(|t| t.trim_matches([' ', '\t'])) {
                close |= token.eq_ignore_ascii_case("close");
                keep |= token.eq_ignore_ascii_case("keep-alive");
            }
        }
        headers.push((header.name.to_owned(), value.to_owned()));
    }
    // HTTP/1.1 keeps the connection unless told to close; HTTP/1.0 only
    // when asked to keep it.
    let keep_alive = !close && (keep || request.version == Some(1));
    // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request
    // without Host, and to any with more than one.
    match (hosts, request.version) {
        (0, Some(1)) => {
            return Err(HeadError::Malformed(
                "an HTTP/1.1 request needs a Host header",
            ));
        }
        (0 | 1, _) => {}
        _ => return Err(HeadError::Malformed("more than one Host header")),
    }
    Ok(Some((
        Head {
            method: method.to_owned(),
            target,
            authority,
            keep_alive,
            headers,
        },
        end,
    )))
}

/// Refuses a LF not after a CR, a CR not before a LF, and NUL.
fn bare_line_ending(bytes: &[u8]) -> Result<(), HeadError> {
    for (i, &b) in bytes.iter().enumerate() {
        let bare = match b {
            b'\n' => i == 0 || bytes[i - 1] != b'\r',
            b'\r' => bytes.get(i + 1).is_some_and(|&n| n != b'\n'),
            0 => true,
            _ => false,
        };
        if bare {
            return Err(HeadError::Malformed(
                "bare CR, LF or NUL in the request head; lines end with CRLF",
            ));
        }
    }
    Ok(())
}

/// `HTTP/2.0` and other well-formed versions we do not speak: 505; anything
/// else in that place: 400.
fn version_error(bytes: &[u8]) -> HeadError {
    let line = bytes
        .split(|&b| b == b'\n')
        .find(|l| !l.is_empty() && l != b"\r");
    // The third word (method SP target SP version, RFC 9112 §3), not the
    // last: the line may not have arrived whole, and a word after the
    // version must not turn a 400 into a 505 (found by fuzzing).
    let version = line.and_then(|l| l.splitn(3, |&b| b == b' ').nth(2));
    match version {
        Some([b'H', b'T', b'T', b'P', b'/', major, ..]) if major.is_ascii_digit() => {
            HeadError::Version
        }
        _ => HeadError::Malformed("malformed HTTP version"),
    }
}

/// The target's path and query, and its authority if it is in absolute form
/// (`http://host:port/path`, RFC 9112 §3.2.2: a server MUST accept it, and
/// its host replaces `Host`).
fn split_target(target: &str) -> Result<(Option<String>, String), HeadError> {
    if target.starts_with('/') {
        return Ok((None, target.to_owned()));
    }
    let lower = target.get(..8).unwrap_or(target).to_ascii_lowercase();
    let rest = if lower.starts_with("http://") {
        &target[7..]
    } else if lower.starts_with("https://") {
        &target[8..]
    } else {
        return Err(HeadError::Malformed(
            "the request target must be a path or an absolute http URL",
        ));
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if authority.is_empty() || authority.contains('@') {
        return Err(HeadError::Malformed(
            "malformed authority in the request target",
        ));
    }
    let path = match path {
        "" => "/".to_owned(),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_owned(),
    };
    Ok((Some(authority.to_owned()), path))
}

/// A request as [`read_request`] read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    pub method: String,
    pub authority: Option<String>,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Bytes taken from the wire for this request (head and body): what
    /// follows stays for the next request.
    pub consumed: usize,
    /// Whether the connection would be kept open for another request.
    pub keep_alive: bool,
}

/// Reads one request from `wire` the way a connection does: `read_head` (a
/// head of at most `max_head` bytes), then `answer` with a handler that reads
/// the whole body (at most `max_body` bytes), as a webhook's does after its
/// credentials. `Err` is the status the daemon would answer, `None` when it
/// closes without one (the peer left before a head). Timeouts are the
/// daemon's defaults; `wire` may ignore them.
///
/// The fuzz crate's entry point (fuzz/fuzz_targets/http_read.rs): the same
/// code as the daemon's from bytes to a request, over any reader. The daemon
/// itself does not call it.
pub fn read_request(
    wire: impl Wire,
    max_head: usize,
    max_body: usize,
) -> Result<ReadRequest, Option<u16>> {
    /// Counts the bytes the buffered reader took from the wire.
    struct Counted<W> {
        inner: W,
        read: usize,
    }
    impl<W: Wire> Read for Counted<W> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read = self.read.saturating_add(n);
            Ok(n)
        }
    }
    impl<W: Wire> Write for Counted<W> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.inner.write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.inner.flush()
        }
    }
    impl<W: Wire> Wire for Counted<W> {
        fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
            self.inner.set_read_timeout(timeout)
        }
    }

    let limits = Limits {
        max_head,
        idle_timeout: Duration::from_secs(30),
        head_timeout: Duration::from_secs(10),
        body_timeout: Duration::from_secs(10),
        max_connections: 1,
        max_per_ip: 1,
    };
    let mut reader = BufReader::with_capacity(
        16 * 1024,
        Counted {
            inner: wire,
            read: 0,
        },
    );
    let head = read_head(&mut reader, &limits, Some(Instant::now())).map_err(|e| match e {
        HeadError::Gone => None,
        HeadError::TooLarge => Some(431),
        HeadError::Timeout => Some(408),
        HeadError::Malformed(_) => Some(400),
        HeadError::NotImplemented => Some(501),
        HeadError::Version => Some(505),
    })?;
    let read: Arc<Mutex<Option<ReadRequest>>> = Arc::default();
    let found = read.clone();
    let handler = move |incoming: &mut Incoming| {
        let body = incoming.body(max_body);
        let status = match &body {
            Ok(_) => 200,
            // As http.rs's `body_error` answers.
            Err(BodyError::TooLarge) => 413,
            Err(BodyError::Timeout) => 408,
            Err(BodyError::Io(_)) => 400,
        };
        if let Ok(body) = body
            && let Ok(mut found) = found.lock()
        {
            *found = Some(ReadRequest {
                method: incoming.method.clone(),
                authority: incoming.authority.clone(),
                path: incoming.path.clone(),
                query: incoming.query.clone(),
                headers: incoming.headers.clone(),
                body,
                consumed: 0,
                keep_alive: false,
            });
        }
        error(status, "")
    };
    let (reply, after) = answer(head, &mut reader, &limits, &handler);
    let request = read.lock().ok().and_then(|mut r| r.take());
    match request {
        Some(mut request) if reply.status == 200 => {
            let wire = reader.get_ref().read;
            request.consumed = wire.saturating_sub(reader.buffer().len());
            request.keep_alive = !after.closes();
            Ok(request)
        }
        _ => Err(Some(reply.status)),
    }
}

pub fn error(status: u16, message: &str) -> Reply {
    Reply {
        status,
        content_type: "application/json",
        body: serde_json::json!({"status": "error", "error": message}).to_string(),
        headers: Vec::new(),
    }
}

/// Writes the answer; `head_only` (a HEAD request) sends the head a GET would
/// get, Content-Length included, without the body (RFC 9110 §9.3.2).
fn write_reply(
    mut w: &TcpStream,
    reply: &Reply,
    close: bool,
    head_only: bool,
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
        reply.status,
        reason(reply.status),
        reply.content_type,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        // Header values are ours, but never let one split the response.
        if !v.contains(['\r', '\n']) {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    if close {
        out.push_str("Connection: close\r\n");
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(&reply.body);
    }
    // One write: no small segments for Nagle to hold back.
    w.write_all(out.as_bytes())?;
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        403 => "Forbidden",
        409 => "Conflict",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        505 => "HTTP Version Not Supported",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A handler that panics is answered 500 and gives its connection slot
    /// back: with a cap of 2, five panics in a row leave room for a request.
    #[test]
    fn a_panicking_handler_is_answered_500_and_leaks_no_slot() {
        let server = Arc::new(Server::bind("127.0.0.1:0").unwrap());
        let addr = server.addr();
        let limits = Limits {
            max_head: 16 * 1024,
            idle_timeout: Duration::from_secs(5),
            head_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(5),
            max_connections: 2,
            max_per_ip: 2,
        };
        let handler: Arc<Handler> = Arc::new(|request: &mut Incoming| {
            assert!(request.path != "/panic", "a bug");
            error(200, "fine")
        });
        let running = {
            let server = server.clone();
            std::thread::spawn(move || server.run(&limits, handler, &Metrics::default()))
        };
        let ask = |path: &str| {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            write!(
                c,
                "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut out = String::new();
            let _ = c.read_to_string(&mut out);
            out
        };
        // The connection threads end just after their answer is written:
        // wait (bounded) for the slots to come back before the next request.
        let settled = || {
            let deadline = Instant::now() + Duration::from_secs(10);
            while server.open.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            assert_eq!(server.open.load(Ordering::SeqCst), 0, "slots leaked");
        };
        for _ in 0..5 {
            let out = ask("/panic");
            assert!(out.starts_with("HTTP/1.1 500 "), "{out}");
            settled();
        }
        assert_eq!(server.busy.load(Ordering::SeqCst), 0);
        let out = ask("/ok");
        assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
        server.stop();
        running.join().unwrap();
    }

    fn length(values: &[&str]) -> Result<usize, &'static str> {
        let headers: Vec<(String, String)> = values
            .iter()
            .map(|v| ("Content-Length".to_owned(), (*v).to_owned()))
            .collect();
        content_length(&headers)
    }

    #[test]
    fn content_length_is_digits_and_repeats_must_agree() {
        assert_eq!(length(&[]), Ok(0));
        assert_eq!(length(&["42"]), Ok(42));
        assert_eq!(length(&[" 42 "]), Ok(42));
        assert_eq!(length(&["42", "42"]), Ok(42));
        assert_eq!(
            length(&["42", "7"]),
            Err("conflicting Content-Length headers")
        );
        for bad in ["+42", "-1", "4 2", "42, 42", "0x10", "", "1e3"] {
            assert_eq!(length(&[bad]), Err("invalid Content-Length"), "{bad:?}");
        }
        assert_eq!(
            length(&["99999999999999999999999"]),
            Err("invalid Content-Length")
        );
    }
}
