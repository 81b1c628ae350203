//! `TestApp`: a running server and helpers to call it as the admin, a user or nobody.

use std::path::Path;
use std::time::Duration;

use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use tempfile::TempDir;
use trove_server::auth::token::{TokenRequest, issue};
use trove_server::config::Config;
use trove_server::server::Server;

/// Who makes a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    Admin,
    /// The admin key acting for a user (`X-Trove-User-Id`/`X-Trove-Tenant-Id`).
    AdminAs(String, Option<String>),
    Bearer(String),
    Anonymous,
}

pub struct TestApp {
    pub server: Server,
    pub url: String,
    pub client: Client,
    pub dir: TempDir,
}

type ConfigTweak = Box<dyn FnOnce(&mut Config)>;

pub struct TestAppBuilder {
    tweaks: Vec<ConfigTweak>,
}

impl TestAppBuilder {
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.tweaks.push(Box::new(f));
        self
    }

    /// Bytes in a local folder under the data directory, whatever `TROVE_TEST_STORAGE_URL` says:
    /// for tests of what that backend does on disk, and for resumable uploads, which object
    /// storage does not keep yet.
    pub fn local_storage(self) -> Self {
        self.config(|c| c.storage_url = format!("file://{}", c.data_dir.join("blobs").display()))
    }

    /// Metadata in the SQLite file under the data directory, whatever `TROVE_TEST_DATABASE_URL`
    /// says: for tests that read or change that file behind the server's back.
    pub fn sqlite(self) -> Self {
        self.config(|c| {
            c.database_url = format!("sqlite://{}", c.data_dir.join("trove.db").display())
        })
    }

    /// Bytes in the S3 server named by `TROVE_TEST_S3_URL`, under a prefix of this app's own;
    /// `None` when there is none (a developer's machine), a failure under CI.
    pub fn s3_storage(self) -> Option<Self> {
        let Ok(url) = std::env::var("TROVE_TEST_S3_URL") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the S3 tests: set TROVE_TEST_S3_URL"
            );
            return None;
        };
        Some(self.config(move |c| {
            c.storage_url = format!("{}/{}", url.trim_end_matches('/'), uuid::Uuid::new_v4());
            c.s3.force_path_style = true;
        }))
    }

    /// Every content in the blob store, however small: for tests of the blob store itself.
    pub fn blobs_only(self) -> Self {
        self.config(|c| c.inline_max_bytes = 0)
    }

    pub async fn start(self) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::for_tests(dir.path());
        for tweak in self.tweaks {
            tweak(&mut config);
        }
        let server = Server::start(config).await.expect("server starts");
        TestApp {
            url: server.url(),
            server,
            client: Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            dir,
        }
    }
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder { tweaks: Vec::new() }
    }

    pub async fn start() -> Self {
        Self::builder().start().await
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The database this app's metadata lives in, for commands run beside it.
    pub fn database_url(&self) -> &str {
        &self.server.state.config.database_url
    }

    pub fn admin_key(&self) -> String {
        self.server.state.config.admin_key.clone().unwrap()
    }

    /// An HS256 token for a user, signed with the server's secret.
    pub fn token(&self, user: &str, tenant: Option<&str>, roles: &[&str]) -> String {
        let jwt = &self.server.state.config.jwt;
        issue(
            jwt.secret.as_deref().expect("HS256 secret"),
            &TokenRequest {
                user: user.into(),
                tenant: tenant.map(Into::into),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                ttl: Duration::from_secs(3600),
            },
            &jwt.tenant_claim,
            &jwt.roles_claim,
            jwt.issuer.as_deref(),
            jwt.audience.as_deref(),
        )
        .unwrap()
    }

    pub fn user(&self, user: &str, tenant: Option<&str>) -> Who {
        Who::Bearer(self.token(user, tenant, &[]))
    }

    pub fn tenant_admin(&self, user: &str, tenant: &str) -> Who {
        Who::Bearer(self.token(user, Some(tenant), &["admin"]))
    }

    pub fn request(&self, method: Method, path: &str, who: &Who) -> RequestBuilder {
        let rb = self.client.request(method, format!("{}{}", self.url, path));
        match who {
            Who::Admin => rb.header("x-trove-admin-key", self.admin_key()),
            Who::AdminAs(user, tenant) => {
                let rb = rb
                    .header("x-trove-admin-key", self.admin_key())
                    .header("x-trove-user-id", user);
                match tenant {
                    Some(t) => rb.header("x-trove-tenant-id", t),
                    None => rb,
                }
            }
            Who::Bearer(t) => rb.bearer_auth(t),
            Who::Anonymous => rb,
        }
    }

    pub fn get(&self, path: &str, who: &Who) -> RequestBuilder {
        self.request(Method::GET, path, who)
    }

    /// A GraphQL request as `who`; asserts 200 and returns the JSON answer.
    pub async fn graphql(&self, who: &Who, query: &str, variables: Value) -> Value {
        let res = self
            .request(Method::POST, "/graphql", who)
            .json(&serde_json::json!({"query": query, "variables": variables}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// `POST /v1/files` with a multipart body, as `who`.
    pub async fn post_multipart(&self, who: &Who, form: reqwest::multipart::Form) -> Response {
        self.request(Method::POST, "/v1/files", who)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// `GET path` as `who`, the body as JSON, whatever the status.
    pub async fn get_json(&self, path: &str, who: &Who) -> Value {
        self.get(path, who)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Uploads raw bytes and returns the created file, asserting 201.
    pub async fn upload(
        &self,
        who: &Who,
        query: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Value {
        let res = self
            .request(Method::POST, &format!("/v1/files?{query}"), who)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let json: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "upload failed: {json}");
        json
    }

    pub async fn create_bucket(&self, body: Value) -> Value {
        let res = self
            .request(Method::POST, "/v1/buckets", &Who::Admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }
}

/// The error code of an API error response, asserting the status.
pub async fn error_code(res: Response, status: u16) -> String {
    assert_eq!(res.status().as_u16(), status, "unexpected status");
    assert!(res.headers().contains_key("x-request-id"));
    let body: Value = res.json().await.unwrap();
    body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body}"))
        .to_owned()
}

pub fn id_of(file: &Value) -> String {
    file["id"].as_str().unwrap().to_owned()
}

/// Polls `condition` every 10 ms until it holds; panics after `secs` seconds.
pub async fn wait_until(secs: u64, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tick.tick().await;
    }
}

/// A `trove serve` process with its own data directory.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub url: String,
    pub admin_key: String,
    /// What `trove serve` printed first: the URL line and the admin key line.
    pub first_lines: [String; 2],
}

impl ServerProcess {
    pub fn spawn(data_dir: &Path, extra_env: &[(&str, &str)]) -> Self {
        Self::spawn_logging_to(data_dir, extra_env, std::process::Stdio::inherit())
    }

    /// [`ServerProcess::spawn`], with the log (standard error) going to `stderr`.
    pub fn spawn_logging_to(
        data_dir: &Path,
        extra_env: &[(&str, &str)],
        stderr: std::process::Stdio,
    ) -> Self {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_trove"));
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TROVE_ADDR", "127.0.0.1:0")
            .env("TROVE_DATA_DIR", data_dir)
            .env("TROVE_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(stderr);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("trove starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().expect("a first line").unwrap();
        let url = first
            .strip_prefix("Trove listening on ")
            .expect("the URL line")
            .to_owned();
        let second = lines.next().expect("a second line").unwrap();
        let said = second
            .strip_prefix("Admin key: ")
            .expect("the admin key line")
            .to_owned();
        let admin_key = if said == "set by TROVE_ADMIN_KEY" {
            extra_env
                .iter()
                .find(|(k, _)| *k == "TROVE_ADMIN_KEY")
                .map(|(_, v)| (*v).to_owned())
                .expect("the configured key")
        } else if let Some(path) = said.strip_prefix("read from ") {
            std::fs::read_to_string(path).unwrap().trim().to_owned()
        } else {
            said.split(' ').next().unwrap().to_owned()
        };
        Self {
            child,
            url,
            admin_key,
            first_lines: [first, second],
        }
    }

    /// A request to `path` on this server with its admin key.
    pub fn admin(&self, client: &reqwest::Client, method: Method, path: &str) -> RequestBuilder {
        client
            .request(method, format!("{}{path}", self.url))
            .header("x-trove-admin-key", &self.admin_key)
    }

    /// The bytes of file `id`, read with the admin key.
    pub async fn content(&self, client: &reqwest::Client, id: &str) -> bytes::Bytes {
        let res = self
            .admin(client, Method::GET, &format!("/v1/files/{id}/content"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap()
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Blob files on disk, outside the staging folder.
/// The local folder holding the revisions of file `id` (local storage only).
pub fn file_folder(app: &TestApp, bucket: &str, id: &str) -> std::path::PathBuf {
    let key = trove_core::FileRecord::blob_key(
        &trove_core::BucketId::parse(bucket).unwrap(),
        trove_core::FileId::parse(id).unwrap(),
        trove_core::RevisionId::new(),
    );
    let folder = key.rsplit_once('/').unwrap().0;
    app.data_dir().join("blobs").join(folder)
}

/// How many blobs the store holds (not counting unfinished writes), whatever the backend.
pub async fn stored_blobs(app: &TestApp) -> usize {
    use futures_util::TryStreamExt;
    let all: Vec<_> = app.server.state.blobs.list("").try_collect().await.unwrap();
    all.len()
}

pub fn staged(app: &TestApp) -> usize {
    std::fs::read_dir(app.data_dir().join("blobs/.staging"))
        .unwrap()
        .count()
}

/// Whether no unfinished write left bytes behind. Only the local folder's staging can be looked
/// at: on object storage an unfinished write is a multipart upload, which its writer aborts and
/// which `object_store` cannot list, so there the stored blobs are all a test can check.
pub fn nothing_staged(app: &TestApp) -> bool {
    !app.server.state.config.local_storage() || staged(app) == 0
}

/// Polls an async `condition` every 10 ms until it holds; panics after `secs` seconds.
pub async fn wait_for<F, Fut>(secs: u64, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tick.tick().await;
    }
}

/// A request body fed chunk by chunk from the test; dropping the sender ends it, sending an error
/// breaks it off.
pub fn channel_body() -> (
    tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    reqwest::Body,
) {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    (tx, reqwest::Body::wrap_stream(stream))
}

/// A stand-in for `tokio_stream::wrappers::ReceiverStream`: a request body the test feeds chunk
/// by chunk.
pub struct ReceiverStream<T>(pub tokio::sync::mpsc::Receiver<T>);

impl<T> futures_util::Stream for ReceiverStream<T> {
    type Item = T;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<T>> {
        self.0.poll_recv(cx)
    }
}
