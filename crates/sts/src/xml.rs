//! The AWS Query protocol's response side (spec `aws-sts-iam.md` §1, §5.3): an indenting XML
//! writer for `…Result` bodies, the `<{Op}Response>` wrapper with `ResponseMetadata/RequestId`,
//! and the `<ErrorResponse>` envelope whose `RequestId` is a sibling of `Error`.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::AwsError;

/// Escapes text for XML element content (quotes stay literal, as in AWS's messages).
///
/// Characters XML 1.0 does not allow at all (controls other than tab, line feed and carriage
/// return, and U+FFFE/U+FFFF; not even as character references) become U+FFFD, so a message
/// echoing a caller's bytes never makes the document unparseable.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    escape_into(&mut escaped, text);
    escaped
}

/// [`escape`], appending to `output`. Text with nothing to escape (every ARN, id, key and
/// timestamp in a response) is copied in one go.
fn escape_into(output: &mut String, text: &str) {
    if !needs_escaping(text) {
        output.push_str(text);
        return;
    }
    for character in text.chars() {
        match character {
            '&' => output.push_str("&amp;"),
            '<' => output.push_str("&lt;"),
            '>' => output.push_str("&gt;"),
            '\r' => output.push_str("&#xD;"),
            other if is_xml_character(other) => output.push(other),
            _ => output.push(char::REPLACEMENT_CHARACTER),
        }
    }
}

/// Whether `text` holds a byte [`escape`] may change: `&`, `<`, `>`, a control character
/// other than tab and line feed, or 0xEF (the first byte of U+FFFE and U+FFFF, and of other
/// characters that are kept).
fn needs_escaping(text: &str) -> bool {
    text.bytes().any(|byte| {
        matches!(byte, b'&' | b'<' | b'>' | 0xEF) || (byte < 0x20 && byte != b'\t' && byte != b'\n')
    })
}

