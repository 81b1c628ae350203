//! Client commands: `trove files`, `trove buckets` and `trove categories` speak to a running
//! server over its REST API, for shell scripts and people at a terminal.
//!
//! Error policy: a failure the server reports exits 1 with its code and message on standard
//! error (`trove: not_found: file not found`); a server that cannot be reached, or a local file
//! that cannot be read or written, exits 1 too, saying which; bad usage exits 2 (clap's own
//! code). Nothing but the asked-for output goes to standard output, so it can be piped.

mod admin;
mod download;
mod files;
mod profile;
mod upload;

use std::process::ExitCode;

use clap::{Args, Subcommand};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

pub use admin::{BucketsAction, CategoriesAction};
pub use files::FilesAction;

/// Where the server is and who is calling; each falls back to the environment, then to the
/// profile in the configuration file.
#[derive(Debug, Clone, Args)]
pub struct Connection {
    /// The server's base URL.
    #[arg(long, env = "TROVE_URL", global = true)]
    url: Option<String>,
    /// A user's JWT, sent as `Authorization: Bearer`.
    #[arg(long, env = "TROVE_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// The admin key.
    #[arg(long, env = "TROVE_ADMIN_KEY", global = true, hide_env_values = true)]
    admin_key: Option<String>,
    /// A profile of the configuration file (`{config dir}/trove/cli.toml`).
    #[arg(long, env = "TROVE_PROFILE", global = true, default_value = "default")]
    profile: String,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Upload, list, download, delete files and make signed URLs.
    Files {
        #[command(flatten)]
        connection: Connection,
        #[command(subcommand)]
        action: FilesAction,
    },
    /// List, create, update and delete buckets (the admin key changes them).
    Buckets {
        #[command(flatten)]
        connection: Connection,
        #[command(subcommand)]
        action: BucketsAction,
    },
    /// List, create, update and delete categories.
    Categories {
        #[command(flatten)]
        connection: Connection,
        #[command(subcommand)]
        action: CategoriesAction,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The server answered with an error.
    #[error("{code}: {message}")]
    Server {
        status: u16,
        code: String,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

impl Failure {
    fn other(e: impl std::fmt::Display) -> Self {
        Self::Other(e.to_string())
    }
}

type Outcome<T> = Result<T, Failure>;

/// Runs a client command and says how it ended.
pub fn run(command: ClientCommand) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trove: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            ClientCommand::Files { connection, action } => {
                files::run(&Api::connect(&connection)?, action).await
            }
            ClientCommand::Buckets { connection, action } => {
                admin::buckets(&Api::connect(&connection)?, action).await
            }
            ClientCommand::Categories { connection, action } => {
                admin::categories(&Api::connect(&connection)?, action).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trove: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A server and the credentials to call it with.
pub struct Api {
    base: String,
    http: reqwest::Client,
    auth: Auth,
}

enum Auth {
    None,
    Bearer(String),
    AdminKey(String),
}

impl Api {
    fn connect(c: &Connection) -> Outcome<Self> {
        let saved = profile::load(&c.profile)?;
        let base = c
            .url
            .clone()
            .or(saved.url)
            .ok_or_else(|| {
                Failure::Other(
                    "no server: pass --url, set TROVE_URL, or add url to the profile".into(),
                )
            })?
            .trim_end_matches('/')
            .to_owned();
        reqwest::Url::parse(&base).map_err(|e| Failure::Other(format!("--url {base}: {e}")))?;
        let auth = match (
            c.token.clone().or(saved.token),
            c.admin_key.clone().or(saved.admin_key),
        ) {
            (Some(token), _) => Auth::Bearer(token),
            (None, Some(key)) => Auth::AdminKey(key),
            (None, None) => Auth::None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(Failure::other)?;
        Ok(Self { base, http, auth })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request to `path` (under the base URL) with the credentials.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_url(method, &self.url(path))
    }

    fn request_url(&self, method: Method, url: &str) -> RequestBuilder {
        let req = self.http.request(method, url);
        match &self.auth {
            Auth::None => req,
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::AdminKey(k) => req.header("x-trove-admin-key", k),
        }
    }

    /// Sends, and turns an error answer into a [`Failure::Server`].
    async fn send(&self, req: RequestBuilder) -> Outcome<Response> {
        let res = req.send().await.map_err(|e| {
            Failure::Other(format!("cannot reach {}: {}", self.base, root_cause(&e)))
        })?;
        checked(res).await
    }

    async fn json(&self, req: RequestBuilder) -> Outcome<Value> {
        self.send(req)
            .await?
            .json()
            .await
            .map_err(|e| Failure::Other(format!("the server's answer is not JSON: {e}")))
    }
}

/// An error answer as a [`Failure::Server`]; any other answer as it is.
async fn checked(res: Response) -> Outcome<Response> {
    let status = res.status();
    if status.is_success() || status.is_redirection() {
        return Ok(res);
    }
    let body: Value = res.json().await.unwrap_or(Value::Null);
    let error = &body["error"];
    Err(Failure::Server {
        status: status.as_u16(),
        code: error["code"].as_str().unwrap_or("error").to_owned(),
        message: error["message"]
            .as_str()
            .map_or_else(|| status.to_string(), str::to_owned),
    })
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Prints JSON for a script to read.
fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Bytes as people read them.
fn human_bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}
