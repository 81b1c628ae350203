//! Starting and stopping a server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use trove_blob::BlobStore;
use trove_core::{Bucket, time};
use trove_meta::MetaStore;
use trove_meta::postgres::{PgMetaStore, PgSettings};
use trove_meta::sqlite::SqliteMetaStore;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::secrets;
use crate::service::uploads;
use crate::signing::Signer;
use crate::state::AppState;

/// How often expired uploads are removed and queued blob deletions retried.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// How long a shutdown waits for a clean-up pass that is running.
const SWEEPER_WAIT: Duration = Duration::from_secs(5);

/// Where the admin key and development JWT secret live when not configured.
pub const ADMIN_KEY_FILE: &str = "admin-key";
pub const JWT_SECRET_FILE: &str = "jwt-secret";
pub const SIGNING_KEY_FILE: &str = "signing-key";

/// Where the admin key in use came from, for the start-up message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminKeySource {
    /// `TROVE_ADMIN_KEY` (or the configuration file).
    Configured,
    Stored(secrets::Origin),
}

/// Fills in the secrets the configuration leaves out, from (or into) the data directory.
///
/// With no JWT setting at all, an HS256 secret is generated so that `trove token` works out of the
/// box; as soon as any JWT setting is given, only what is configured is accepted.
pub fn resolve_secrets(config: &mut Config) -> anyhow::Result<AdminKeySource> {
    let source = match &config.admin_key {
        Some(_) => AdminKeySource::Configured,
        None => {
            let (key, origin) = secrets::load_or_create(&config.data_dir, ADMIN_KEY_FILE)?;
            config.admin_key = Some(key);
            AdminKeySource::Stored(origin)
        }
    };
    if config.signing_keys.is_empty() {
        config.signing_keys = vec![secrets::load_or_create(&config.data_dir, SIGNING_KEY_FILE)?.0];
    }
    let jwt = &config.jwt;
    if jwt.secret.is_none() && jwt.public_key_pem.is_none() && jwt.jwks_url.is_none() {
        config.jwt.secret = Some(secrets::load_or_create(&config.data_dir, JWT_SECRET_FILE)?.0);
    }
    Ok(source)
}

/// The HS256 secret `trove token` signs with: the configured one, or the one a server generated
/// in the data directory. Never creates one: a token signed with a fresh secret would be refused
/// by the server it is meant for.
pub fn token_secret(config: &Config) -> anyhow::Result<String> {
    if let Some(secret) = &config.jwt.secret {
        return Ok(secret.clone());
    }
    if config.jwt.public_key_pem.is_some() || config.jwt.jwks_url.is_some() {
        anyhow::bail!(
            "TROVE_JWT_SECRET: not set, and tokens are verified with a public key or JWKS here; \
             trove token signs HS256 tokens only"
        );
    }
    let path = config.data_dir.join(JWT_SECRET_FILE);
    secrets::load(&config.data_dir, JWT_SECRET_FILE)?.ok_or_else(|| {
        anyhow::anyhow!(
            "TROVE_JWT_SECRET: not set, and no {} exists: run trove token with the same \
             TROVE_DATA_DIR (or configuration) as trove serve, or set TROVE_JWT_SECRET",
            path.display()
        )
    })
}

/// The file behind a `sqlite://` URL, created with mode 0600 before SQLite opens it (SQLite gives
/// its `-wal` and `-shm` files the database file's mode).
fn private_database_file(database_url: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let Some(rest) = database_url.strip_prefix("sqlite://") else {
        return Ok(());
    };
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path.starts_with(':') {
        return Ok(());
    }
    let path = std::path::Path::new(path);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The metadata store the database URL names, with its migrations run.
pub async fn open_meta(config: &Config) -> Result<Arc<dyn MetaStore>, trove_meta::MetaError> {
    Ok(if config.database_url.starts_with("sqlite:") {
        Arc::new(SqliteMetaStore::connect(&config.database_url).await?)
    } else {
        Arc::new(PgMetaStore::connect(&config.database_url, &pg_settings(config)).await?)
    })
}

/// The PostgreSQL pool settings of a configuration.
pub fn pg_settings(config: &Config) -> PgSettings {
    PgSettings {
        pool_size: config.database_pool_size,
        timeout: std::time::Duration::from_secs(config.database_timeout_secs),
    }
}

/// Opens the stores and builds the shared state.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    Ok(build_state_reporting(config).await?.0)
}

