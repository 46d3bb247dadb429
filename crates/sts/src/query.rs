//! The AWS Query protocol's request side (spec `aws-sts-iam.md` §1): form parameters from a
//! `POST /` body or a `GET` query string, the `Name.member.N` list encoding, and the typed
//! readers every action uses to enforce its model constraints server-side (clients check almost
//! nothing, §2.1), reporting Coral-style `ValidationError`s.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::{AwsError, Violations};

/// The AWS service an operation belongs to: decides the API version, the XML namespace and the
/// SigV4 signing name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// AWS Identity and Access Management, API version 2010-05-08.
    Iam,
    /// AWS Security Token Service, API version 2011-06-15.
    Sts,
}

impl Service {
    /// The `Version` parameter value (spec §1).
    pub fn api_version(self) -> &'static str {
        match self {
            Service::Iam => "2010-05-08",
            Service::Sts => "2011-06-15",
        }
    }

    /// The XML namespace of responses and errors (spec §1, botocore model `xmlNamespace`).
    pub fn xml_namespace(self) -> &'static str {
        match self {
            Service::Iam => "https://iam.amazonaws.com/doc/2010-05-08/",
            Service::Sts => "https://sts.amazonaws.com/doc/2011-06-15/",
        }
    }

    /// The service name in the SigV4 credential scope (spec §6.2).
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::Iam => "iam",
            Service::Sts => "sts",
        }
    }

    /// The service whose API version `version` is, if any.
    pub fn from_api_version(version: &str) -> Option<Service> {
        [Service::Iam, Service::Sts]
            .into_iter()
            .find(|service| service.api_version() == version)
    }
}

/// The name/value pairs of `application/x-www-form-urlencoded` bytes, decoded exactly as
/// `form_urlencoded::parse` decodes them (empty pieces skipped, a piece without `=` has an
/// empty value, `+` is a space, `%XX` a byte, invalid UTF-8 replaced), but a component with
/// neither `+` nor `%` (a web identity token, most names) is taken as it is instead of being
/// walked byte by byte twice: that walk was 6 % of an AssumeRoleWithWebIdentity call's
/// instructions (docs/benchmarks.md).
fn form_pairs(encoded: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    encoded
        .split(|byte| *byte == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|byte| *byte == b'=') {
                Some(equals) => (&piece[..equals], &piece[equals + 1..]),
                None => (piece, &[][..]),
            };
            (decode_component(name), decode_component(value))
        })
}

fn decode_component(bytes: &[u8]) -> Cow<'_, str> {
    if !bytes.iter().any(|byte| matches!(byte, b'+' | b'%')) {
        return String::from_utf8_lossy(bytes);
    }
    let spaced: Vec<u8> = bytes
        .iter()
        .map(|byte| if *byte == b'+' { b' ' } else { *byte })
        .collect();
    Cow::Owned(
        percent_encoding::percent_decode(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// The decoded form parameters of one Query request. A repeated name keeps its first value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    values: BTreeMap<String, String>,
}

impl QueryParams {
    /// Decodes `application/x-www-form-urlencoded` bytes (a body or a query string).
    pub fn parse(encoded: &[u8]) -> QueryParams {
        let mut values = BTreeMap::new();
        for (name, value) in form_pairs(encoded) {
            values
                .entry(name.into_owned())
                .or_insert_with(|| value.into_owned());
        }
        QueryParams { values }
    }

    /// Decodes like [`QueryParams::parse`], but refuses a name given more than once: two
    /// readings of one request (first value or last) must never be possible.
    pub fn parse_unique(encoded: &[u8]) -> Result<QueryParams, RepeatedParameter> {
        let mut params = QueryParams::default();
        for (name, value) in form_pairs(encoded) {
            params.insert_new(name.into_owned(), value.into_owned())?;
        }
        Ok(params)
    }

    /// Adds the parameters of `other` that this one lacks (query string plus body).
    pub fn merge_missing(&mut self, other: QueryParams) {
        for (name, value) in other.values {
            self.values.entry(name).or_insert(value);
        }
    }

    /// Adds every parameter of `other`, refusing a name both hold (query string plus body).
    pub fn merge_disjoint(&mut self, other: QueryParams) -> Result<(), RepeatedParameter> {
        for (name, value) in other.values {
            self.insert_new(name, value)?;
        }
        Ok(())
    }

    fn insert_new(&mut self, name: String, value: String) -> Result<(), RepeatedParameter> {
        match self.values.entry(name) {
            std::collections::btree_map::Entry::Occupied(entry) => {
                Err(RepeatedParameter(entry.key().clone()))
            }
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(value);
                Ok(())
            }
        }
    }

    /// The raw value of a top-level parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A list parameter in `Name.member.N` form (1-based, contiguous). `Name=` with an empty
    /// value (how botocore sends an empty list) is `Some(vec![])`; absence is `None`.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        let mut items = Vec::new();
        for index in 1.. {
            match self.values.get(&format!("{name}.member.{index}")) {
                Some(value) => items.push(value.clone()),
                None => break,
            }
        }
        if items.is_empty() && !self.values.contains_key(name) {
            return None;
        }
        Some(items)
    }

    /// The `field` of each structure in the list `name` (`Name.member.N.field`, 1-based, in
    /// order, stopping at the first gap).
    pub fn list_of_fields(&self, name: &str, field: &str) -> Vec<String> {
        (1..)
            .map_while(|index| self.get(&format!("{name}.member.{index}.{field}")))
            .map(str::to_owned)
            .collect()
    }

    /// A list of `{Key, Value}` structures (`Tags.member.N.Key`, `Tags.member.N.Value`).
    pub fn tags(&self, name: &str) -> Vec<(Option<String>, Option<String>)> {
        let mut tags = Vec::new();
        for index in 1.. {
            let key = self.values.get(&format!("{name}.member.{index}.Key"));
            let value = self.values.get(&format!("{name}.member.{index}.Value"));
            if key.is_none() && value.is_none() {
                break;
            }
            tags.push((key.cloned(), value.cloned()));
        }
        tags
    }
}

