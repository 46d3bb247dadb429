//! The negative-token factory: for a job, tokens that a correct relying party must refuse,
//! each wrong in exactly one way, for people testing their own verifiers.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyless_claims::{CircleCiClaims, JobId, OrgId, SubjectFormat};
use serde::{Deserialize, Serialize};

use super::Platform;
use super::tokens::{audit_record, effective_settings, job_claims};
use crate::crypto::SigningKey;
use crate::crypto::jwt::{EncodeError, encode_hs256, encode_rs256, encode_unsecured};
use crate::error::{PlatformError, PlatformResult};

/// The audience a `wrong_aud` token carries.
pub const WRONG_AUDIENCE: &str = "keyless-wrong-audience";

/// How a negative token is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NegativeKind {
    /// `exp` is an hour in the past (`iat` two hours ago).
    Expired,
    /// `iat` and `nbf` are an hour in the future.
    NotYetValid,
    /// `aud` is `keyless-wrong-audience`.
    WrongAud,
    /// `iss` is the issuer of another (random, unknown) org.
    WrongIss,
    /// Signed by a throwaway key whose `kid` is not in the JWKS.
    UnknownKid,
    /// Signed by the active key, then one bit of the signature flipped.
    BadSignature,
    /// `alg: none` with an empty signature (RFC 7519 §6.1).
    AlgNone,
    /// `alg: HS256`, HMAC keyed with the active key's public PEM (algorithm confusion).
    Hs256PublicKey,
}

impl NegativeKind {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongAud => "wrong_aud",
            Self::WrongIss => "wrong_iss",
            Self::UnknownKid => "unknown_kid",
            Self::BadSignature => "bad_signature",
            Self::AlgNone => "alg_none",
            Self::Hs256PublicKey => "hs256_public_key",
        }
    }

    /// What a verifier should notice.
    pub fn description(self) -> &'static str {
        match self {
            Self::Expired => "exp is one hour in the past; a verifier must reject it as expired",
            Self::NotYetValid => {
                "iat and nbf are one hour in the future; a verifier must reject it as not yet valid"
            }
            Self::WrongAud => "aud is keyless-wrong-audience; a verifier must reject the audience",
            Self::WrongIss => "iss names another org's issuer; a verifier must reject the issuer",
            Self::UnknownKid => {
                "signed by a key that is not in the JWKS; a verifier must find no key for the kid"
            }
            Self::BadSignature => {
                "one bit of the RS256 signature is flipped; the signature must not verify"
            }
            Self::AlgNone => {
                "alg is none and the signature is empty; a verifier must refuse unsigned tokens"
            }
            Self::Hs256PublicKey => {
                "alg is HS256 keyed with the issuer's public key PEM; a verifier must only accept RS256"
            }
        }
    }
}

/// `POST /api/v1/admin/jobs/{job_id}/negative-tokens`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NegativeRequest {
    /// Which flaw.
    pub kind: NegativeKind,
}

/// A negative token and what is wrong with it.
#[derive(Debug, Clone, Serialize)]
pub struct NegativeToken {
    /// Which flaw.
    pub kind: NegativeKind,
    /// The token.
    pub token: String,
    /// What a verifier should notice.
    pub description: String,
}

/// Flips the lowest bit of the first signature byte of a compact JWS.
fn flip_signature_bit(token: &str) -> PlatformResult<String> {
    let (input, signature) = token
        .rsplit_once('.')
        .ok_or_else(|| PlatformError::internal("a signed token has no signature"))?;
    let mut bytes = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|error| PlatformError::internal(error.to_string()))?;
    if let Some(first) = bytes.first_mut() {
        *first ^= 1;
    }
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes)))
}

impl Platform {
    /// Mints a negative token for a job (finished or not) and audits it as `negative:<kind>`.
    pub fn negative_token(
        &self,
        job_id: &JobId,
        kind: NegativeKind,
    ) -> PlatformResult<NegativeToken> {
        let (job, settings) = self.store.read(|tx| {
            let (job, _) = tx.job(job_id)?.ok_or_else(|| {
                PlatformError::not_found("job_not_found", format!("No job {job_id}."))
            })?;
            let settings = effective_settings(tx, &job.org_id, &job.project_id)?;
            Ok((job, settings))
        })?;
        let now = self.now();
        let hour = Duration::from_secs(3600);
        let base = |issued_at| {
            job_claims(
                &job,
                self.org_issuer(&job.org_id),
                settings.audience.clone(),
                issued_at,
                settings.ttl,
            )
            .for_format(SubjectFormat::V2)
        };
        let mut claims: CircleCiClaims = base(now);
        match kind {
            NegativeKind::Expired => {
                claims.iat = now.minus(hour * 2);
                claims.exp = now.minus(hour);
            }
            NegativeKind::NotYetValid => claims = base(now.plus(hour)),
            NegativeKind::WrongAud => claims.aud = WRONG_AUDIENCE.to_owned().into(),
            NegativeKind::WrongIss => claims.iss = self.org_issuer(&OrgId::random()),
            _ => {}
        }
        let (token, kid) = match kind {
            NegativeKind::NotYetValid => {
                let mut value = serde_json::to_value(&claims).map_err(EncodeError::from)?;
                value["nbf"] = serde_json::json!(claims.iat.seconds());
                let key = self.keys.signing_key(claims.exp)?;
                (encode_rs256(&key, &value)?, Some(key.kid().to_owned()))
            }
            NegativeKind::UnknownKid => {
                let (throwaway, _) = SigningKey::generate()?;
                (
                    encode_rs256(&throwaway, &claims)?,
                    Some(throwaway.kid().to_owned()),
                )
            }
            NegativeKind::BadSignature => {
                let key = self.keys.signing_key(claims.exp)?;
                (
                    flip_signature_bit(&encode_rs256(&key, &claims)?)?,
                    Some(key.kid().to_owned()),
                )
            }
            NegativeKind::AlgNone => (encode_unsecured(&claims)?, None),
            NegativeKind::Hs256PublicKey => {
                let key = self.keys.signing_key(claims.exp)?;
                let token =
                    encode_hs256(key.public_key_pem().as_bytes(), Some(key.kid()), &claims)?;
                (token, Some(key.kid().to_owned()))
            }
            NegativeKind::Expired | NegativeKind::WrongAud | NegativeKind::WrongIss => {
                let key = self.keys.signing_key(claims.exp)?;
                (encode_rs256(&key, &claims)?, Some(key.kid().to_owned()))
            }
        };
        let record = audit_record(
            &format!("negative:{}", kind.as_str()),
            &claims,
            kid.as_deref(),
            now,
        );
        self.store.write(|tx| tx.insert_audit(&record))?;
        Ok(NegativeToken {
            kind,
            token,
            description: kind.description().to_owned(),
        })
    }
}
