//! Parsed trust policies, kept by their text: `AssumeRoleWithWebIdentity` evaluates the role's
//! stored policy on every call, and parsing it again each time was about a twentieth of the
//! STS's CPU under load. Keyed by the exact text, so an updated policy is simply a new entry;
//! bounded, and emptied when full (policies change rarely, so a refill is cheap).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::{MalformedPolicyError, TrustPolicy};

/// Most parsed policies kept at once.
pub const PARSED_POLICY_CAPACITY: usize = 256;

/// Trust policies parsed once per distinct text.
#[derive(Debug, Default)]
pub struct ParsedPolicies {
    by_text: Mutex<HashMap<String, Arc<TrustPolicy>>>,
}

impl ParsedPolicies {
    /// The parsed form of `text`, parsing it only if it has not been seen. A policy that does
    /// not parse is not kept: the error is returned each time.
    pub fn trust_policy(&self, text: &str) -> Result<Arc<TrustPolicy>, MalformedPolicyError> {
        if let Some(policy) = self.lock().get(text) {
            return Ok(Arc::clone(policy));
        }
        let policy = Arc::new(TrustPolicy::parse(text)?);
        let mut by_text = self.lock();
        if by_text.len() >= PARSED_POLICY_CAPACITY {
            by_text.clear();
        }
        by_text.insert(text.to_owned(), Arc::clone(&policy));
        Ok(policy)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<TrustPolicy>>> {
        // A poisoned lock only means another request panicked; the map is still whole.
        self.by_text
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;

    #[test]
    fn the_same_text_is_parsed_once_and_a_changed_text_is_parsed_anew() {
        let cache = ParsedPolicies::default();
        let first = cache.trust_policy(POLICY).unwrap();
        let again = cache.trust_policy(POLICY).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let changed = POLICY.replace("example.com", "example.org");
        let other = cache.trust_policy(&changed).unwrap();
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(
            other.federated_principals(),
            vec!["arn:aws:iam::123456789012:oidc-provider/example.org"]
        );
    }

    #[test]
    fn a_malformed_policy_is_refused_every_time_and_not_kept() {
        let cache = ParsedPolicies::default();
        assert!(cache.trust_policy("{").is_err());
        assert!(cache.trust_policy("{").is_err());
        assert!(cache.lock().is_empty());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = ParsedPolicies::default();
        for index in 0..PARSED_POLICY_CAPACITY + 5 {
            let text = POLICY.replace("example.com", &format!("example{index}.com"));
            cache.trust_policy(&text).unwrap();
        }
        assert!(cache.lock().len() <= PARSED_POLICY_CAPACITY);
    }
}
