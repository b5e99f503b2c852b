//! Where and how the CLI writes: colour only on a terminal and never with
//! `NO_COLOR`, results to stdout, diagnostics to stderr.

use std::io::{IsTerminal, Write};

use crate::diag::{self, Diagnostic, RenderStyle, SourceMap};

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub color: bool,
}

impl Output {
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            color: !no_color && std::io::stderr().is_terminal(),
        }
    }

    pub fn style(&self) -> RenderStyle {
        RenderStyle {
            color: self.color,
            width: 100,
        }
    }

    /// Draws diagnostics on stderr, each with its file and span.
    pub fn diagnostics(&self, diags: &[Diagnostic], sources: &SourceMap) {
        let mut err = std::io::stderr().lock();
        for d in diags {
            let _ = write!(err, "{}", diag::render(d, sources, self.style()));
        }
    }
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
pub fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.trim_end().to_owned() + "\n"
    };
    let mut out = line(header);
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    out
}
