//! Diagnostics: what `lint` (and every command that loads rules) reports.
//!
//! Every stage (YAML schema, Datalog, templates, cross-references) produces
//! [`Diagnostic`]s that point into a file of a [`SourceMap`]. Rendering is done
//! here and only here: miette's graphical report for humans, a stable JSON shape
//! for machines. Stages never print.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceSpan};
use serde::Serialize;

use crate::datalog::{SourceId, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding, with the file it is about and labelled spans inside it.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// A stable kebab-case name, e.g. `undefined-predicate`; shown and in JSON.
    pub code: &'static str,
    /// One lowercase sentence, no trailing period.
    pub message: String,
    /// Labels point into this file; `None` for findings about no file in particular.
    pub src: Option<SourceId>,
    pub labels: Vec<(Span, String)>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            src: None,
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Adds a labelled span; the first label decides the file.
    pub fn label(mut self, span: Span, text: impl Into<String>) -> Self {
        if self.src.is_none() {
            self.src = Some(span.src);
        }
        self.labels.push((span, text.into()));
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn in_file(mut self, src: SourceId) -> Self {
        self.src = Some(src);
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// One loaded file: its path as the user named it and its text.
#[derive(Debug)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: Arc<str>,
}

/// The files that diagnostics point into, numbered by [`SourceId`].
#[derive(Debug, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

impl SourceMap {
    pub fn add(&mut self, path: &Path, text: impl Into<Arc<str>>) -> SourceId {
        let id = SourceId(u32::try_from(self.files.len()).unwrap_or(u32::MAX));
        self.files.push(SourceFile {
            path: path.to_path_buf(),
            text: text.into(),
        });
        id
    }

    pub fn get(&self, id: SourceId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn path(&self, id: SourceId) -> Option<&Path> {
        self.get(id).map(|f| f.path.as_path())
    }

    pub fn text(&self, id: SourceId) -> &str {
        self.get(id).map(|f| &*f.text).unwrap_or("")
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, id: SourceId, offset: usize) -> (usize, usize) {
        let text = self.text(id);
        let offset = clamp_to_char_boundary(text, offset);
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn clamp_to_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A diagnostic bound to its file's text, so miette can draw it.
struct Rendered<'a> {
    diag: &'a Diagnostic,
    source: Option<NamedSource<Arc<str>>>,
    text_len: usize,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for Rendered<'_> {}

impl miette::Diagnostic for Rendered<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.diag.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Warning => miette::Severity::Warning,
            Severity::Error => miette::Severity::Error,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let len = self.text_len;
        // A span past the end of the text would make miette drop the snippet; clamp
        // instead, so a bad offset still shows the right file and line.
        Some(Box::new(self.diag.labels.iter().map(
            move |(span, text)| {
                let start = span.start.min(len);
                let end = span.end.clamp(start, len);
                LabeledSpan::new_with_span(
                    Some(text.clone()),
                    SourceSpan::from((start, end - start)),
                )
            },
        )))
    }
}

/// How diagnostics are drawn for a human.
#[derive(Debug, Clone, Copy)]
pub struct RenderStyle {
    pub color: bool,
    pub width: usize,
}

impl RenderStyle {
    /// What the snapshot tests use: no colour, a fixed width, plain ASCII-free unicode art.
    pub fn plain() -> Self {
        RenderStyle {
            color: false,
            width: 100,
        }
    }
}

/// Renders one diagnostic as miette's graphical report.
pub fn render(diag: &Diagnostic, sources: &SourceMap, style: RenderStyle) -> String {
    let source = diag
        .src
        .and_then(|id| sources.get(id))
        .map(|file| NamedSource::new(file.path.display().to_string(), file.text.clone()));
    let text_len = diag.src.map_or(0, |id| sources.text(id).len());
    let rendered = Rendered {
        diag,
        source,
        text_len,
    };
    let theme = if style.color {
        miette::GraphicalTheme::unicode()
    } else {
        miette::GraphicalTheme::unicode_nocolor()
    };
    let handler = miette::GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let mut out = String::new();
    if handler.render_report(&mut out, &rendered).is_err() {
        out = format!("{}: {}\n", diag.code, diag.message);
    }
    out
}

/// The `--format json` shape of one diagnostic. Stable: tools parse it.
#[derive(Debug, Serialize)]
pub struct JsonDiagnostic<'a> {
    pub severity: Severity,
    pub code: &'a str,
    pub message: &'a str,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub labels: Vec<JsonLabel<'a>>,
    pub help: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct JsonLabel<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub column: usize,
}

pub fn to_json<'a>(diag: &'a Diagnostic, sources: &SourceMap) -> JsonDiagnostic<'a> {
    let labels: Vec<JsonLabel<'a>> = diag
        .labels
        .iter()
        .map(|(span, text)| {
            let (line, column) = sources.line_col(span.src, span.start);
            JsonLabel {
                text,
                start: span.start,
                end: span.end,
                line,
                column,
            }
        })
        .collect();
    JsonDiagnostic {
        severity: diag.severity,
        code: diag.code,
        message: &diag.message,
        file: diag
            .src
            .and_then(|id| sources.path(id))
            .map(|p| p.display().to_string()),
        line: labels.first().map(|l| l.line),
        column: labels.first().map(|l| l.column),
        labels,
        help: diag.help.as_deref(),
    }
}
