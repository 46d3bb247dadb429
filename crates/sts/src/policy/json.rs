//! A JSON tree that keeps object members in document order and notices duplicate keys.
//!
//! `serde_json::Value` silently keeps the last of two equal keys, but IAM refuses a policy with
//! duplicate keys (`spec/aws-sts-iam.md` §4.1 "no duplicate keys"), so the grammar reads the
//! document into this tree instead. serde_json still does the tokenising (and its recursion
//! limit keeps hostile nesting from overflowing the stack).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// One JSON value, with objects as ordered member lists.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum JsonNode {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, kept as serde_json writes it (`1`, `1.5`, `-3`).
    Number(serde_json::Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<JsonNode>),
    /// An object; `duplicate_key` is set when some key appeared twice.
    Object(JsonObject),
}

/// An object's members in document order.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct JsonObject {
    /// `(key, value)` pairs as written.
    pub(crate) members: Vec<(String, JsonNode)>,
    /// Whether some key was written twice (at this level only).
    pub(crate) has_duplicate_key: bool,
}

impl JsonObject {
    /// The value of `key` (exact, case-sensitive, as IAM's grammar reads element names).
    pub(crate) fn get(&self, key: &str) -> Option<&JsonNode> {
        self.members
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }
}

impl JsonNode {
    /// Parses `text`; `None` when it is not JSON at all.
    pub(crate) fn parse(text: &str) -> Option<JsonNode> {
        serde_json::from_str(text).ok()
    }

    /// Whether this node or any node below it is an object with a duplicate key.
    pub(crate) fn contains_duplicate_key(&self) -> bool {
        match self {
            JsonNode::Object(object) => {
                object.has_duplicate_key
                    || object
                        .members
                        .iter()
                        .any(|(_, value)| value.contains_duplicate_key())
            }
            JsonNode::Array(items) => items.iter().any(JsonNode::contains_duplicate_key),
            _ => false,
        }
    }

    /// The string, if this is a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            JsonNode::String(text) => Some(text),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for JsonNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonNodeVisitor)
    }
}

/// Builds a [`JsonNode`] from serde's events.
struct JsonNodeVisitor;

impl<'de> Visitor<'de> for JsonNodeVisitor {
    type Value = JsonNode;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<JsonNode, E> {
        Ok(JsonNode::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<JsonNode, E> {
        Ok(JsonNode::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<JsonNode, E> {
        Ok(JsonNode::Number(value.into()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<JsonNode, E> {
        Ok(JsonNode::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<JsonNode, E> {
        serde_json::Number::from_f64(value)
            .map(JsonNode::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<JsonNode, E> {
        Ok(JsonNode::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<JsonNode, E> {
        Ok(JsonNode::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<JsonNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element::<JsonNode>()? {
            items.push(item);
        }
        Ok(JsonNode::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonNode, A::Error> {
        let mut object = JsonObject::default();
        while let Some((key, value)) = map.next_entry::<String, JsonNode>()? {
            if object.members.iter().any(|(existing, _)| *existing == key) {
                object.has_duplicate_key = true;
            }
            object.members.push((key, value));
        }
        Ok(JsonNode::Object(object))
    }
}

/// Writes an object member step of a JSON path: `.Name` for plain names, `["a:b/c"]` otherwise.
pub(crate) fn path_member(parent: &str, name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || character == '_');
    if plain {
        format!("{parent}.{name}")
    } else {
        let quoted = serde_json::Value::String(name.to_owned()).to_string();
        format!("{parent}[{quoted}]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_noticed_at_any_depth() {
        let node = JsonNode::parse(r#"{"a": {"b": 1, "b": 2}}"#).expect("valid JSON");
        assert!(node.contains_duplicate_key());
        let node = JsonNode::parse(r#"{"a": [{"b": 1}, {"b": 2}]}"#).expect("valid JSON");
        assert!(!node.contains_duplicate_key());
    }

    #[test]
    fn members_keep_document_order() {
        let node = JsonNode::parse(r#"{"z": 1, "a": 2}"#).expect("valid JSON");
        let JsonNode::Object(object) = node else {
            panic!("expected an object");
        };
        let keys: Vec<&str> = object.members.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["z", "a"]);
    }

    #[test]
    fn paths_quote_names_that_are_not_plain() {
        assert_eq!(path_member("$", "Statement"), "$.Statement");
        assert_eq!(
            path_member("$.Condition.StringLike", "oidc.circleci.com/org/x:sub"),
            r#"$.Condition.StringLike["oidc.circleci.com/org/x:sub"]"#
        );
    }
}