/// A parameter name a request gives more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedParameter(pub String);

/// Reads parameters of one action and records every constraint they break, so a request with
/// several bad members gets one `ValidationError` naming them all (spec §1).
#[derive(Debug)]
pub struct ParamReader<'a> {
    params: &'a QueryParams,
    violations: Violations,
}

impl<'a> ParamReader<'a> {
    /// A reader over `params`.
    pub fn new(params: &'a QueryParams) -> Self {
        ParamReader {
            params,
            violations: Violations::new(),
        }
    }

    /// A required string; `None` (and a "must not be null" violation) when absent.
    pub fn required(&mut self, name: &str, member: &str) -> Option<&'a str> {
        let value = self.params.get(name);
        if value.is_none() {
            self.violations.push(None, member, "not be null");
        }
        value
    }

    /// An optional string.
    pub fn optional(&mut self, name: &str) -> Option<&'a str> {
        self.params.get(name)
    }

    /// Checks a string's length (in characters) against the model's bounds.
    pub fn check_length(&mut self, value: &str, member: &str, min: usize, max: usize) {
        let length = value.chars().count();
        if length < min {
            self.violations.push(
                Some(value),
                member,
                &format!("have length greater than or equal to {min}"),
            );
        }
        if length > max {
            self.violations.push(
                Some(value),
                member,
                &format!("have length less than or equal to {max}"),
            );
        }
    }

    /// Records a pattern violation when `matches` is false; `pattern` is the model's regex text.
    pub fn check_pattern(&mut self, value: &str, member: &str, matches: bool, pattern: &str) {
        if !matches {
            self.violations.push(
                Some(value),
                member,
                &format!("satisfy regular expression pattern: {pattern}"),
            );
        }
    }

    /// An optional integer within `min..=max`. A value that is not an integer is reported too.
    pub fn optional_integer(
        &mut self,
        name: &str,
        member: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        let text = self.params.get(name)?;
        let Ok(value) = text.trim().parse::<i64>() else {
            self.violations.push(Some(text), member, "be an integer");
            return None;
        };
        if value < min {
            self.violations.push(
                Some(text),
                member,
                &format!("have value greater than or equal to {min}"),
            );
        }
        if value > max {
            self.violations.push(
                Some(text),
                member,
                &format!("have value less than or equal to {max}"),
            );
        }
        Some(value)
    }

    /// A list whose count must be at most `max_items`; each item is returned for the caller's
    /// own member checks (member name `member.N.member`, 1-based, as Coral names list items).
    pub fn list(&mut self, name: &str, member: &str, max_items: usize) -> Option<Vec<String>> {
        let items = self.params.list(name)?;
        if items.len() > max_items {
            self.violations.push(
                Some(&format!("[{}]", items.join(", "))),
                member,
                &format!("have length less than or equal to {max_items}"),
            );
        }
        Some(items)
    }

    /// Records an arbitrary violation (for rules the helpers above do not cover).
    pub fn violation(&mut self, value: Option<&str>, member: &str, constraint: &str) {
        self.violations.push(value, member, constraint);
    }

    /// Checks the length of a sensitive member (a token) without echoing its value.
    pub fn check_sensitive_length(&mut self, value: &str, member: &str, min: usize, max: usize) {
        let length = value.chars().count();
        if length < min {
            self.violations.push_sensitive(
                member,
                &format!("have length greater than or equal to {min}"),
            );
        }
        if length > max {
            self.violations
                .push_sensitive(member, &format!("have length less than or equal to {max}"));
        }
    }

    /// Ends reading: `Err(ValidationError)` if anything was violated.
    pub fn finish(self) -> Result<(), AwsError> {
        self.violations.into_result()
    }
}

