//! Fact sources (DESIGN.md §8): reading a relation's rows from Prometheus or
//! an HTTP JSON endpoint. [`parse`] turns a response body into rows and is
//! pure; [`fetch`] does the HTTP. Deciding with the rows is the engine's.
//!
//! Any doubt about a response (not JSON, an HTML error page, an error
//! envelope, a result that is not a vector, a body over [`MAX_BODY_BYTES`],
//! a sample that is not a number) is an error for the whole refresh: the
//! relation keeps its last rows until they are stale, never a partial read.

pub mod fetch;
pub mod parse;

pub use fetch::{Fetcher, request_url};
pub use parse::{http_rows, prometheus_rows};

/// Responses larger than this are refused unread: 10,000 Prometheus series
/// are about 1.5 MB, and a source answering 10 MB is broken or hostile.
pub const MAX_BODY_BYTES: u64 = 4 * 1024 * 1024;
