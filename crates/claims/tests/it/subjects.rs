//! V1 and V2 `sub` claims (`spec/circleci-oidc.md` §1.6): examples, properties, malformed input.

use keyless_claims::subject::{SubjectError, SubjectFormat, VcsSource};
use keyless_claims::{OrgId, ProjectId, Subject, UserId};
use proptest::prelude::*;

const ORG: &str = "c9035eb6-6eb2-4c85-8a81-d9ed6a1d1d1e";
const PROJECT: &str = "3a2f5b1c-7d4e-4f6a-9b8c-0d1e2f3a4b5c";
const USER: &str = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9";

fn v1_text() -> String {
    format!("org/{ORG}/project/{PROJECT}/user/{USER}")
}

#[test]
fn v1_subject_parses_and_prints() {
    let subject: Subject = v1_text().parse().unwrap();
    assert_eq!(subject.org.to_string(), ORG);
    assert_eq!(subject.project.to_string(), PROJECT);
    assert_eq!(subject.user.to_string(), USER);
    assert!(subject.is_v1_shaped());
    assert_eq!(subject.to_string(), v1_text());
}

#[test]
fn v2_subject_keeps_slashes_in_origin_and_ref() {
    let text = format!(
        "{}/vcs-origin/github.com/octo/widgets/vcs-ref/refs/heads/feature/x",
        v1_text()
    );
    let subject: Subject = text.parse().unwrap();
    assert_eq!(
        subject.vcs,
        Some(VcsSource {
            origin: "github.com/octo/widgets".into(),
            reference: "refs/heads/feature/x".into()
        })
    );
    assert_eq!(subject.to_string(), text);
    assert_eq!(subject.for_format(SubjectFormat::V1).to_string(), v1_text());
    assert_eq!(subject.for_format(SubjectFormat::V2), subject);
}

#[test]
fn a_repository_named_vcs_ref_still_parses() {
    let text = format!(
        "{}/vcs-origin/github.com/octo/vcs-ref/vcs-ref/refs/heads/main",
        v1_text()
    );
    let subject: Subject = text.parse().unwrap();
    let vcs = subject.vcs.clone().unwrap();
    assert_eq!(vcs.origin, "github.com/octo/vcs-ref");
    assert_eq!(vcs.reference, "refs/heads/main");
    assert_eq!(subject.to_string(), text);
}

#[test]
fn gitlab_subgroups_and_fork_refs_parse() {
    let text = format!(
        "{}/vcs-origin/gitlab.com/group/sub/project/vcs-ref/refs/heads/pull/42",
        v1_text()
    );
    let vcs = text.parse::<Subject>().unwrap().vcs.unwrap();
    assert_eq!(vcs.origin, "gitlab.com/group/sub/project");
    assert_eq!(vcs.reference, "refs/heads/pull/42");
}

#[test]
fn custom_webhook_v2_subject_has_the_v1_form() {
    let org: OrgId = ORG.parse().unwrap();
    let project: ProjectId = PROJECT.parse().unwrap();
    let user: UserId = USER.parse().unwrap();
    let webhook = Subject::v1(org, project, user);
    assert_eq!(webhook.for_format(SubjectFormat::V2).to_string(), v1_text());
}

