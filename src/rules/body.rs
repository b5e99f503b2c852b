//! A remediation's `body:`: YAML that becomes the JSON sent to the remediator.
//!
//! Every string leaf is a template. The tree keeps each leaf's location so a bad
//! template is reported where it is written, and the JSON is built as a value,
//! never by pasting text, so label values cannot break out of it.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

#[derive(Debug, Clone)]
pub enum BodyNode {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A template; rendered per decision.
    Text(String),
    List(Vec<Spanned<BodyNode>>),
    Map(Vec<(String, Spanned<BodyNode>)>),
}

impl<'de> Deserialize<'de> for BodyNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;

        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = BodyNode;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML value")
            }

            fn visit_unit<E>(self) -> Result<BodyNode, E> {
                Ok(BodyNode::Null)
            }

            fn visit_none<E>(self) -> Result<BodyNode, E> {
                Ok(BodyNode::Null)
            }

            fn visit_bool<E>(self, v: bool) -> Result<BodyNode, E> {
                Ok(BodyNode::Bool(v))
            }

            fn visit_i64<E>(self, v: i64) -> Result<BodyNode, E> {
                Ok(BodyNode::Int(v))
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<BodyNode, E> {
                i64::try_from(v)
                    .map(BodyNode::Int)
                    .map_err(|_| E::custom("integer is too large for a JSON body"))
            }

            fn visit_f64<E>(self, v: f64) -> Result<BodyNode, E> {
                Ok(BodyNode::Float(v))
            }

            fn visit_str<E>(self, v: &str) -> Result<BodyNode, E> {
                Ok(BodyNode::Text(v.to_owned()))
            }

            fn visit_string<E>(self, v: String) -> Result<BodyNode, E> {
                Ok(BodyNode::Text(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<BodyNode, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Spanned<BodyNode>>()? {
                    items.push(item);
                }
                Ok(BodyNode::List(items))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BodyNode, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value = map.next_value::<Spanned<BodyNode>>()?;
                    entries.push((key, value));
                }
                Ok(BodyNode::Map(entries))
            }
        }

        deserializer.deserialize_any(NodeVisitor)
    }
}

impl BodyNode {
    /// Calls `f` on every template leaf with its location.
    pub fn for_each_text<'a>(
        node: &'a Spanned<BodyNode>,
        f: &mut impl FnMut(&'a Spanned<BodyNode>, &'a str),
    ) {
        match &node.value {
            BodyNode::Text(text) => f(node, text),
            BodyNode::List(items) => items.iter().for_each(|item| Self::for_each_text(item, f)),
            BodyNode::Map(entries) => entries.iter().for_each(|(_, v)| Self::for_each_text(v, f)),
            BodyNode::Null | BodyNode::Bool(_) | BodyNode::Int(_) | BodyNode::Float(_) => {}
        }
    }
}
