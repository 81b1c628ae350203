//! Starting and stopping a server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use trove_blob::BlobStore;
use trove_core::{Bucket, time};
use trove_meta::MetaStore;
use trove_meta::sqlite::SqliteMetaStore;

use crate::auth::Authenticator;
use crate::config::Config;
use crate::secrets;
use crate::service::uploads;
use crate::signing::Signer;
use crate::state::AppState;

/// How often expired uploads are removed and queued blob deletions retried.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// Where the admin key and development JWT secret live when not configured.
pub const ADMIN_KEY_FILE: &str = "admin-key";
pub const JWT_SECRET_FILE: &str = "jwt-secret";
pub const SIGNING_KEY_FILE: &str = "signing-key";

/// Fills in the secrets the configuration leaves out, from (or into) the data directory.
///
/// With no JWT setting at all, an HS256 secret is generated so that `trove token` works out of the
/// box; as soon as any JWT setting is given, only what is configured is accepted.
pub fn resolve_secrets(config: &mut Config) -> anyhow::Result<()> {
    if config.admin_key.is_none() {
        config.admin_key = Some(secrets::load_or_create(&config.data_dir, ADMIN_KEY_FILE)?);
    }
    if config.signing_keys.is_empty() {
        config.signing_keys = vec![secrets::load_or_create(&config.data_dir, SIGNING_KEY_FILE)?];
    }
    let jwt = &config.jwt;
    if jwt.secret.is_none() && jwt.public_key_pem.is_none() && jwt.jwks_url.is_none() {
        config.jwt.secret = Some(secrets::load_or_create(&config.data_dir, JWT_SECRET_FILE)?);
    }
    Ok(())
}

/// Opens the stores and builds the shared state.
pub async fn build_state(mut config: Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)?;
    resolve_secrets(&mut config)?;
    let meta: Arc<dyn MetaStore> = Arc::new(
        SqliteMetaStore::connect(&config.database_url)
            .await
            .map_err(|e| anyhow::anyhow!("TROVE_DATABASE_URL: {e}"))?,
    );
    let blobs = BlobStore::from_url(&config.storage_url)
        .await
        .map_err(|e| anyhow::anyhow!("TROVE_STORAGE_URL: {e}"))?;
    meta.ensure_bucket(&Bucket::default_bucket(time::now()))
        .await?;
    let auth = Authenticator::new(config.admin_key.as_deref().unwrap_or_default(), &config.jwt)
        .map_err(|e| anyhow::anyhow!(e))?;
    let signer = Signer::new(
        config
            .signing_keys
            .iter()
            .map(|k| k.as_bytes().to_vec())
            .collect(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    Ok(AppState {
        config: Arc::new(config),
        meta,
        blobs,
        auth: Arc::new(auth),
        signer: Arc::new(signer),
    })
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
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
        let state = build_state(config).await?;
        // What a crashed writer left behind goes before serving (and every minute after).
        let swept = state.blobs.sweep_abandoned_writes().await?;
        if swept > 0 {
            tracing::info!(swept, "removed the staged bytes of interrupted uploads");
        }
        let app = crate::app::router(state.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let sweeper = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(SWEEP_INTERVAL);
            loop {
                tick.tick().await;
                if let Err(e) = uploads::collect_garbage(&sweeper).await {
                    tracing::warn!(error = ?e, "clean-up failed");
                }
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        Ok(Self {
            addr,
            state,
            shutdown: Some(tx),
            task,
        })
    }

    /// The base URL clients use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        (&mut self.task).await??;
        Ok(())
    }
}