#[test]
fn malformed_subjects_say_what_is_wrong() {
    let cases: Vec<(String, SubjectError)> = vec![
        (String::new(), SubjectError::Empty),
        (
            format!("organization/{ORG}/project/{PROJECT}/user/{USER}"),
            SubjectError::UnexpectedLabel {
                expected: "org",
                found: "organization".into(),
                position: 1,
            },
        ),
        (
            format!("org/{ORG}/projects/{PROJECT}/user/{USER}"),
            SubjectError::UnexpectedLabel {
                expected: "project",
                found: "projects".into(),
                position: 3,
            },
        ),
        (
            format!("org/{ORG}/project/{PROJECT}"),
            SubjectError::UnexpectedLabel {
                expected: "user",
                found: String::new(),
                position: 5,
            },
        ),
        (
            format!("{}/branch/main", v1_text()),
            SubjectError::UnexpectedTail {
                rest: "/branch/main".into(),
            },
        ),
        (
            format!("{}/vcs-origin/github.com/octo/widgets", v1_text()),
            SubjectError::MissingVcsRef,
        ),
        (
            format!("{}/vcs-origin//vcs-ref/refs/heads/main", v1_text()),
            SubjectError::EmptyVcsPart { part: "vcs-origin" },
        ),
        (
            format!("{}/vcs-origin/github.com/o/r/vcs-ref/", v1_text()),
            SubjectError::EmptyVcsPart { part: "vcs-ref" },
        ),
        (
            format!("{}/", v1_text()),
            SubjectError::UnexpectedTail { rest: "/".into() },
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(text.parse::<Subject>(), Err(expected), "{text:?}");
    }
}

#[test]
fn bad_ids_name_their_kind() {
    let text = format!("org/{ORG}/project/NOT-A-UUID/user/{USER}");
    match text.parse::<Subject>() {
        Err(SubjectError::InvalidId(error)) => {
            assert_eq!(error.kind, "project");
            assert_eq!(error.value, "NOT-A-UUID");
        }
        other => panic!("expected an invalid project id, got {other:?}"),
    }
    let upper = format!("org/{}/project/{PROJECT}/user/{USER}", ORG.to_uppercase());
    assert!(matches!(
        upper.parse::<Subject>(),
        Err(SubjectError::InvalidId(_))
    ));
    // The audit-log streaming subject is CircleCI's, but not a job's (§1.6).
    let streaming = format!("org/{ORG}/file-streaming/audit-logs");
    assert!(streaming.parse::<Subject>().is_err());
}

/// Arbitrary ids.
fn any_id() -> impl Strategy<Value = uuid::Uuid> {
    any::<u128>().prop_map(uuid::Uuid::from_u128)
}

/// Origins as VCS hosts write them: host and 1–4 path segments of URL-safe characters. An
/// origin containing `/vcs-ref/refs/` is ambiguous by construction (see `subject` docs).
fn any_origin() -> impl Strategy<Value = String> {
    (
        "[a-z0-9]{1,12}(\\.[a-z]{2,6}){1,2}",
        prop::collection::vec("[A-Za-z0-9._~-]{1,16}", 1..=4),
    )
        .prop_map(|(host, segments)| format!("{host}/{}", segments.join("/")))
        .prop_filter("ambiguous origin", |origin| {
            !origin.contains("/vcs-ref/refs/")
        })
}

/// Git refs: `refs/heads/...`, `refs/tags/...` or `refs/pull/...` with nested names.
fn any_ref() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec!["heads", "tags", "pull"]),
        prop::collection::vec("[A-Za-z0-9._-]{1,16}", 1..=4),
    )
        .prop_map(|(kind, names)| format!("refs/{kind}/{}", names.join("/")))
}

proptest! {
    #[test]
    fn v1_subjects_round_trip(org in any_id(), project in any_id(), user in any_id()) {
        let subject = Subject::v1(OrgId::from_uuid(org), ProjectId::from_uuid(project), UserId::from_uuid(user));
        let text = subject.to_string();
        prop_assert_eq!(text.parse::<Subject>(), Ok(subject));
    }

    #[test]
    fn v2_subjects_round_trip(
        org in any_id(), project in any_id(), user in any_id(),
        origin in any_origin(), reference in any_ref(),
    ) {
        let subject = Subject {
            org: OrgId::from_uuid(org),
            project: ProjectId::from_uuid(project),
            user: UserId::from_uuid(user),
            vcs: Some(VcsSource { origin, reference }),
        };
        let text = subject.to_string();
        let parsed = text.parse::<Subject>();
        prop_assert_eq!(parsed.as_ref(), Ok(&subject));
        prop_assert_eq!(parsed.map(|s| s.to_string()), Ok(text));
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = text.parse::<Subject>();
    }
}