/// XML 1.0's `Char` production: `#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
/// [#x10000-#x10FFFF]` (a Rust `char` is never a surrogate).
fn is_xml_character(character: char) -> bool {
    matches!(character, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

/// ISO-8601 UTC without fractional seconds, as AWS writes timestamps (`2026-11-26T01:10:22Z`).
pub fn timestamp(at: OffsetDateTime) -> String {
    let whole_seconds = at
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(at);
    // Rfc3339 formatting of a UTC time with zero nanoseconds cannot fail for years 0..=9999.
    whole_seconds
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Builds indented XML. Element names are trusted constants; text is escaped.
#[derive(Debug, Default)]
pub struct XmlWriter {
    output: String,
    depth: usize,
}

impl XmlWriter {
    /// A writer whose first element sits at `depth` levels of indentation.
    pub fn at_depth(depth: usize) -> Self {
        XmlWriter {
            output: String::new(),
            depth,
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.output.push_str("  ");
        }
    }

    /// Opens `<name>` on its own line.
    pub fn open(&mut self, name: &str) -> &mut Self {
        self.indent();
        self.output.push('<');
        self.output.push_str(name);
        self.output.push_str(">\n");
        self.depth += 1;
        self
    }

    /// Closes `</name>`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.output.push_str("</");
        self.output.push_str(name);
        self.output.push_str(">\n");
        self
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        self.indent();
        self.output.push('<');
        self.output.push_str(name);
        self.output.push('>');
        escape_into(&mut self.output, text);
        self.output.push_str("</");
        self.output.push_str(name);
        self.output.push_str(">\n");
        self
    }

    /// `<name>text</name>` only when `text` is present.
    pub fn optional_leaf(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    /// `<name/>`.
    pub fn empty(&mut self, name: &str) -> &mut Self {
        self.indent();
        self.output.push_str(&format!("<{name}/>\n"));
        self
    }

    /// `<name><member>…</member>…</name>` for a list of strings.
    pub fn string_list(&mut self, name: &str, items: &[String]) -> &mut Self {
        self.open(name);
        for item in items {
            self.leaf("member", item);
        }
        self.close(name)
    }

    /// The XML written so far.
    pub fn finish(self) -> String {
        self.output
    }
}

/// The success envelope: `<{Op}Response xmlns=NS>[<{Op}Result>…</{Op}Result>]<ResponseMetadata>…`.
/// `result` is the inner XML of `…Result` written at depth 2, or `None` for operations with no
/// output (spec §1: no `Result` element at all).
pub fn success_document(
    namespace: &str,
    operation: &str,
    result: Option<&str>,
    request_id: &str,
) -> String {
    let mut document = format!("<{operation}Response xmlns=\"{namespace}\">\n");
    if let Some(result) = result {
        if result.is_empty() {
            document.push_str(&format!("  <{operation}Result/>\n"));
        } else {
            document.push_str(&format!(
                "  <{operation}Result>\n{result}  </{operation}Result>\n"
            ));
        }
    }
    document.push_str(&format!(
        "  <ResponseMetadata>\n    <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</{operation}Response>\n",
        escape(request_id)
    ));
    document
}

/// The error envelope of spec §1, byte-shaped like AWS's.
pub fn error_document(namespace: &str, error: &AwsError, request_id: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"{namespace}\">\n  <Error>\n    <Type>{}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{}</RequestId>\n</ErrorResponse>\n",
        error.fault_type(),
        escape(&error.code),
        escape(&error.message),
        escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn error_envelope_matches_spec_shape() {
        let error = AwsError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Not authorized to perform sts:AssumeRoleWithWebIdentity",
        );
        assert_eq!(
            error_document(
                "https://sts.amazonaws.com/doc/2011-06-15/",
                &error,
                "c6104cbe-af31-11e0-8154-cbc7ccf896c7"
            ),
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n    <Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>\n  </Error>\n  <RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>\n</ErrorResponse>\n"
        );
    }

    #[test]
    fn operations_without_output_have_no_result_element() {
        let document = success_document(
            "https://iam.amazonaws.com/doc/2010-05-08/",
            "DeleteRole",
            None,
            "7a62c49f",
        );
        assert_eq!(
            document,
            "<DeleteRoleResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <ResponseMetadata>\n    <RequestId>7a62c49f</RequestId>\n  </ResponseMetadata>\n</DeleteRoleResponse>\n"
        );
    }

    #[test]
    fn writer_indents_and_escapes() {
        let mut writer = XmlWriter::at_depth(2);
        writer
            .open("Role")
            .leaf("RoleName", "a<b&c")
            .string_list("ClientIDList", &["x".to_owned()])
            .close("Role");
        assert_eq!(
            writer.finish(),
            "    <Role>\n      <RoleName>a&lt;b&amp;c</RoleName>\n      <ClientIDList>\n        <member>x</member>\n      </ClientIDList>\n    </Role>\n"
        );
    }

    #[test]
    fn characters_xml_forbids_are_replaced() {
        assert_eq!(
            escape("a\u{0}b\u{1b}[31m\u{7}\u{fffe}\u{ffff}c\td\ne\u{7f}\u{10ffff}"),
            "a\u{fffd}b\u{fffd}[31m\u{fffd}\u{fffd}\u{fffd}c\td\ne\u{7f}\u{10ffff}"
        );
    }

    #[test]
    fn the_copy_through_fast_path_agrees_with_escaping_each_character() {
        let slow = |text: &str| -> String {
            text.chars()
                .map(|character| match character {
                    '&' => "&amp;".to_owned(),
                    '<' => "&lt;".to_owned(),
                    '>' => "&gt;".to_owned(),
                    '\r' => "&#xD;".to_owned(),
                    other if is_xml_character(other) => other.to_string(),
                    _ => char::REPLACEMENT_CHARACTER.to_string(),
                })
                .collect()
        };
        let interesting = (0u32..0x250)
            .chain(0xD7F0..0xD800)
            .chain(0xE000..0xE010)
            .chain(0xEF00..0xF000)
            .chain(0xFFF0..0x10010)
            .filter_map(char::from_u32);
        for character in interesting {
            for text in [
                character.to_string(),
                format!("arn:aws:iam::1:role/{character}x"),
            ] {
                assert_eq!(escape(&text), slow(&text), "{:?}", character);
            }
        }
    }

    #[test]
    fn timestamps_drop_fractions() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_795_655_422_123_456_789).unwrap();
        assert_eq!(timestamp(at), "2026-11-26T01:10:22Z");
    }
}
