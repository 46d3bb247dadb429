//! JSON parsing that refuses duplicate object members, at any depth.
//!
//! `serde_json` keeps the last of two members with the same name, while other JWT libraries keep
//! the first: a token `{"sub":"a","sub":"b"}` would then mean different things to different
//! verifiers. RFC 7515 §5.2 and RFC 7519 §7.2 let a verifier reject such input, so keyless does.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON object, rejecting duplicate member names anywhere inside it.
pub(crate) fn parse_object_without_duplicates(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = StrictValue
        .deserialize(&mut deserializer)
        .map_err(|error| error.to_string())?;
    deserializer.end().map_err(|error| error.to_string())?;
    match value {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a JSON object, found {}", kind(&other))),
    }
}

/// A short name for a JSON value's type, for error details.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Deserialises a [`Value`] like serde_json does, but fails on a repeated member name.
struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

/// The visitor behind [`StrictValue`].
struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        // serde_json never yields a non-finite float, so `from_f64` always succeeds; map the
        // impossible case to null rather than panicking.
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = members.next_key::<String>()? {
            if object.contains_key(&name) {
                return Err(de::Error::custom(format_args!("duplicate member {name:?}")));
            }
            let value = members.next_value_seed(StrictValue)?;
            object.insert(name, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_objects_and_keeps_values() {
        let map = parse_object_without_duplicates(br#"{"a":1,"b":[{"c":"d"}],"e":1.5}"#).unwrap();
        assert_eq!(map["a"], 1);
        assert_eq!(map["b"][0]["c"], "d");
        assert_eq!(map["e"], 1.5);
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        for input in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":{"b":1,"b":1}}"#,
            br#"{"a":[{"b":1,"b":2}]}"#,
            br#"{"sub":"x","s\u0075b":"y"}"#,
        ] {
            let error = parse_object_without_duplicates(input).unwrap_err();
            assert!(error.contains("duplicate member"), "{error}");
        }
    }

    #[test]
    fn rejects_non_objects_and_trailing_input() {
        assert!(parse_object_without_duplicates(b"[1]").is_err());
        assert!(parse_object_without_duplicates(b"\"x\"").is_err());
        assert!(parse_object_without_duplicates(b"{} {}").is_err());
        assert!(parse_object_without_duplicates(b"{").is_err());
        assert!(parse_object_without_duplicates(b"").is_err());
    }
}
