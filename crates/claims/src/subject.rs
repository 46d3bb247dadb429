//! The `sub` claim of CircleCI job tokens, built and parsed (`spec/circleci-oidc.md` §1.6).
//!
//! ```text
//! V1                  org/<org>/project/<project>/user/<user>
//! V2                  org/<org>/project/<project>/user/<user>/vcs-origin/<origin>/vcs-ref/<ref>
//! V2, custom webhook  org/<org>/project/<project>/user/<user>          (the V1 form)
//! ```
//!
//! The origin and ref are inserted raw and contain `/` (`github.com/octo/widgets`,
//! `refs/heads/main`), which is why trust policies match them with `StringLike` and `*`.
//!
//! Parsing a V2 subject has to decide where the origin ends. The rule: the origin ends at the
//! first `/vcs-ref/` that is followed by `refs/` (every Git ref CircleCI sends starts so); if no
//! such separator exists, at the first `/vcs-ref/`. An origin that itself contains
//! `/vcs-ref/refs/` cannot be told apart and is the one case that does not round-trip.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{IdError, OrgId, ProjectId, UserId};

/// Which token a subject was built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectFormat {
    /// `$CIRCLE_OIDC_TOKEN`: org, project and user only.
    V1,
    /// `$CIRCLE_OIDC_TOKEN_V2`: adds the VCS origin and ref when the pipeline has them.
    V2,
}

/// A job token's subject: who ran which project's job, and for V2 tokens from where.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subject {
    /// The organisation (`org/<org>`).
    pub org: OrgId,
    /// The project (`project/<project>`).
    pub project: ProjectId,
    /// The user that caused the job to run (`user/<user>`).
    pub user: UserId,
    /// The origin and ref of a V2 subject; `None` for V1 subjects and for V2 subjects of
    /// pipelines triggered by custom webhooks, which have no VCS (§1.6).
    pub vcs: Option<VcsSource>,
}

/// Where a pipeline's code came from, as written in the V2 `sub` and in the
/// `oidc.circleci.com/vcs-origin` and `oidc.circleci.com/vcs-ref` claims.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VcsSource {
    /// Repository without scheme, e.g. `github.com/octo/widgets` (§1.5).
    pub origin: String,
    /// Git ref, e.g. `refs/heads/main` or `refs/tags/v1.2.0` (§1.5).
    pub reference: String,
}

/// Why a string is not a CircleCI job subject. Each variant says what was expected where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubjectError {
    /// The subject is empty.
    #[error("subject is empty; expected org/<org-id>/project/<project-id>/user/<user-id>")]
    Empty,
    /// A fixed label such as `project` was missing or misspelt.
    #[error("expected {expected:?} at segment {position} of the subject, found {found:?}")]
    UnexpectedLabel {
        /// The label that belongs there.
        expected: &'static str,
        /// What was there instead (empty when the subject ended).
        found: String,
        /// 1-based segment number, counting `/`-separated segments.
        position: usize,
    },
    /// An id segment was not a lowercase hyphenated UUID.
    #[error("invalid id in subject: {0}")]
    InvalidId(#[from] IdError),
    /// The part after the user id is neither absent nor `/vcs-origin/…/vcs-ref/…`.
    #[error(
        "unexpected text after the user id: {rest:?}; a V2 subject continues with \
         /vcs-origin/<origin>/vcs-ref/<ref>"
    )]
    UnexpectedTail {
        /// Everything after the user id.
        rest: String,
    },
    /// `vcs-origin/` is present but `/vcs-ref/` is not.
    #[error("the subject has a vcs-origin but no /vcs-ref/ after it")]
    MissingVcsRef,
    /// The origin or ref between the separators is empty.
    #[error("the {part} in the subject is empty")]
    EmptyVcsPart {
        /// `"vcs-origin"` or `"vcs-ref"`.
        part: &'static str,
    },
}

impl Subject {
    /// A V1 subject: org, project and user.
    pub fn v1(org: OrgId, project: ProjectId, user: UserId) -> Self {
        Self {
            org,
            project,
            user,
            vcs: None,
        }
    }

