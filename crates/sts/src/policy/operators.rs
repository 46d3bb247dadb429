//! Condition operators: the base operator plus the `ForAnyValue:`/`ForAllValues:` prefix and the
//! `IfExists` suffix (`spec/aws-sts-iam.md` §4.3).
//!
//! The operator list is IAM's (moto's validator mirrors it). Names are case-sensitive, as the
//! grammar's element names are. An unknown operator is refused by the grammar when its block has
//! keys, and accepted (it constrains nothing) when the block is empty, as IAM's validator does.

use serde::{Deserialize, Serialize};

/// The operator without prefix or suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BaseOperator {
    /// Exact, case-sensitive.
    StringEquals,
    /// Negated exact, case-sensitive.
    StringNotEquals,
    /// Exact, ASCII case-insensitive.
    StringEqualsIgnoreCase,
    /// Negated exact, ASCII case-insensitive.
    StringNotEqualsIgnoreCase,
    /// Case-sensitive with `*` and `?` wildcards.
    StringLike,
    /// Negated `StringLike`.
    StringNotLike,
    /// Numeric equality.
    NumericEquals,
    /// Numeric inequality.
    NumericNotEquals,
    /// `<`.
    NumericLessThan,
    /// `<=`.
    NumericLessThanEquals,
    /// `>`.
    NumericGreaterThan,
    /// `>=`.
    NumericGreaterThanEquals,
    /// Date equality (epoch seconds only in this engine).
    DateEquals,
    /// Date inequality.
    DateNotEquals,
    /// Date `<`.
    DateLessThan,
    /// Date `<=`.
    DateLessThanEquals,
    /// Date `>`.
    DateGreaterThan,
    /// Date `>=`.
    DateGreaterThanEquals,
    /// `true`/`false`, case-insensitive.
    Bool,
    /// Base64 equality.
    BinaryEquals,
    /// Source IP in a CIDR (no web-identity key has an address, so only absence matters).
    IpAddress,
    /// Negated `IpAddress`.
    NotIpAddress,
    /// ARN equality (with wildcards, as `ArnLike`).
    ArnEquals,
    /// ARN with wildcards.
    ArnLike,
    /// Negated `ArnEquals`.
    ArnNotEquals,
    /// Negated `ArnLike`.
    ArnNotLike,
    /// Whether a key is absent (`"true"`) or present (`"false"`).
    Null,
}

impl BaseOperator {
    /// Every operator with its policy name.
    const ALL: [(BaseOperator, &'static str); 27] = [
        (BaseOperator::StringEquals, "StringEquals"),
        (BaseOperator::StringNotEquals, "StringNotEquals"),
        (
            BaseOperator::StringEqualsIgnoreCase,
            "StringEqualsIgnoreCase",
        ),
        (
            BaseOperator::StringNotEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase",
        ),
        (BaseOperator::StringLike, "StringLike"),
        (BaseOperator::StringNotLike, "StringNotLike"),
        (BaseOperator::NumericEquals, "NumericEquals"),
        (BaseOperator::NumericNotEquals, "NumericNotEquals"),
        (BaseOperator::NumericLessThan, "NumericLessThan"),
        (BaseOperator::NumericLessThanEquals, "NumericLessThanEquals"),
        (BaseOperator::NumericGreaterThan, "NumericGreaterThan"),
        (
            BaseOperator::NumericGreaterThanEquals,
            "NumericGreaterThanEquals",
        ),
        (BaseOperator::DateEquals, "DateEquals"),
        (BaseOperator::DateNotEquals, "DateNotEquals"),
        (BaseOperator::DateLessThan, "DateLessThan"),
        (BaseOperator::DateLessThanEquals, "DateLessThanEquals"),
        (BaseOperator::DateGreaterThan, "DateGreaterThan"),
        (BaseOperator::DateGreaterThanEquals, "DateGreaterThanEquals"),
        (BaseOperator::Bool, "Bool"),
        (BaseOperator::BinaryEquals, "BinaryEquals"),
        (BaseOperator::IpAddress, "IpAddress"),
        (BaseOperator::NotIpAddress, "NotIpAddress"),
        (BaseOperator::ArnEquals, "ArnEquals"),
        (BaseOperator::ArnLike, "ArnLike"),
        (BaseOperator::ArnNotEquals, "ArnNotEquals"),
        (BaseOperator::ArnNotLike, "ArnNotLike"),
        (BaseOperator::Null, "Null"),
    ];

    /// The operator called `name` exactly, if any.
    pub fn from_name(name: &str) -> Option<BaseOperator> {
        Self::ALL
            .iter()
            .find(|(_, candidate)| *candidate == name)
            .map(|(operator, _)| *operator)
    }

    /// The policy name, e.g. `StringLike`.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(operator, _)| *operator == self)
            .map_or("Null", |(_, name)| name)
    }

