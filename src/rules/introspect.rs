//! The JSON Schema of a YAML file type, read off the very `Deserialize` impl
//! the loader runs, so the schema cannot drift from what loads.
//!
//! A tracing deserializer drives `T::deserialize` and notes what each place
//! asks for: a struct's fields, a sequence, a map, a string, an enum's
//! variants, an `Option`. Whether a field is required is found the same way:
//! the trace is run again without that field, and the derive either fills a
//! default or reports the field missing. Two places ask for "any value"
//! (`deserialize_any`): a request body (any YAML value), and the untagged
//! alert reference of a test's state (a path or `{labels}`); their schemas
//! are given here by path. Everything else comes from the types.
//!
//! This describes syntax only; `resgate lint` checks meaning (references,
//! Datalog, templates, durations).

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::{Value, json};

/// What one place of the document holds.
#[derive(Debug, Clone)]
enum Node {
    Bool,
    Int,
    UInt,
    Float,
    Str,
    Null,
    Seq,
    Tuple(usize),
    /// `nullable`: serde-saphyr's empty section (`remediations:`) is accepted.
    Map {
        nullable: bool,
    },
    Struct(&'static [&'static str]),
    Enum(&'static [&'static str]),
    Given(Value),
}

#[derive(Default)]
struct Trace {
    nodes: BTreeMap<String, Node>,
    nullable: BTreeSet<String>,
    /// (struct path, field) left out of this run.
    omit: Option<(String, &'static str)>,
}

struct Ctx<'a> {
    trace: RefCell<Trace>,
    given: &'a [(&'a str, Value)],
}

#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

#[derive(Clone, Copy)]
struct Tracer<'c, 'a> {
    ctx: &'c Ctx<'a>,
    path: &'c str,
    /// Inside serde-saphyr's `Spanned<T>`: its next `deserialize_any` wants
    /// the span-aware map, whose `value` is the T to trace.
    spanned: bool,
    /// Locations of a span: traced to satisfy the impl, not recorded.
    muted: bool,
}

/// serde-saphyr's private markers for `Spanned<T>` (its src/spanned.rs): the
/// newtype name it asks for and the first key of the map it expects.
const SPANNED_NEWTYPE: &str = "__yaml_spanned";
const SPANNED_MARKER: &str = "__serde_saphyr_private_spanned";

impl<'c, 'a> Tracer<'c, 'a> {
    fn note(&self, node: Node) {
        if !self.muted {
            self.ctx
                .trace
                .borrow_mut()
                .nodes
                .insert(self.path.to_owned(), node);
        }
    }

    fn at(&self, path: &'c str) -> Self {
        Tracer {
            path,
            spanned: false,
            ..*self
        }
    }
}

fn leak(s: String) -> &'static str {
    // Paths live as long as one trace; a handful of short strings per run.
    Box::leak(s.into_boxed_str())
}