/// `[\w+=,.@-]` with Java's `\w` = `[A-Za-z0-9_]` (spec §2.1).
pub fn is_name_character(character: char) -> bool {
    character.is_ascii_alphanumeric() || "_+=,.@-".contains(character)
}

/// The printable-policy pattern `[\u0009\u000A\u000D\u0020-\u00FF]+` of policy documents.
pub fn is_policy_character(character: char) -> bool {
    matches!(
        character,
        '\u{09}' | '\u{0A}' | '\u{0D}' | '\u{20}'..='\u{FF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn form_pairs_decode_exactly_as_form_urlencoded_does(
            encoded in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"&=+%AaFf09.-_~:/ ".to_vec()),
                    proptest::num::u8::ANY,
                ],
                0..64,
            )
        ) {
            let ours: Vec<(String, String)> = form_pairs(&encoded)
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
            let theirs: Vec<(String, String)> = form_urlencoded::parse(&encoded)
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect();
            proptest::prop_assert_eq!(ours, theirs);
        }
    }

    #[test]
    fn lists_and_tags_decode_from_member_form() {
        let params = QueryParams::parse(
            b"Action=CreateOpenIDConnectProvider&ClientIDList.member.1=a&ClientIDList.member.2=b&Tags.member.1.Key=team&Tags.member.1.Value=infra&ThumbprintList=",
        );
        assert_eq!(params.get("Action"), Some("CreateOpenIDConnectProvider"));
        assert_eq!(
            params.list("ClientIDList"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(params.list("ThumbprintList"), Some(vec![]));
        assert_eq!(params.list("Missing"), None);
        assert_eq!(
            params.tags("Tags"),
            vec![(Some("team".to_owned()), Some("infra".to_owned()))]
        );
    }

    #[test]
    fn reader_reports_every_violation_at_once() {
        let params = QueryParams::parse(b"MaxSessionDuration=50000&RoleName=bad%20name");
        let mut reader = ParamReader::new(&params);
        let name = reader.required("RoleName", "roleName").unwrap();
        reader.check_pattern(
            name,
            "roleName",
            name.chars().all(is_name_character),
            "[\\w+=,.@-]+",
        );
        assert_eq!(
            reader.optional_integer("MaxSessionDuration", "maxSessionDuration", 3600, 43200),
            Some(50000)
        );
        assert!(
            reader
                .required("AssumeRolePolicyDocument", "assumeRolePolicyDocument")
                .is_none()
        );
        let error = reader.finish().unwrap_err();
        assert!(error.message.starts_with("3 validation errors detected: "));
        assert!(error.message.contains(
            "Value '50000' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200"
        ));
        assert!(error.message.contains(
            "Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null"
        ));
    }

    #[test]
    fn repeated_names_are_refused_by_the_unique_readers() {
        assert_eq!(
            QueryParams::parse_unique(b"Action=A&Version=1&Action=B"),
            Err(RepeatedParameter("Action".to_owned()))
        );
        assert_eq!(
            QueryParams::parse_unique(b"=&=").unwrap_err(),
            RepeatedParameter(String::new())
        );
        let mut body = QueryParams::parse_unique(b"Action=A").unwrap();
        let query = QueryParams::parse_unique(b"Version=1&Action=A").unwrap();
        assert_eq!(
            body.merge_disjoint(query),
            Err(RepeatedParameter("Action".to_owned()))
        );
        let mut body = QueryParams::parse_unique(b"Action=A&&&").unwrap();
        body.merge_disjoint(QueryParams::parse_unique(b"Version=1").unwrap())
            .unwrap();
        assert_eq!(body.get("Version"), Some("1"));
    }

    #[test]
    fn services_know_their_versions_and_namespaces() {
        assert_eq!(Service::from_api_version("2011-06-15"), Some(Service::Sts));
        assert_eq!(Service::from_api_version("2010-05-08"), Some(Service::Iam));
        assert_eq!(Service::from_api_version("2012-01-01"), None);
        assert_eq!(
            Service::Iam.xml_namespace(),
            "https://iam.amazonaws.com/doc/2010-05-08/"
        );
    }
}