    /// The subject for the given token format: V1 drops the VCS part, V2 keeps it when the
    /// pipeline has one (a custom-webhook pipeline's V2 subject has the V1 form, §1.6).
    pub fn for_format(&self, format: SubjectFormat) -> Self {
        match format {
            SubjectFormat::V1 => Self {
                vcs: None,
                ..self.clone()
            },
            SubjectFormat::V2 => self.clone(),
        }
    }

    /// Whether this subject has the V1 shape (no VCS part).
    pub fn is_v1_shaped(&self) -> bool {
        self.vcs.is_none()
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "org/{}/project/{}/user/{}",
            self.org, self.project, self.user
        )?;
        if let Some(vcs) = &self.vcs {
            write!(
                formatter,
                "/vcs-origin/{}/vcs-ref/{}",
                vcs.origin, vcs.reference
            )?;
        }
        Ok(())
    }
}

/// Splits off one `/`-terminated segment and checks it is the expected label.
fn expect_label<'a>(
    rest: &'a str,
    expected: &'static str,
    position: usize,
) -> Result<&'a str, SubjectError> {
    let (found, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if found != expected {
        return Err(SubjectError::UnexpectedLabel {
            expected,
            found: found.to_owned(),
            position,
        });
    }
    Ok(tail)
}

/// Splits off one id segment (up to the next `/` or the end).
fn take_id(rest: &str) -> (&str, &str) {
    match rest.split_once('/') {
        Some((id, tail)) => (id, tail),
        None => (rest, ""),
    }
}

/// Splits `<origin>/vcs-ref/<ref>` per the rule in the module documentation.
fn split_origin_and_ref(text: &str) -> Result<(&str, &str), SubjectError> {
    const SEPARATOR: &str = "/vcs-ref/";
    let mut first = None;
    let mut search_from = 0;
    while let Some(offset) = text[search_from..].find(SEPARATOR) {
        let at = search_from + offset;
        let reference = &text[at + SEPARATOR.len()..];
        if reference.starts_with("refs/") {
            return Ok((&text[..at], reference));
        }
        first.get_or_insert(at);
        search_from = at + 1;
    }
    // The origin may be empty, in which case the separator starts the text without its slash.
    if let Some(reference) = text.strip_prefix("vcs-ref/") {
        return Ok(("", reference));
    }
    let at = first.ok_or(SubjectError::MissingVcsRef)?;
    Ok((&text[..at], &text[at + SEPARATOR.len()..]))
}

impl FromStr for Subject {
    type Err = SubjectError;

    fn from_str(text: &str) -> Result<Self, SubjectError> {
        if text.is_empty() {
            return Err(SubjectError::Empty);
        }
        let rest = expect_label(text, "org", 1)?;
        let (org, rest) = take_id(rest);
        let org: OrgId = org.parse()?;
        let rest = expect_label(rest, "project", 3)?;
        let (project, rest) = take_id(rest);
        let project: ProjectId = project.parse()?;
        let rest = expect_label(rest, "user", 5)?;
        let (user, rest) = match rest.split_once('/') {
            Some((user, tail)) => (user, Some(tail)),
            None => (rest, None),
        };
        let user: UserId = user.parse()?;
        let vcs = match rest {
            None => None,
            Some(tail) => {
                let Some(origin_and_ref) = tail.strip_prefix("vcs-origin/") else {
                    return Err(SubjectError::UnexpectedTail {
                        rest: format!("/{tail}"),
                    });
                };
                let (origin, reference) = split_origin_and_ref(origin_and_ref)?;
                if origin.is_empty() {
                    return Err(SubjectError::EmptyVcsPart { part: "vcs-origin" });
                }
                if reference.is_empty() {
                    return Err(SubjectError::EmptyVcsPart { part: "vcs-ref" });
                }
                Some(VcsSource {
                    origin: origin.to_owned(),
                    reference: reference.to_owned(),
                })
            }
        };
        Ok(Self {
            org,
            project,
            user,
            vcs,
        })
    }
}

impl Serialize for Subject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