/// [`build_state`], also saying where the admin key came from.
pub async fn build_state_reporting(
    mut config: Config,
) -> anyhow::Result<(AppState, AdminKeySource)> {
    secrets::private_dir(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("TROVE_DATA_DIR: {}: {e}", config.data_dir.display()))?;
    let source = resolve_secrets(&mut config)?;
    private_database_file(&config.database_url)
        .map_err(|e| anyhow::anyhow!("TROVE_DATABASE_URL: {e}"))?;
    let meta = open_meta(&config)
        .await
        .map_err(|e| anyhow::anyhow!("TROVE_DATABASE_URL: {e}"))?;
    let blobs = BlobStore::open(&config.storage_url, &config.s3)
        .await
        .map_err(|e| {
            // S3's messages name their own setting; the others are about the URL.
            if e.starts_with("TROVE_") {
                anyhow::anyhow!(e)
            } else {
                anyhow::anyhow!("TROVE_STORAGE_URL: {e}")
            }
        })?;
    meta.ensure_bucket(&Bucket::default_bucket(time::now()))
        .await?;
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let auth = Authenticator::new(
        config.admin_key.as_deref().unwrap_or_default(),
        &config.jwt,
        metrics.jwks_refreshes.clone(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let signer = Signer::new(
        config
            .signing_keys
            .iter()
            .map(|k| k.as_bytes().to_vec())
            .collect(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let state = AppState {
        tus_hashes: Arc::default(),
        images: Arc::new(crate::images::Renderer::new(config.images.clone())),
        lifecycle: crate::lifecycle::Lifecycle::new(),
        metrics,
        config: Arc::new(config),
        meta,
        blobs,
        auth: Arc::new(auth),
        signer: Arc::new(signer),
    };
    Ok((state, source))
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    /// Where the admin key came from.
    pub admin_key_source: AdminKeySource,
    /// Where `TROVE_METRICS_ADDR` serves `/metrics`, when set.
    pub metrics_addr: Option<SocketAddr>,
    task: JoinHandle<std::io::Result<()>>,
    metrics_task: Option<JoinHandle<std::io::Result<()>>>,
    sweeper: JoinHandle<()>,
    refresher: JoinHandle<()>,
}

/// Reads the stored figures of `/metrics` every `TROVE_METRICS_REFRESH` seconds, until the node
/// drains.
async fn refresh_metrics(state: AppState) {
    let every = Duration::from_secs(state.config.operations.metrics_refresh_secs);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = state.lifecycle.drain_started() => break,
        }
        if let Err(e) = crate::metrics::refresh(&state).await {
            tracing::warn!(error = %e, "reading the stored figures for /metrics failed");
        }
    }
}

impl Server {
    /// Binds the configured address (port 0 picks a free one) and starts serving.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|e| anyhow::anyhow!("TROVE_ADDR: cannot listen on {}: {e}", config.addr))?;
        let addr = listener.local_addr()?;
        let mut config = config;
        if config.addr.port() == 0 && config.public_url.ends_with(":0") {
            config.public_url = format!("http://{addr}");
        }
        let (state, admin_key_source) = build_state_reporting(config).await?;
        // What a crashed writer left behind goes before serving (and every minute after).
        let swept = state.blobs.sweep_abandoned_writes().await?;
        if swept > 0 {
            tracing::info!(swept, "removed the staged bytes of interrupted uploads");
        }
        let app = crate::app::router(state.clone());
        // Expired uploads and queued deletions too: once before serving, so that the first pass
        // never races the first requests, then every minute.
        if let Err(e) = uploads::collect_garbage(&state).await {
            tracing::warn!(error = ?e, "clean-up failed");
        }
        let sweeper = state.clone();
        let sweeper = tokio::spawn(async move {
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + SWEEP_INTERVAL,
                SWEEP_INTERVAL,
            );
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = sweeper.lifecycle.drain_started() => break,
                }
                if let Err(e) = uploads::collect_garbage(&sweeper).await {
                    tracing::warn!(error = ?e, "clean-up failed");
                }
            }
        });
        let limits = state.config.limits.clone();
        let grace = Duration::from_secs(state.config.operations.shutdown_grace_secs);
        let (metrics_addr, metrics_task) = match state.config.operations.metrics_addr {
            None => (None, None),
            Some(at) => {
                let listener = TcpListener::bind(at).await.map_err(|e| {
                    anyhow::anyhow!("TROVE_METRICS_ADDR: cannot listen on {at}: {e}")
                })?;
                let bound = listener.local_addr()?;
                let task = tokio::spawn(crate::listener::serve(
                    listener,
                    crate::metrics::endpoint::open_router(state.clone()),
                    limits.clone(),
                    state.lifecycle.clone(),
                    grace,
                ));
                (Some(bound), Some(task))
            }
        };
        // The stored figures are there from the first scrape.
        if let Err(e) = crate::metrics::refresh(&state).await {
            tracing::warn!(error = %e, "reading the stored figures for /metrics failed");
        }
        let refresher = tokio::spawn(refresh_metrics(state.clone()));
        let task = tokio::spawn(crate::listener::serve(
            listener,
            app,
            limits,
            state.lifecycle.clone(),
            grace,
        ));
        Ok(Self {
            addr,
            metrics_addr,
            state,
            admin_key_source,
            task,
            metrics_task,
            sweeper,
            refresher,
        })
    }

    /// The base URL clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts down as [`crate::lifecycle`] describes: drains, lets requests in flight finish within
    /// `TROVE_SHUTDOWN_GRACE`, cuts off what is left, then closes the metadata store.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.state.lifecycle.drain();
        self.task.await??;
        if let Some(metrics) = self.metrics_task {
            metrics.await??;
        }
        self.refresher.abort();
        // A clean-up pass that is running finishes (its lease and transactions end cleanly) unless
        // it outlasts the requests' own wait.
        let mut sweeper = self.sweeper;
        if tokio::time::timeout(SWEEPER_WAIT, &mut sweeper)
            .await
            .is_err()
        {
            sweeper.abort();
        }
        self.state.meta.close().await;
        Ok(())
    }
}