    /// Negated operators: multiple values behave as AND ("matches none"), and an absent key
    /// makes them true (§4.3).
    pub fn is_negated(self) -> bool {
        matches!(
            self,
            BaseOperator::StringNotEquals
                | BaseOperator::StringNotEqualsIgnoreCase
                | BaseOperator::StringNotLike
                | BaseOperator::NumericNotEquals
                | BaseOperator::DateNotEquals
                | BaseOperator::NotIpAddress
                | BaseOperator::ArnNotEquals
                | BaseOperator::ArnNotLike
        )
    }

    /// Operators whose values may hold policy variables (§4.4: String, ARN and Bool).
    pub fn allows_variables(self) -> bool {
        matches!(
            self,
            BaseOperator::StringEquals
                | BaseOperator::StringNotEquals
                | BaseOperator::StringEqualsIgnoreCase
                | BaseOperator::StringNotEqualsIgnoreCase
                | BaseOperator::StringLike
                | BaseOperator::StringNotLike
                | BaseOperator::Bool
                | BaseOperator::ArnEquals
                | BaseOperator::ArnLike
                | BaseOperator::ArnNotEquals
                | BaseOperator::ArnNotLike
        )
    }

    /// Operators where `*` and `?` are wildcards.
    pub fn uses_wildcards(self) -> bool {
        matches!(
            self,
            BaseOperator::StringLike
                | BaseOperator::StringNotLike
                | BaseOperator::ArnEquals
                | BaseOperator::ArnLike
                | BaseOperator::ArnNotEquals
                | BaseOperator::ArnNotLike
        )
    }

    /// Operators comparing exactly and case-sensitively (where `*` is a literal character).
    pub fn is_exact_case_sensitive(self) -> bool {
        matches!(
            self,
            BaseOperator::StringEquals | BaseOperator::StringNotEquals
        )
    }
}

/// `ForAnyValue:` or `ForAllValues:` (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SetOperator {
    /// True if some request value matches; false when the key is absent or empty.
    ForAnyValue,
    /// True if every request value matches; true when the key is absent or empty.
    ForAllValues,
}

impl SetOperator {
    /// The prefix as written, with its colon.
    pub fn prefix(self) -> &'static str {
        match self {
            SetOperator::ForAnyValue => "ForAnyValue:",
            SetOperator::ForAllValues => "ForAllValues:",
        }
    }
}

/// A parsed condition operator such as `ForAnyValue:StringLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConditionOperator {
    /// The `ForAnyValue:`/`ForAllValues:` prefix, if any.
    pub set_operator: Option<SetOperator>,
    /// The operator proper.
    pub base: BaseOperator,
    /// The `IfExists` suffix: true when the key is absent.
    pub if_exists: bool,
}

impl ConditionOperator {
    /// Parses an operator name; `None` for names IAM does not know (including `NullIfExists`,
    /// since `IfExists` does not apply to `Null`).
    pub fn parse(name: &str) -> Option<ConditionOperator> {
        let (set_operator, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetOperator::ForAnyValue), rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetOperator::ForAllValues), rest)
        } else {
            (None, name)
        };
        let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
            Some(base_name) => (true, base_name),
            None => (false, rest),
        };
        let base = BaseOperator::from_name(base_name)?;
        if if_exists && base == BaseOperator::Null {
            return None;
        }
        Some(ConditionOperator {
            set_operator,
            base,
            if_exists,
        })
    }

    /// The operator as a policy writes it.
    pub fn name(&self) -> String {
        format!(
            "{}{}{}",
            self.set_operator.map_or("", SetOperator::prefix),
            self.base.name(),
            if self.if_exists { "IfExists" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_suffixes_parse_and_print_back() {
        for name in [
            "StringEquals",
            "ForAnyValue:StringLike",
            "ForAllValues:StringNotEqualsIgnoreCase",
            "StringLikeIfExists",
            "ForAnyValue:StringEqualsIfExists",
            "Null",
            "Bool",
        ] {
            let operator = ConditionOperator::parse(name).expect("a known operator");
            assert_eq!(operator.name(), name);
        }
    }

    #[test]
    fn unknown_and_miscased_operators_are_refused() {
        for name in [
            "StringEqual",
            "stringequals",
            "NullIfExists",
            "ForAnyValues:StringLike",
            "",
        ] {
            assert_eq!(ConditionOperator::parse(name), None, "{name}");
        }
    }
}
