//! Why a payload could not be mapped to alerts.
//!
//! Every message names the source, the alert (by its 0-based position in the
//! payload) when there is one, and the field, so the sender's owner can find the
//! fault without reading resgate's code: `source "legacy": alert 2: \`status\`
//! yielded "open", expected "firing" or "resolved"`. Values from the payload are
//! shown as JSON text, escaped and shortened, so a hostile body cannot put
//! control characters or megabytes into a log line.

use std::fmt;

use miette::Diagnostic;
use thiserror::Error;

/// A payload that cannot be mapped. `serve` answers 400 with the message.
#[derive(Debug, Clone, PartialEq, Eq, Error, Diagnostic)]
pub enum MapError {
    /// The body is not JSON at all, or is cut short (serde_json's reason and position).
    #[error("{at}: the body is not JSON: {reason} at line {line}, column {column}")]
    NotJson {
        at: Place,
        reason: String,
        line: usize,
        column: usize,
    },

    /// A payload field is missing, has the wrong JSON type, or holds a value the
    /// sender's format does not allow (an Alertmanager `version` other than "4",
    /// a `status` other than firing or resolved).
    #[error("{at}: {field} is {found}, expected {expected}")]
    Shape {
        at: Place,
        field: Field,
        /// The value as JSON text (scalars) or its kind (`an object`), or `missing`.
        found: String,
        expected: &'static str,
    },

    /// A JMESPath expression of a `kind: jmespath` source yielded something its
    /// field cannot use (`alerts` not an array, `status` not firing/resolved, ...).
    #[error("{at}: {field} yielded {found}, expected {expected}")]
    Yielded {
        at: Place,
        field: Field,
        found: String,
        expected: &'static str,
    },

    /// A JMESPath expression failed while evaluating, e.g. a function was given
    /// an argument of the wrong type for this payload.
    #[error("{at}: {field} failed: {reason}")]
    Eval {
        at: Place,
        field: Field,
        reason: String,
    },

    /// A timestamp string that does not parse as RFC 3339 with an offset.
    #[error("{at}: {field} is {value}, expected an RFC 3339 timestamp ({reason})")]
    Timestamp {
        at: Place,
        field: Field,
        /// The string as JSON text.
        value: String,
        reason: String,
    },

    /// An alert whose label set is empty (or whose labels all mapped to null).
    /// Refused: no matcher could select it, and every such alert would share
    /// one fingerprint.
    #[error("{at} has no labels")]
    NoLabels { at: Place },
}

impl MapError {
    /// Where in the payload the error is.
    pub fn place(&self) -> &Place {
        match self {
            MapError::NotJson { at, .. }
            | MapError::Shape { at, .. }
            | MapError::Yielded { at, .. }
            | MapError::Eval { at, .. }
            | MapError::Timestamp { at, .. }
            | MapError::NoLabels { at } => at,
        }
    }
}

/// The source and, for errors inside one alert, its 0-based index in the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub source: String,
    pub alert: Option<usize>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "source {:?}", self.source)?;
        if let Some(i) = self.alert {
            write!(f, ": alert {i}")?;
        }
        Ok(())
    }
}

/// The part of the payload, or of a JMESPath mapping, an error is about, as
/// shown in the message: `the body`, `` `alerts` ``, `` `event.data.title` ``,
/// `` `labels` key "severity" ``.
///
/// Kept as its rendered text: nothing needs the parts, and one string keeps
/// [`MapError`] small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field(String);

impl Field {
    /// The whole body.
    pub fn body() -> Self {
        Field("the body".to_owned())
    }

    /// A payload field by its path (`alerts`, `event.data.title`) or a mapping
    /// key (`status`).
    pub fn named(name: impl fmt::Display) -> Self {
        Field(format!("`{name}`"))
    }

    /// One key of the map at `name`. Debug quoting escapes whatever the sender
    /// put in the key.
    pub fn key(name: impl fmt::Display, key: &str) -> Self {
        Field(format!("`{name}` key {:?}", shorten(key)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Longest value or key, in characters, quoted in a message.
const MAX_SHOWN: usize = 80;

/// Cuts `text` to [`MAX_SHOWN`] characters, marking the cut with `…`.
pub(super) fn shorten(text: &str) -> String {
    let mut chars = text.chars();
    let mut short: String = chars.by_ref().take(MAX_SHOWN).collect();
    if chars.next().is_some() {
        short.push('…');
    }
    short
}

/// Where an error happens, borrowed while mapping: becomes a [`Place`].
#[derive(Debug, Clone, Copy)]
pub(super) struct At<'a> {
    pub source: &'a str,
    pub alert: Option<usize>,
}

impl<'a> At<'a> {
    pub fn source(source: &'a str) -> Self {
        At {
            source,
            alert: None,
        }
    }

    pub fn alert(self, index: usize) -> Self {
        At {
            alert: Some(index),
            ..self
        }
    }

    pub fn place(self) -> Place {
        Place {
            source: self.source.to_owned(),
            alert: self.alert,
        }
    }

    pub fn shape(self, field: Field, found: impl Into<String>, expected: &'static str) -> MapError {
        MapError::Shape {
            at: self.place(),
            field,
            found: found.into(),
            expected,
        }
    }

    pub fn yielded(
        self,
        field: Field,
        found: impl Into<String>,
        expected: &'static str,
    ) -> MapError {
        MapError::Yielded {
            at: self.place(),
            field,
            found: found.into(),
            expected,
        }
    }

    pub fn no_labels(self) -> MapError {
        MapError::NoLabels { at: self.place() }
    }
}
