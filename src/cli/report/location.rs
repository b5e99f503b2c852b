//! Where a diagnostic points, in the line/column terms annotation formats use.

use crate::datalog::Span;
use crate::diag::{Diagnostic, SourceMap};

/// A diagnostic's file and the region of its first label: 1-based lines,
/// columns in characters, the end just past the last character.
pub struct Location {
    pub file: String,
    pub region: Option<Region>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub start_line: usize,
    pub start_column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

pub fn of(diag: &Diagnostic, sources: &SourceMap) -> Option<Location> {
    let src = diag.src?;
    let file = sources.path(src)?.display().to_string();
    let region = diag
        .labels
        .iter()
        .find(|(span, _)| span.src == src)
        .map(|(span, _)| region(sources, *span));
    Some(Location { file, region })
}

/// The lines and columns a span covers in its file.
pub fn region(sources: &SourceMap, span: Span) -> Region {
    let (start_line, start_column) = sources.line_col(span.src, span.start);
    let (end_line, end_column) = sources.line_col(span.src, span.end.max(span.start));
    Region {
        start_line,
        start_column,
        end_line,
        end_column,
    }
}

/// The message with its help line, as one text for formats that have a
/// single message field.
pub fn message(diag: &Diagnostic) -> String {
    match &diag.help {
        Some(help) => format!("{}\nhelp: {help}", diag.message),
        None => diag.message.clone(),
    }
}
