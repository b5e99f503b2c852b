//! Reading a parsed JSON body field by field, with errors that name the field.
//!
//! The built-in mappings walk a `serde_json::Value` by hand rather than deriving
//! `Deserialize`: serde's messages say "invalid type: string, expected a map at
//! line 1 column 212" and never which field, and a sender's owner needs the field.
//! A field that is absent or `null` counts as absent; a field with the wrong type
//! is an error even when resgate would not use it, since it means the sender is
//! not speaking the format we think it is.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::error::{At, Field, MapError, shorten};
use super::time;

/// Parses the body; any syntax error, cut-off body or nesting deeper than
/// serde_json's recursion limit (128) is [`MapError::NotJson`].
pub(super) fn parse(at: At<'_>, body: &[u8]) -> Result<Value, MapError> {
    serde_json::from_slice(body).map_err(|e| {
        // serde_json's Display appends " at line L column C"; keep the reason only.
        let full = e.to_string();
        let suffix = format!(" at line {} column {}", e.line(), e.column());
        let reason = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
        MapError::NotJson {
            at: at.place(),
            reason,
            line: e.line(),
            column: e.column(),
        }
    })
}

/// How a value is shown in a message: scalars as (shortened) JSON text, so
/// `"open"`, `3` or `null`; containers by kind, since they can be huge.
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        scalar => shorten(&scalar.to_string()),
    }
}

/// A JSON object being read, with the path that leads to it for messages.
pub(super) struct Obj<'v, 'a> {
    at: At<'a>,
    /// `""` at the top of the body (or of one alert), else `event.data` and the like.
    path: String,
    map: &'v Map<String, Value>,
}

impl<'v, 'a> Obj<'v, 'a> {
    /// The body itself, which must be an object.
    pub fn body(at: At<'a>, value: &'v Value) -> Result<Self, MapError> {
        match value {
            Value::Object(map) => Ok(Obj {
                at,
                path: String::new(),
                map,
            }),
            other => Err(at.shape(Field::body(), describe(other), "an object")),
        }
    }

    /// Element `index` of the array `array` (an alert), which must be an object.
    /// Errors about its fields carry the index as the alert's place and name
    /// the fields from the element down (`labels`, not `alerts[2].labels`).
    pub fn element(
        at: At<'a>,
        array: &str,
        index: usize,
        value: &'v Value,
    ) -> Result<Self, MapError> {
        match value {
            Value::Object(map) => Ok(Obj {
                at: at.alert(index),
                path: String::new(),
                map,
            }),
            other => Err(at.shape(
                Field::named(format!("{array}[{index}]")),
                describe(other),
                "an object",
            )),
        }
    }

    pub fn at(&self) -> At<'a> {
        self.at
    }

    /// The field's name for messages: its path from the top.
    pub fn field(&self, name: &str) -> Field {
        Field::named(self.path_of(name))
    }

    fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// The field's value, `None` when absent or `null`.
    pub fn get(&self, name: &str) -> Option<&'v Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// An error for a required field that is absent or `null`.
    pub fn missing(&self, name: &str, expected: &'static str) -> MapError {
        self.at.shape(self.field(name), "missing", expected)
    }

    /// An error for a field whose value is not what the format allows.
    pub fn wrong(&self, name: &str, found: &Value, expected: &'static str) -> MapError {
        self.at.shape(self.field(name), describe(found), expected)
    }

    pub fn opt_str(&self, name: &str) -> Result<Option<&'v str>, MapError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong(name, other, "a string")),
        }
    }

    pub fn str(&self, name: &str) -> Result<&'v str, MapError> {
        self.opt_str(name)?
            .ok_or_else(|| self.missing(name, "a string"))
    }

    pub fn opt_u64(&self, name: &str) -> Result<Option<u64>, MapError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.wrong(name, v, "a whole number")),
        }
    }

    pub fn opt_obj(&self, name: &str) -> Result<Option<Obj<'v, 'a>>, MapError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Obj {
                at: self.at,
                path: self.path_of(name),
                map,
            })),
            Some(other) => Err(self.wrong(name, other, "an object")),
        }
    }

    pub fn obj(&self, name: &str) -> Result<Obj<'v, 'a>, MapError> {
        self.opt_obj(name)?
            .ok_or_else(|| self.missing(name, "an object"))
    }

    pub fn array(&self, name: &str) -> Result<&'v [Value], MapError> {
        match self.get(name) {
            None => Err(self.missing(name, "an array")),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.wrong(name, other, "an array")),
        }
    }

    /// A map of string to string (labels, annotations); absent is empty.
    pub fn strings(&self, name: &str) -> Result<BTreeMap<String, String>, MapError> {
        let Some(map) = self.opt_obj(name)? else {
            return Ok(BTreeMap::new());
        };
        map.map
            .iter()
            .map(|(key, value)| match value {
                Value::String(s) => Ok((key.clone(), s.clone())),
                other => {
                    Err(self
                        .at
                        .shape(Field::key(&map.path, key), describe(other), "a string"))
                }
            })
            .collect()
    }

    /// A map of strings that must be present: an alert's labels.
    pub fn required_strings(&self, name: &str) -> Result<BTreeMap<String, String>, MapError> {
        if self.get(name).is_none() {
            return Err(self.missing(name, "an object"));
        }
        self.strings(name)
    }

    /// An RFC 3339 timestamp; absent is `None`.
    pub fn opt_time(&self, name: &str) -> Result<Option<Timestamp>, MapError> {
        let Some(text) = self.opt_str(name)? else {
            return Ok(None);
        };
        time::parse(text)
            .map(Some)
            .map_err(|reason| MapError::Timestamp {
                at: self.at.place(),
                field: self.field(name),
                value: describe(&Value::String(text.to_owned())),
                reason,
            })
    }
}