macro_rules! scalar {
    ($($method:ident => $node:expr, $visit:ident($value:expr);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                self.note($node);
                visitor.$visit($value)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Tracer<'_, '_> {
    type Error = Error;

    scalar! {
        deserialize_bool => Node::Bool, visit_bool(false);
        deserialize_i8 => Node::Int, visit_i8(0);
        deserialize_i16 => Node::Int, visit_i16(0);
        deserialize_i32 => Node::Int, visit_i32(0);
        deserialize_i64 => Node::Int, visit_i64(0);
        deserialize_u8 => Node::UInt, visit_u8(0);
        deserialize_u16 => Node::UInt, visit_u16(0);
        deserialize_u32 => Node::UInt, visit_u32(0);
        deserialize_u64 => Node::UInt, visit_u64(0);
        deserialize_f32 => Node::Float, visit_f32(0.0);
        deserialize_f64 => Node::Float, visit_f64(0.0);
        deserialize_char => Node::Str, visit_char('x');
        deserialize_str => Node::Str, visit_str("");
        deserialize_string => Node::Str, visit_string(String::new());
        deserialize_bytes => Node::Str, visit_str("");
        deserialize_byte_buf => Node::Str, visit_str("");
        deserialize_identifier => Node::Str, visit_str("");
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Node::Null);
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if !self.muted {
            self.ctx
                .trace
                .borrow_mut()
                .nullable
                .insert(self.path.to_owned());
        }
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(Tracer {
            spanned: name == SPANNED_NEWTYPE,
            ..self
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.note(Node::Seq);
        let item = leak(format!("{}[]", self.path));
        visitor.visit_seq(Many {
            items: vec![self.at(item)].into_iter(),
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        self.note(Node::Tuple(len));
        let items: Vec<Tracer<'_, '_>> = (0..len)
            .map(|i| self.at(leak(format!("{}[{i}]", self.path))))
            .collect();
        visitor.visit_seq(Many {
            items: items.into_iter(),
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.map(visitor, false)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.note(Node::Struct(fields));
        let omit = self.ctx.trace.borrow().omit.clone();
        let entries: Vec<(Key<'_, '_>, Tracer<'_, '_>)> = fields
            .iter()
            .filter(|f| omit.as_ref() != Some(&(self.path.to_owned(), **f)))
            .map(|f| (Key::Name(f), self.at(leak(format!("{}.{f}", self.path)))))
            .collect();
        visitor.visit_map(Entries {
            entries: entries.into_iter(),
            value: None,
        })
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.note(Node::Enum(variants));
        let first = variants.first().copied().unwrap_or_default();
        visitor.visit_enum(de::value::StrDeserializer::<Error>::new(first))
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        if self.spanned {
            let value = self.at(self.path);
            let location = Tracer {
                muted: true,
                ..value
            };
            return visitor.visit_map(Spanned {
                step: 0,
                value,
                location,
            });
        }
        if let Some((_, schema)) = self.ctx.given.iter().find(|(p, _)| *p == self.path) {
            self.note(Node::Given(schema.clone()));
            // A string is one of the values each such place takes.
            return visitor.visit_str("");
        }
        // A type that reads itself as any value nests without end: stop.
        if self.path.len() > 512 {
            return Err(Error(format!(
                "{} takes any value; give its schema",
                self.path
            )));
        }
        // Otherwise a mapping read entry by entry (rules' `Entries`).
        self.map(visitor, true)
    }
}

impl<'c, 'a> Tracer<'c, 'a> {
    fn map<'de, V: Visitor<'de>>(self, visitor: V, nullable: bool) -> Result<V::Value, Error> {
        self.note(Node::Map { nullable });
        let value = self.at(leak(format!("{}{{}}", self.path)));
        // The key is traced too (muted): `Entries` reads `Spanned<String>` keys.
        let key = Tracer {
            muted: true,
            ..value
        };
        visitor.visit_map(Entries {
            entries: vec![(Key::Traced(key), value)].into_iter(),
            value: None,
        })
    }
}

/// A sequence's (one) or a tuple's items, each traced.
struct Many<'c, 'a> {
    items: std::vec::IntoIter<Tracer<'c, 'a>>,
}

impl<'de> de::SeqAccess<'de> for Many<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.items.next().map(|t| seed.deserialize(t)).transpose()
    }
}

/// A mapping key: a struct's field name, or a map key of whatever type.
enum Key<'c, 'a> {
    Name(&'static str),
    Traced(Tracer<'c, 'a>),
}

/// A mapping whose values are traced.
struct Entries<'c, 'a, I: Iterator<Item = (Key<'c, 'a>, Tracer<'c, 'a>)>> {
    entries: I,
    value: Option<Tracer<'c, 'a>>,
}

impl<'de, 'c, 'a, I: Iterator<Item = (Key<'c, 'a>, Tracer<'c, 'a>)>> de::MapAccess<'de>
    for Entries<'c, 'a, I>
{
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, tracer)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(tracer);
        match key {
            Key::Name(name) => seed.deserialize(name.into_deserializer()).map(Some),
            Key::Traced(tracer) => seed.deserialize(tracer).map(Some),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let tracer = self
            .value
            .take()
            .ok_or_else(|| Error("value before key".into()))?;
        seed.deserialize(tracer)
    }
}

/// serde-saphyr's span-aware map: the marker, then `value`, `referenced`, `defined`.
struct Spanned<'c, 'a> {
    step: usize,
    value: Tracer<'c, 'a>,
    location: Tracer<'c, 'a>,
}

const SPANNED_KEYS: [&str; 4] = [SPANNED_MARKER, "value", "referenced", "defined"];

impl<'de> de::MapAccess<'de> for Spanned<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some(key) = SPANNED_KEYS.get(self.step) else {
            return Ok(None);
        };
        self.step += 1;
        seed.deserialize((*key).into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.step {
            2 => seed.deserialize(self.value),
            _ => seed.deserialize(self.location),
        }
    }
}

/// Runs one trace of `T`.
fn run<'de, T: Deserialize<'de>>(ctx: &Ctx<'_>) -> Result<(), Error> {
    T::deserialize(Tracer {
        ctx,
        path: "",
        spanned: false,
        muted: false,
    })
    .map(drop)
}

/// The JSON Schema (draft 2020-12) of the YAML documents `T` reads.
/// `given`: the schema of each place that takes any value, by path.
pub fn schema_of<T: for<'de> Deserialize<'de>>(
    title: &str,
    given: &[(&str, Value)],
) -> Result<Value, String> {
    let ctx = Ctx {
        trace: RefCell::new(Trace::default()),
        given,
    };
    run::<T>(&ctx).map_err(|e| format!("cannot trace {title}: {e}"))?;
    let full = ctx.trace.take();
    // Which fields are required: trace again without each one.
    let mut required: BTreeSet<(String, &'static str)> = BTreeSet::new();
    for (path, node) in &full.nodes {
        let Node::Struct(fields) = node else { continue };
        for field in *fields {
            ctx.trace.replace(Trace {
                omit: Some((path.clone(), field)),
                ..Trace::default()
            });
            if let Err(e) = run::<T>(&ctx)
                && e.0 == format!("missing field `{field}`")
            {
                required.insert((path.clone(), field));
            }
        }
    }
    let mut root = build(&full, &required, "");
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    root["title"] = json!(title);
    Ok(root)
}

fn build(trace: &Trace, required: &BTreeSet<(String, &'static str)>, path: &str) -> Value {
    let schema = match trace.nodes.get(path) {
        None => json!({}),
        Some(Node::Bool) => json!({"type": "boolean"}),
        Some(Node::Int) => json!({"type": "integer"}),
        Some(Node::UInt) => json!({"type": "integer", "minimum": 0}),
        Some(Node::Float) => json!({"type": "number"}),
        // serde-saphyr reads a plain scalar into a string as written
        // (`warmup: 5` is the string "5", which lint then checks).
        Some(Node::Str) => json!({"type": ["string", "number", "boolean"]}),
        Some(Node::Null) => json!({"type": "null"}),
        Some(Node::Seq) => {
            json!({"type": "array", "items": build(trace, required, &format!("{path}[]"))})
        }
        Some(Node::Tuple(len)) => {
            let items: Vec<Value> = (0..*len)
                .map(|i| build(trace, required, &format!("{path}[{i}]")))
                .collect();
            json!({"type": "array", "prefixItems": items, "minItems": len, "maxItems": len})
        }
        Some(Node::Map { nullable }) => {
            let values = build(trace, required, &format!("{path}{{}}"));
            if *nullable {
                json!({"type": ["object", "null"], "additionalProperties": values})
            } else {
                json!({"type": "object", "additionalProperties": values})
            }
        }
        Some(Node::Struct(fields)) => {
            let properties: serde_json::Map<String, Value> = fields
                .iter()
                .map(|f| {
                    (
                        (*f).to_owned(),
                        build(trace, required, &format!("{path}.{f}")),
                    )
                })
                .collect();
            let needed: Vec<&str> = fields
                .iter()
                .filter(|f| required.contains(&(path.to_owned(), **f)))
                .copied()
                .collect();
            json!({
                "type": "object",
                "properties": properties,
                "required": needed,
                "additionalProperties": false,
            })
        }
        Some(Node::Enum(variants)) => json!({"enum": variants}),
        Some(Node::Given(schema)) => schema.clone(),
    };
    if trace.nullable.contains(path) {
        json!({"anyOf": [schema, {"type": "null"}]})
    } else {
        schema
    }
}

/// The JSON Schema of a rule file (`rules/*.yaml`).
pub fn rule_file() -> Result<Value, String> {
    // A request body is any YAML value (templated strings inside).
    schema_of::<super::schema::RuleFile>(
        "resgate rule file",
        &[(".remediations{}.body", json!({}))],
    )
}
