//! `keyless-issuer`: a CircleCI-style OIDC issuer for offline federation tests.
//!
//! It serves, for every org, the issuer `{public-url}/org/{org-id}` and the root issuer
//! `{public-url}` with their discovery documents and JWKS; keeps RSA-2048 signing keys that
//! rotate; holds the platform model (orgs, projects, users, contexts, pipelines, workflows,
//! jobs) that claims come from; and gives runners a job API that mints RS256 job tokens exactly
//! as CircleCI shapes them (`spec/circleci-oidc.md` §1). The HTTP API is documented in
//! `docs/issuer.md`.
//!
//! The entry point is [`run`]; `main.rs` only parses flags, binds and calls it.

pub mod bootstrap;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
pub mod http;
pub mod keyring;
pub mod model;
pub mod platform;
pub mod secret;
pub mod store;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use clock::{Clock, ClockHandle, ManualClock, SystemClock};
pub use config::{AdminToken, Config, LogFormat};
pub use error::{PlatformError, PlatformResult};
use keyring::{KeyRing, Rotator};
use platform::Platform;
use store::Store;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding or serving failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// `--public-url` is not an http(s) URL.
    #[error("--public-url {0:?} must be an http:// or https:// URL without query or fragment")]
    PublicUrl(String),
    /// The bootstrap file is unusable.
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
    /// Opening the store or keys failed.
    #[error("cannot open the issuer's state: {0}")]
    Platform(#[from] PlatformError),
}

/// Checks a public base URL.
fn check_public_url(url: &str) -> Result<(), ServeError> {
    let valid = (url.starts_with("http://") || url.starts_with("https://"))
        && !url.contains(['?', '#'])
        && !url.chars().any(char::is_whitespace)
        && url.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if valid {
        Ok(())
    } else {
        Err(ServeError::PublicUrl(url.to_owned()))
    }
}

/// Opens the store (or an in-memory one), loads or creates the keys, applies the bootstrap.
/// Blocking: generates keys and touches SQLite.
pub fn open_platform(config: &Config, public_url: &str) -> Result<Platform, ServeError> {
    check_public_url(public_url)?;
    let bootstrap = config
        .bootstrap_file
        .as_deref()
        .map(bootstrap::load)
        .transpose()?;
    let store = Store::open((!config.in_memory).then_some(config.data_dir.as_path()))?;
    store.set_durability(config.durability)?;
    let platform = Platform::open(store, config.clock.clone(), public_url)?;
    if let Some(bootstrap) = bootstrap {
        platform.apply_bootstrap(&bootstrap).map_err(|source| {
            bootstrap::BootstrapError::Apply {
                path: config
                    .bootstrap_file
                    .as_deref()
                    .map(|path| path.display().to_string())
                    .unwrap_or_default(),
                source,
            }
        })?;
    }
    Ok(platform)
}

/// Serves the issuer on `listener` until `shutdown` completes, then finishes in-flight
/// requests and returns.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let address = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{address}"));
    let admin_token = config.admin_token.clone();
    let rotation_interval = config
        .rotation_interval
        .as_ref()
        .map(keyless_claims::JsonDuration::duration);
    let platform = tokio::task::spawn_blocking(move || open_platform(&config, &public_url))
        .await
        .map_err(|error| PlatformError::internal(error.to_string()))??;
    let platform = Arc::new(platform);
    tracing::info!(
        address = %address,
        public_url = platform.public_url(),
        keys = ?platform.keys.summaries(platform.now()).iter().map(|key| (key.kid.clone(), key.state)).collect::<Vec<_>>(),
        "keyless-issuer serving"
    );
    let maintenance = tokio::spawn(maintain_keys(Arc::clone(&platform), rotation_interval));
    let state = http::AppState {
        platform,
        admin_token,
    };
    let served = axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await;
    maintenance.abort();
    tracing::info!("keyless-issuer stopped");
    Ok(served?)
}

/// Every few seconds: reload keys another process changed, rotate when due, prune.
async fn maintain_keys(platform: Arc<Platform>, rotation_interval: Option<std::time::Duration>) {
    let mut ticker = tokio::time::interval(config::KEY_WATCH_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut data_version = None;
    loop {
        ticker.tick().await;
        let platform = Arc::clone(&platform);
        let outcome = tokio::task::spawn_blocking(move || {
            let result = platform.maintain_keys(&mut data_version, rotation_interval);
            (result, data_version)
        })
        .await;
        match outcome {
            Ok((result, version)) => {
                data_version = version;
                if let Err(error) = result {
                    tracing::error!(error = %error, detail = ?error.detail, "key maintenance failed");
                }
            }
            Err(error) => tracing::error!(error = %error, "key maintenance task failed"),
        }
    }
}

/// `keyless-issuer keys rotate`: rotates the keys in a data directory, safe while a server
/// uses it (the server picks the change up within seconds). Returns the new active kid.
pub fn rotate_keys_in(data_dir: &Path, clock: &ClockHandle) -> PlatformResult<String> {
    let store = Store::open(Some(data_dir))?;
    let keys = KeyRing::open(&store, clock.now())?;
    keys.rotate(&store, clock.now(), Rotator::OtherProcess)
}

/// `keyless-issuer keys list`: the keys in a data directory (never their private halves).
pub fn list_keys_in(
    data_dir: &Path,
    clock: &ClockHandle,
) -> PlatformResult<Vec<keyring::KeySummary>> {
    let store = Store::open(Some(data_dir))?;
    let keys = KeyRing::open(&store, clock.now())?;
    Ok(keys.summaries(clock.now()))
}
