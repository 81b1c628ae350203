//! The `trove` binary: `serve` runs the server, `migrate` brings the database schema up to date,
//! `gc` cleans up once, `migrate-storage` copies blobs between stores, `migrate-db`
//! copies SQLite into PostgreSQL, `token` prints a
//! development JWT; `files`, `buckets` and `categories` are clients of a running server
//! ([`client`]).

use std::path::PathBuf;
use std::process::ExitCode;

mod client;
mod migrate_db;
mod migrate_storage;

use clap::{Parser, Subcommand};
use trove_server::auth::token::{TokenRequest, issue, parse_ttl};
use trove_server::config::{Config, LogFormat};
use trove_server::secrets::Origin;
use trove_server::server::{AdminKeySource, Server, token_secret};

#[derive(Debug, Parser)]
#[command(name = "trove", version, about = "A self-hosted Files API")]
struct Cli {
    /// A TOML configuration file; environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Remove expired pending and cancelled uploads and retry queued blob deletions (the server
    /// also does this every minute), then delete blobs no file references (older than an hour)
    /// and report files whose blob is missing.
    Gc {
        /// Print what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy every stored content to another blob store (file://, s3://), verifying each copy by
    /// its SHA-256; rerun to continue after an interruption. Switches nothing: set
    /// TROVE_STORAGE_URL afterwards. With --from equal to --to, moves blobs to the current key
    /// layout.
    MigrateStorage {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// Run the database migrations not applied yet (`serve` also does at start-up), and say how
    /// many ran.
    Migrate,
    /// Copy a SQLite database into PostgreSQL (every bucket, category, file, association,
    /// pending upload and queued deletion), verifying every table by row count and checksum;
    /// rerun to continue after an interruption. Switches nothing: set TROVE_DATABASE_URL
    /// afterwards.
    MigrateDb {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    /// Print the GraphQL schema (SDL), as kept in docs/schema.graphql.
    Schema,
    #[command(flatten)]
    Client(client::ClientCommand),
    /// Print an HS256 token signed with the configured secret, for development.
    Token {
        /// The user id (`sub`).
        #[arg(long)]
        user: String,
        /// The tenant id.
        #[arg(long)]
        tenant: Option<String>,
        /// A role; repeat for several (`admin` makes a tenant admin).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Lifetime, such as 90s, 15m, 1h or 7d.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

/// A line of what `serve` tells whoever started it. Standard output may be closed once the first
/// lines were read (a supervisor or a test that wants only the URL): the server keeps running.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Client commands speak to a server: the server's configuration is not theirs to read.
    let command = match cli.command {
        Command::Client(c) => return client::run(c),
        other => other,
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("trove: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match command {
        Command::Serve => serve(config),
        Command::Gc { dry_run } => gc(config, dry_run),
        Command::MigrateStorage { from, to } => migrate_storage::run(config, &from, &to),
        Command::Migrate => migrate(config),
        Command::MigrateDb { from, to } => migrate_db::run(config, &from, &to),
        Command::Schema => {
            print!("{}", trove_server::graphql::sdl());
            Ok(())
        }
        Command::Token {
            user,
            tenant,
            roles,
            ttl,
        } => token(config, user, tenant, roles, &ttl),
        Command::Client(_) => unreachable!("handled before the configuration is read"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trove: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TROVE_LOG")
        .unwrap_or_else(|_| "info,tower_http=info,sqlx=warn".into());
    // A log nobody reads any more (a closed pipe) must not stop the server: a failed write is
    // dropped, not reported on the same standard error (which would panic).
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .log_internal_errors(false);
    match config.operations.log_format {
        LogFormat::Text => logs.init(),
        // One object per line; the event's fields at the top, beside the request span's (request
        // id, route, caller), so that a collector indexes them without unnesting.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let server = Server::start(config).await?;
        say(format_args!("Trove listening on {}", server.url()));
        // The key itself is printed only when it was just generated: logs are kept and shared.
        match &server.admin_key_source {
            AdminKeySource::Configured => say(format_args!("Admin key: set by TROVE_ADMIN_KEY")),
            AdminKeySource::Stored(Origin::File(path)) => {
                say(format_args!("Admin key: read from {}", path.display()))
            }
            AdminKeySource::Stored(Origin::Generated(path)) => say(format_args!(
                "Admin key: {} (generated, stored in {})",
                server.state.config.admin_key.as_deref().unwrap_or_default(),
                path.display()
            )),
        }
        say(format_args!(
            "Console: {}{} (sign in with the admin key)",
            server.url(),
            trove_server::rest::console::PATH
        ));
        if let Some(at) = server.metrics_addr {
            say(format_args!("Metrics: http://{at}/metrics"));
        }
        tracing::info!(url = %server.url(), "serving");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        wait_for_signal(&mut term).await;
        tracing::info!(
            grace_secs = server.state.config.operations.shutdown_grace_secs,
            "shutting down: draining requests in flight"
        );
        // A second signal is the operator saying not to wait.
        tokio::select! {
            stopped = server.stop() => {
                tracing::info!("stopped");
                stopped
            }
            () = wait_for_signal(&mut term) => {
                anyhow::bail!("a second signal: stopped without waiting for requests in flight")
            }
        }
    })
}

async fn wait_for_signal(term: &mut tokio::signal::unix::Signal) {
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn gc(config: Config, dry_run: bool) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let state = trove_server::server::build_state(config).await?;
        let failed =
            |e: trove_server::error::ApiError| anyhow::anyhow!("{}: {}", e.code, e.message);
        if !dry_run {
            match trove_server::service::uploads::try_collect_garbage(&state)
                .await
                .map_err(failed)?
            {
                Some((files, blobs)) => {
                    println!("removed {files} expired uploads, deleted {blobs} queued blobs")
                }
                None => println!(
                    "another process is cleaning up right now (it holds the clean-up lease): no uploads removed"
                ),
            }
        }
        let audit = trove_server::service::audit::audit(&state, dry_run)
            .await
            .map_err(failed)?;
        let verb = if dry_run { "would delete" } else { "deleted" };
        for (key, size) in &audit.orphans {
            println!("{verb} unreferenced blob {key} ({size} bytes)");
        }
        for (id, key) in &audit.missing {
            println!("file {id} is ready but its blob {key} is missing");
        }
        println!(
            "{} unreferenced blobs ({verb}), {} files missing their blob",
            audit.orphans.len(),
            audit.missing.len()
        );
        Ok(())
    })
}

fn migrate(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let url = &config.database_url;
        let ran = if url.starts_with("sqlite:") {
            trove_meta::sqlite::SqliteMetaStore::migrate(url).await
        } else {
            let settings = trove_server::server::pg_settings(&config);
            match trove_meta::postgres::PgMetaStore::connect_without_migrating(url, &settings).await
            {
                Ok(store) => store.migrate().await,
                Err(e) => Err(e),
            }
        }
        .map_err(|e| anyhow::anyhow!("TROVE_DATABASE_URL: {e}"))?;
        let backend = if url.starts_with("sqlite:") {
            "SQLite"
        } else {
            "PostgreSQL"
        };
        println!("{backend} schema up to date: {ran} migrations applied");
        Ok(())
    })
}

fn token(
    config: Config,
    user: String,
    tenant: Option<String>,
    roles: Vec<String>,
    ttl: &str,
) -> anyhow::Result<()> {
    let ttl = parse_ttl(ttl).map_err(|e| anyhow::anyhow!("--ttl: {e}"))?;
    let secret = token_secret(&config)?;
    let jwt = &config.jwt;
    let token = issue(
        &secret,
        &TokenRequest {
            user,
            tenant,
            roles,
            ttl,
        },
        &jwt.tenant_claim,
        &jwt.roles_claim,
        jwt.issuer.as_deref(),
        jwt.audience.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    println!("{token}");
    Ok(())
}
