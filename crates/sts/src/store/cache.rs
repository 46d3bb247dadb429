//! In-memory copies that keep the hot paths off the database: the IAM catalog (every OIDC
//! provider and role, which `AssumeRoleWithWebIdentity` reads on every call) and the most
//! recently issued sessions (which `GetCallerIdentity` looks up by access key id).
//!
//! Both are filled only from committed state: the catalog is reloaded inside each IAM write
//! transaction and published after its commit; a session enters the cache after the commit that
//! made it durable. The database stays the record; a cache miss falls back to it.

use std::collections::{BTreeMap, HashMap, VecDeque};

use rusqlite::Transaction;

use super::records::Session;
use super::{OidcProvider, Role, StoreError, sqlite};

/// Most sessions kept in memory; older ones are read from the database when asked for.
pub const SESSION_CACHE_CAPACITY: usize = 8192;

/// Every provider and role, as committed.
#[derive(Debug, Default)]
pub struct Catalog {
    /// Providers by URL (without scheme), ordered as `ListOpenIDConnectProviders` lists them.
    providers: BTreeMap<String, OidcProvider>,
    /// Roles by lowercase name (IAM compares role names case-insensitively).
    roles: BTreeMap<String, Role>,
}

impl Catalog {
    /// Reads the whole catalog inside `tx` (so it matches what that transaction commits).
    pub fn load(tx: &Transaction<'_>) -> Result<Catalog, StoreError> {
        let providers = sqlite::providers(tx)?
            .into_iter()
            .map(|provider| (provider.url.clone(), provider))
            .collect();
        let roles = sqlite::roles(tx)?
            .into_iter()
            .map(|role| (sqlite::role_name_key(&role.name), role))
            .collect();
        Ok(Catalog { providers, roles })
    }

    /// The provider with exactly this URL.
    pub fn provider(&self, url: &str) -> Option<&OidcProvider> {
        self.providers.get(url)
    }

    /// Every provider, ordered by URL.
    pub fn providers(&self) -> impl Iterator<Item = &OidcProvider> {
        self.providers.values()
    }

    /// The role with this name, compared case-insensitively.
    pub fn role(&self, name: &str) -> Option<&Role> {
        self.roles.get(&sqlite::role_name_key(name))
    }

    /// Every role, ordered by lowercase name.
    pub fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }
}

/// The newest [`SESSION_CACHE_CAPACITY`] durable sessions by access key id; the oldest leaves
/// first.
#[derive(Debug, Default)]
pub struct SessionCache {
    by_access_key_id: HashMap<String, Session>,
    /// Insertion order, for eviction.
    order: VecDeque<String>,
}

impl SessionCache {
    /// Remembers a session that is now durable.
    pub fn insert(&mut self, session: Session) {
        if self.by_access_key_id.len() >= SESSION_CACHE_CAPACITY {
            self.evict_oldest();
        }
        let key = session.access_key_id.clone();
        if self.by_access_key_id.insert(key.clone(), session).is_none() {
            self.order.push_back(key);
        }
    }

    /// The cached session with this access key id.
    pub fn get(&self, access_key_id: &str) -> Option<Session> {
        self.by_access_key_id.get(access_key_id).cloned()
    }

    /// Drops sessions that expired before `cutoff` (Unix seconds), as the purge deletes them.
    pub fn forget_expired(&mut self, cutoff: i64) {
        self.by_access_key_id
            .retain(|_, session| session.expires_at.unix_timestamp() >= cutoff);
        let live = &self.by_access_key_id;
        self.order.retain(|key| live.contains_key(key));
    }

    /// How many sessions are cached.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_access_key_id.len()
    }

    fn evict_oldest(&mut self) {
        while let Some(key) = self.order.pop_front() {
            if self.by_access_key_id.remove(&key).is_some() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;

    fn session(access_key_id: &str, expires_at: i64) -> Session {
        Session {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: "secret".to_owned(),
            session_token: "token".to_owned(),
            account_id: "123456789012".to_owned(),
            role_arn: "arn:aws:iam::123456789012:role/r".to_owned(),
            assumed_role_arn: "arn:aws:sts::123456789012:assumed-role/r/s".to_owned(),
            assumed_role_id: "AROAEXAMPLE:s".to_owned(),
            session_policy: None,
            subject: "sub".to_owned(),
            provider_arn: "arn:aws:iam::123456789012:oidc-provider/x".to_owned(),
            request_id: "request".to_owned(),
            created_at: OffsetDateTime::UNIX_EPOCH,
            expires_at: OffsetDateTime::from_unix_timestamp(expires_at).expect("valid time"),
        }
    }

    #[test]
    fn the_cache_holds_at_most_its_capacity_and_evicts_the_oldest_first() {
        let mut cache = SessionCache::default();
        for index in 0..SESSION_CACHE_CAPACITY + 10 {
            cache.insert(session(&format!("ASIA{index}"), 100));
        }
        assert_eq!(cache.len(), SESSION_CACHE_CAPACITY);
        assert!(cache.get("ASIA0").is_none());
        assert!(cache.get("ASIA9").is_none());
        assert!(cache.get("ASIA10").is_some());
        let newest = format!("ASIA{}", SESSION_CACHE_CAPACITY + 9);
        assert!(cache.get(&newest).is_some());
    }

    #[test]
    fn expired_sessions_are_forgotten_and_do_not_count_against_capacity() {
        let mut cache = SessionCache::default();
        cache.insert(session("ASIAOLD", 10));
        cache.insert(session("ASIANEW", 100));
        cache.forget_expired(50);
        assert!(cache.get("ASIAOLD").is_none());
        assert!(cache.get("ASIANEW").is_some());
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.order.len(), 1);
    }
}
