//! What goes into a job's tokens and whether the job gets any: the org's rules (context
//! required, forks), the effective audience and lifetime (project settings, then org settings,
//! then CircleCI's defaults), the claim set (`spec/circleci-oidc.md` §1.5–1.7), signing, and the
//! audit record of every minted token.

use std::time::Duration;

use keyless_claims::{
    Audience, CircleCiClaims, NumericDate, OrgId, ProjectId, Subject, SubjectFormat, VcsSource,
};

use super::Platform;
use crate::crypto::jwt::encode_rs256;
use crate::error::PlatformResult;
use crate::model::{AuditRecord, DEFAULT_TOKEN_TTL_SECONDS, Job, OrgSettings, Refusal};
use crate::store::Tx;

/// The refusal code when the org requires a context and the job uses none.
pub const CONTEXT_REQUIRED: &str = "context_required";

/// The refusal code for a fork build when the org does not pass secrets to forks.
pub const FORK_SECRETS_DISABLED: &str = "fork_secrets_disabled";

/// The audit kind of `$CIRCLE_OIDC_TOKEN`.
pub const KIND_V1: &str = "oidc_token";
/// The audit kind of `$CIRCLE_OIDC_TOKEN_V2`.
pub const KIND_V2: &str = "oidc_token_v2";
/// The audit kind of a `circleci run oidc get` style token.
pub const KIND_CUSTOM: &str = "custom";

/// The audience and lifetime a job's default tokens get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveTokenSettings {
    /// Project audience, else org audience, else the bare org id (§1.5).
    pub audience: Audience,
    /// Project TTL, else org TTL, else one hour (§1.4).
    pub ttl: Duration,
}

/// Resolves the settings for a project's jobs.
pub fn effective_settings(
    tx: &Tx<'_>,
    org: &OrgId,
    project: &ProjectId,
) -> PlatformResult<EffectiveTokenSettings> {
    let org_level = tx.token_settings(org, None)?;
    let project_level = tx.token_settings(org, Some(project))?;
    let audiences = project_level
        .audience
        .or(org_level.audience)
        .filter(|audiences| !audiences.is_empty())
        .unwrap_or_else(|| vec![org.to_string()]);
    let audience = match <[String; 1]>::try_from(audiences) {
        Ok([one]) => Audience::One(one),
        Err(many) => Audience::Many(many),
    };
    let ttl = project_level
        .ttl
        .or(org_level.ttl)
        .map_or(Duration::from_secs(DEFAULT_TOKEN_TTL_SECONDS), |ttl| {
            ttl.duration()
        });
    Ok(EffectiveTokenSettings { audience, ttl })
}

/// Why a job gets no tokens under the org's rules, if it does not (§1.8).
pub fn refusal_for(settings: &OrgSettings, uses_context: bool, fork: bool) -> Option<Refusal> {
    if fork && !settings.pass_secrets_to_forks {
        return Some(Refusal {
            code: FORK_SECRETS_DISABLED.to_owned(),
            message: "This job builds a forked pull request and the org does not pass secrets \
                      to fork builds (pass_secrets_to_forks is off), so it gets no OIDC token."
                .to_owned(),
        });
    }
    if settings.oidc_requires_context && !uses_context {
        return Some(Refusal {
            code: CONTEXT_REQUIRED.to_owned(),
            message: "The org only issues OIDC tokens to jobs that use at least one context \
                      (oidc_requires_context is on); add a context to the job or turn the \
                      setting off."
                .to_owned(),
        });
    }
    None
}

/// The V2-shaped claim set of a job's token (use [`CircleCiClaims::for_format`] for V1).
pub fn job_claims(
    job: &Job,
    issuer: String,
    audience: Audience,
    issued_at: NumericDate,
    ttl: Duration,
) -> CircleCiClaims {
    let vcs = job.vcs.as_ref().map(|vcs| VcsSource {
        origin: vcs.origin.clone(),
        reference: vcs.git_ref.clone(),
    });
    CircleCiClaims {
        iss: issuer,
        sub: Subject {
            vcs,
            ..Subject::v1(job.org_id, job.project_id, job.user_id)
        },
        aud: audience,
        iat: issued_at,
        exp: issued_at.plus(ttl),
        project_id: job.project_id,
        context_ids: job.context_ids.clone(),
        vcs_origin: job.vcs.as_ref().map(|vcs| vcs.origin.clone()),
        vcs_ref: job.vcs.as_ref().map(|vcs| vcs.git_ref.clone()),
        ssh_rerun: job.ssh_rerun,
        org_id: job.org_id,
        pipeline_id: job.pipeline_id,
        pipeline_definition_id: job.pipeline_definition_id,
        workflow_id: job.workflow_id,
        job_id: job.id,
    }
}

/// A signed token and the audit record to store for it.
#[derive(Debug, Clone)]
pub struct SignedToken {
    /// The compact JWS.
    pub token: String,
    /// What the audit records (never the token).
    pub audit: AuditRecord,
}

/// The audit record of a token with these claims.
pub fn audit_record(
    kind: &str,
    claims: &CircleCiClaims,
    kid: Option<&str>,
    minted_at: NumericDate,
) -> AuditRecord {
    AuditRecord {
        seq: 0,
        minted_at,
        job_id: claims.job_id,
        kind: kind.to_owned(),
        iss: claims.iss.clone(),
        sub: claims.sub.to_string(),
        aud: claims.aud.as_slice().to_vec(),
        kid: kid.map(str::to_owned),
        iat: claims.iat,
        exp: claims.exp,
    }
}

impl Platform {
    /// Signs claims with the active key (CPU-bound: call from a blocking thread).
    pub fn sign(&self, kind: &str, claims: &CircleCiClaims) -> PlatformResult<SignedToken> {
        let key = self.keys.signing_key(claims.exp)?;
        let token = encode_rs256(&key, claims)?;
        Ok(SignedToken {
            token,
            audit: audit_record(kind, claims, Some(key.kid()), self.now()),
        })
    }

    /// The job's `$CIRCLE_OIDC_TOKEN` and `$CIRCLE_OIDC_TOKEN_V2`, signed.
    pub fn sign_default_tokens(
        &self,
        job: &Job,
        settings: &EffectiveTokenSettings,
    ) -> PlatformResult<[SignedToken; 2]> {
        let claims = job_claims(
            job,
            self.org_issuer(&job.org_id),
            settings.audience.clone(),
            self.now(),
            settings.ttl,
        );
        let v1 = self.sign(KIND_V1, &claims.for_format(SubjectFormat::V1))?;
        // `job_claims` already has the V2 subject: sign it as it is rather than a copy.
        let v2 = self.sign(KIND_V2, &claims)?;
        Ok([v1, v2])
    }
}
