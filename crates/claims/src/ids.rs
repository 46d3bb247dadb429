//! Identifiers of the CircleCI platform model, one type per kind of thing.
//!
//! CircleCI identifies organisations, projects, users, contexts, pipelines, pipeline
//! definitions, workflows and jobs by UUIDs written lowercase with hyphens
//! (`spec/circleci-oidc.md` §1.1, §1.5). Giving each its own type means a project id can never be
//! passed where an org id is expected. Parsing is strict: only the canonical 36-character
//! lowercase hyphenated form is accepted, because that is the only form that appears in tokens
//! and trust policies, and a policy compares strings, not UUIDs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} id {value:?} is not a lowercase hyphenated UUID (like 3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c)"
)]
pub struct IdError {
    /// Which kind of identifier was being parsed, e.g. `"org"`.
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
}

/// Parses the canonical form: 36 characters, lowercase hex, hyphens at 8-4-4-4-12.
fn parse_canonical(kind: &'static str, value: &str) -> Result<Uuid, IdError> {
    let error = || IdError {
        kind,
        value: value.to_owned(),
    };
    let canonical_shape = value.len() == 36
        && value.char_indices().all(|(index, character)| match index {
            8 | 13 | 18 | 23 => character == '-',
            _ => matches!(character, '0'..='9' | 'a'..='f'),
        });
    if !canonical_shape {
        return Err(error());
    }
    Uuid::parse_str(value).map_err(|_| error())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Uuid);

        impl $name {
            /// The kind of thing this identifies, as used in error messages.
            pub const KIND: &'static str = $kind;

            /// A fresh random (version 4) identifier.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// Wraps an existing UUID.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID inside.
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), formatter)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(value: &str) -> Result<Self, IdError> {
                parse_canonical($kind, value).map(Self)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

identifier!(
    /// A CircleCI organisation: the `<organization_id>` in the issuer URL, the default `aud`,
    /// and the `oidc.circleci.com/org-id` claim (§1.1, §1.5).
    OrgId,
    "org"
);
identifier!(
    /// A CircleCI project: the `oidc.circleci.com/project-id` claim and the `project/…` part of
    /// `sub` (§1.5, §1.6).
    ProjectId,
    "project"
);
identifier!(
    /// The CircleCI user that caused a job to run: the `user/…` part of `sub` (§1.6).
    UserId,
    "user"
);
identifier!(
    /// A CircleCI context; the ids a job uses form `oidc.circleci.com/context-ids` (§1.5).
    ContextId,
    "context"
);
identifier!(
    /// A pipeline: `oidc.circleci.com/pipeline-id` and `$CIRCLE_PIPELINE_ID` (§1.5, §1.8).
    PipelineId,
    "pipeline"
);
identifier!(
    /// A pipeline definition: `oidc.circleci.com/pipeline-definition-id` (§1.5).
    PipelineDefinitionId,
    "pipeline definition"
);
identifier!(
    /// A workflow: `oidc.circleci.com/workflow-id` and `$CIRCLE_WORKFLOW_ID` (§1.5, §1.8).
    WorkflowId,
    "workflow"
);
identifier!(
    /// A job: `oidc.circleci.com/job-id` and `$CIRCLE_WORKFLOW_JOB_ID` (§1.5, §1.8).
    JobId,
    "job"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_form_round_trips() {
        let text = "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e";
        let org: OrgId = text.parse().unwrap();
        assert_eq!(org.to_string(), text);
        assert_eq!(serde_json::to_string(&org).unwrap(), format!("\"{text}\""));
    }

    #[test]
    fn non_canonical_forms_are_refused() {
        for bad in [
            "C9035EB6-6EB2-4C85-8A81-D9ED6A1D1D1E",
            "c9035eb66eb24c858a81d9ed6a1d1d1e",
            "{c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e}",
            "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1",
            "c9035eb6_6eb2-4c85-8a81-d9ed6a1d1d1e",
            "g9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e",
            "",
        ] {
            let error = bad.parse::<ProjectId>().unwrap_err();
            assert_eq!(error.kind, "project");
            assert_eq!(error.value, bad);
        }
    }

    #[test]
    fn deserialising_reports_the_kind() {
        let error = serde_json::from_str::<JobId>("\"nope\"").unwrap_err();
        assert!(error.to_string().contains("job id \"nope\""), "{error}");
    }
}
