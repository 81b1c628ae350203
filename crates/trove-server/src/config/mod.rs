//! Configuration: defaults, then an optional TOML file, then `TROVE_*` environment variables.
//!
//! Every value is read as text and parsed here, so that a bad value stops start-up with one line
//! that names the environment variable and the problem (`TROVE_ADDR: …`), whichever layer it came
//! from. Environment values are taken byte for byte (no TOML parsing, so `"x"` keeps its quotes and
//! `00123` its zeros), and a `TROVE_*` variable that is not a setting stops start-up with the closest
//! known name, so a typo never silently falls back to a default.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use trove_blob::S3Settings;

mod images;
mod jwt;
mod layers;
mod operations;
mod settings;
pub use images::ImageSettings;
pub use operations::{LogFormat, Operations};
pub use settings::{SETTINGS, Setting};
use settings::{VERBATIM, check_jwks_url};

/// A configuration problem: the variable it concerns and what is wrong, shown as one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: String,
    pub problem: String,
}

fn bad(var: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var: var.to_owned(),
        problem: problem.into(),
    }
}

/// How user tokens are verified; several may be configured at once, each for its own algorithms.
#[derive(Debug, Clone, Default)]
pub struct JwtConfig {
    /// HS256 secret, as raw UTF-8 bytes.
    pub secret: Option<String>,
    /// PEM public key for RS256 or ES256.
    pub public_key_pem: Option<String>,
    pub jwks_url: Option<String>,
    /// A claim name, or a path into an object claim (`https://hasura.io/jwt/claims.x-hasura-org-id`).
    pub tenant_claim: String,
    pub roles_claim: String,
    /// The object claim holding Hasura's `x-hasura-*` claims, when a token has it.
    pub claims_namespace: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Least time between two JWKS fetches, in seconds.
    pub jwks_min_refresh_secs: u64,
}

/// Where Nhost (and Hasura) put a user's claims.
pub const DEFAULT_CLAIMS_NAMESPACE: &str = "https://hasura.io/jwt/claims";

/// Bounds on connections and requests below the handlers.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Most bytes of a request line and headers.
    pub max_header_bytes: usize,
    /// Time to send a request's headers, and most time an idle keep-alive connection stays open.
    pub header_timeout_secs: u64,
    /// Most time an upload body may go without a byte arriving.
    pub body_timeout_secs: u64,
    pub max_connections: usize,
}

/// Contents up to this size live in the metadata database by default; see docs/benchmarks.md for
/// the measurement behind it.
pub const DEFAULT_INLINE_MAX_BYTES: u64 = 64 * 1024;
/// The largest inline threshold accepted: every upload holds up to this much in memory before it
/// knows where its bytes go.
pub const MAX_INLINE_MAX_BYTES: u64 = 1024 * 1024;

/// The server's configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Base URL for absolute links, without a trailing slash.
    pub public_url: String,
    pub database_url: String,
    /// Most connections to PostgreSQL (`TROVE_DATABASE_POOL_SIZE`).
    pub database_pool_size: u32,
    /// Longest wait for a database connection and longest statement, in seconds
    /// (`TROVE_DATABASE_TIMEOUT`).
    pub database_timeout_secs: u64,
    pub storage_url: String,
    /// How to reach an `s3://` storage URL (`TROVE_S3_*`).
    pub s3: S3Settings,
    /// Signed and public download URLs redirect to the store's presigned URL
    /// (`TROVE_S3_PRESIGNED_DOWNLOADS`).
    pub presigned_downloads: bool,
    pub admin_key: Option<String>,
    pub jwt: JwtConfig,
    /// Allowed CORS origins; `*` allows any.
    pub cors_origins: Vec<String>,
    /// Largest JSON request body, in bytes.
    pub max_json_body: usize,
    /// Most file parts in one multipart request.
    pub max_files_per_request: usize,
    pub limits: ConnectionLimits,
    /// Seconds a direct upload stays open (`TROVE_UPLOAD_EXPIRY`).
    pub upload_expiry_secs: u64,
    /// Contents up to this many bytes are kept in the metadata database with their row instead of
    /// in the blob store (`TROVE_INLINE_MAX_BYTES`; 0 keeps every content in the blob store).
    pub inline_max_bytes: u64,
    /// Keys for signed URLs (`TROVE_SIGNING_KEY`, comma-separated, at least 32 bytes each); the first
    /// signs. Generated into the data directory when unset.
    pub signing_keys: Vec<String>,
    /// Bounds of image transformations (`TROVE_IMAGE_*`).
    pub images: ImageSettings,
    /// Shutdown, metrics and logs.
    pub operations: Operations,
}

impl Config {
    /// Builds a configuration from lower-case keys without the `TROVE_` prefix (`addr`, `data_dir`…).
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |key: &str| {
            values
                .get(key)
                .map(|s| {
                    if VERBATIM.contains(&key) {
                        s.clone()
                    } else {
                        s.trim().to_owned()
                    }
                })
                .filter(|s| !s.is_empty())
        };
        let number = |key: &str, default: u64, min: u64, what: &str| -> Result<u64, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().ok().filter(|n| *n >= min).ok_or_else(|| {
                    bad(
                        &format!("TROVE_{}", key.to_ascii_uppercase()),
                        format!("'{v}' is not {what}"),
                    )
                }),
            }
        };
        let addr_text = get("addr").unwrap_or_else(|| "127.0.0.1:8080".into());
        let addr: SocketAddr = addr_text.parse().map_err(|_| {
            bad(
                "TROVE_ADDR",
                format!("'{addr_text}' is not a socket address such as 127.0.0.1:8080"),
            )
        })?;
        let data_dir = PathBuf::from(get("data_dir").unwrap_or_else(|| "./trove-data".into()));
        let public_url = match get("public_url") {
            Some(u) => {
                if !(u.starts_with("http://") || u.starts_with("https://"))
                    || u.contains(char::is_whitespace)
                {
                    return Err(bad(
                        "TROVE_PUBLIC_URL",
                        format!("'{u}' is not an http(s) URL"),
                    ));
                }
                u.trim_end_matches('/').to_owned()
            }
            None if addr.ip().is_unspecified() => {
                return Err(bad(
                    "TROVE_PUBLIC_URL",
                    format!(
                        "must be set when TROVE_ADDR is {addr}: the URLs Trove returns need an address clients can reach, such as https://files.example.com"
                    ),
                ));
            }
            None => format!("http://{addr}"),
        };
        let database_url = get("database_url")
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("trove.db").display()));
        if !["sqlite:", "postgres://", "postgresql://"]
            .iter()
            .any(|scheme| database_url.starts_with(scheme))
        {
            return Err(bad(
                "TROVE_DATABASE_URL",
                format!("'{database_url}' is not supported (expected sqlite:// or postgres://)"),
            ));
        }
        let database_pool_size = number(
            "database_pool_size",
            16,
            1,
            "a number of connections (at least 1)",
        )?
        .min(10_000) as u32;
        let database_timeout_secs =
            number("database_timeout", 5, 1, "a number of seconds (at least 1)")?;
        let storage_url = get("storage_url")
            .unwrap_or_else(|| format!("file://{}", data_dir.join("blobs").display()));
        if !["file://", "memory:", "s3://"]
            .iter()
            .any(|scheme| storage_url.starts_with(scheme))
        {
            return Err(bad(
                "TROVE_STORAGE_URL",
                format!("'{storage_url}' is not supported (expected file://, s3:// or memory://)"),
            ));
        }
        let flag = |key: &str, var: &str| -> Result<bool, ConfigError> {
            match get(key).as_deref() {
                None | Some("false") | Some("0") => Ok(false),
                Some("true") | Some("1") => Ok(true),
                Some(v) => Err(bad(var, format!("'{v}' is not true or false"))),
            }
        };
        let s3 = S3Settings {
            endpoint: get("s3_endpoint"),
            region: get("s3_region"),
            access_key_id: get("s3_access_key_id"),
            secret_access_key: get("s3_secret_access_key"),
            session_token: None,
            force_path_style: flag("s3_force_path_style", "TROVE_S3_FORCE_PATH_STYLE")?,
        };
        if let Some(e) = &s3.endpoint
            && !(e.starts_with("http://") || e.starts_with("https://"))
        {
            return Err(bad(
                "TROVE_S3_ENDPOINT",
                format!("'{e}' is not an http:// or https:// URL"),
            ));
        }
        let presigned_downloads = flag("s3_presigned_downloads", "TROVE_S3_PRESIGNED_DOWNLOADS")?;
        let admin_key = get("admin_key");
        if let Some(k) = &admin_key
            && k.len() < 16
        {
            return Err(bad("TROVE_ADMIN_KEY", "must be at least 16 characters"));
        }
        let jwt_public_key = match get("jwt_public_key") {
            Some(v) if v.starts_with("-----BEGIN") => Some(v),
            Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
                bad(
                    "TROVE_JWT_PUBLIC_KEY",
                    format!("neither a PEM key nor a readable file ({path}: {e})"),
                )
            })?),
            None => None,
        };
        let jwks_url = get("jwt_jwks_url");
        if let Some(u) = &jwks_url {
            check_jwks_url(u).map_err(|problem| bad("TROVE_JWT_JWKS_URL", problem))?;
        }
        let jwks_min_refresh_secs =
            number("jwt_jwks_min_refresh_secs", 10, 0, "a number of seconds")?;
        let max_json_body = number("max_json_body", 1024 * 1024, 1, "a number of bytes")? as usize;
        let max_files_per_request = number(
            "max_files_per_request",
            100,
            1,
            "a positive number of files",
        )? as usize;
        let limits = ConnectionLimits {
            max_header_bytes: number(
                "max_header_bytes",
                64 * 1024,
                8192,
                "a number of bytes of at least 8192",
            )? as usize,
            header_timeout_secs: number("header_timeout", 30, 1, "a positive number of seconds")?,
            body_timeout_secs: number("body_timeout", 60, 1, "a positive number of seconds")?,
            max_connections: number(
                "max_connections",
                1024,
                1,
                "a positive number of connections",
            )? as usize,
        };
        let secret = jwt::secret_setting(get("jwt_secret"))?;
        let jwt_secret = secret.hs256;
        let jwt_public_key = match (jwt_public_key, secret.public_key_pem) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "TROVE_JWT_SECRET",
                    "gives a public key, and so does TROVE_JWT_PUBLIC_KEY; set one of them",
                ));
            }
            (a, b) => a.or(b),
        };
        let claims_namespace = get("jwt_claims_namespace")
            .or(secret.claims_namespace)
            .unwrap_or_else(|| DEFAULT_CLAIMS_NAMESPACE.into());
        let cors_origins = get("cors_origins")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        for origin in &cors_origins {
            if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
                return Err(bad(
                    "TROVE_CORS_ORIGINS",
                    format!("'{origin}' is not an origin such as https://app.example.com"),
                ));
            }
        }
        let upload_expiry_secs = match get("upload_expiry") {
            Some(v) => v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                bad(
                    "TROVE_UPLOAD_EXPIRY",
                    format!("'{v}' is not a positive number of seconds"),
                )
            })?,
            None => 3600,
        };
        let inline_max_bytes = number(
            "inline_max_bytes",
            DEFAULT_INLINE_MAX_BYTES,
            0,
            "a number of bytes",
        )?;
        if inline_max_bytes > MAX_INLINE_MAX_BYTES {
            return Err(bad(
                "TROVE_INLINE_MAX_BYTES",
                format!(
                    "must be at most {MAX_INLINE_MAX_BYTES} bytes (a body up to this size is held in memory while it arrives)"
                ),
            ));
        }
        let signing_keys: Vec<String> = get("signing_key")
            .map(|v| {
                v.split(',')
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if signing_keys.iter().any(|k| k.len() < 32) {
            return Err(bad(
                "TROVE_SIGNING_KEY",
                "every key must be at least 32 bytes",
            ));
        }
        let images = images::image_settings(&get)?;
        let operations = operations::operations(&get)?;
        Ok(Self {
            addr,
            data_dir,
            public_url,
            database_url,
            database_pool_size,
            database_timeout_secs,
            storage_url,
            s3,
            presigned_downloads,
            admin_key,
            jwt: JwtConfig {
                secret: jwt_secret,
                public_key_pem: jwt_public_key,
                jwks_url,
                tenant_claim: get("jwt_tenant_claim").unwrap_or_else(|| "tenant_id".into()),
                claims_namespace,
                roles_claim: get("jwt_roles_claim").unwrap_or_else(|| "roles".into()),
                issuer: get("jwt_issuer"),
                audience: get("jwt_audience"),
                jwks_min_refresh_secs,
            },
            cors_origins,
            max_json_body,
            max_files_per_request,
            limits,
            upload_expiry_secs,
            inline_max_bytes,
            signing_keys,
            images,
            operations,
        })
    }

    /// A configuration for tests: port 0 on loopback, everything under `data_dir`, except the
    /// bytes when `TROVE_TEST_STORAGE_URL` names an S3 bucket: then they go under a prefix of
    /// their own in it (endpoint and keys from the `AWS_*` variables, path-style requests); and
    /// the metadata when `TROVE_TEST_DATABASE_URL` names a PostgreSQL database: then it goes into
    /// a schema of its own there.
    pub fn for_tests(data_dir: &Path) -> Self {
        let mut values = BTreeMap::new();
        values.insert("addr".to_owned(), "127.0.0.1:0".to_owned());
        values.insert("data_dir".to_owned(), data_dir.display().to_string());
        if let Ok(url) = std::env::var("TROVE_TEST_DATABASE_URL") {
            values.insert(
                "database_url".to_owned(),
                trove_meta::postgres::scratch_schema_url(&url),
            );
        }
        if let Ok(url) = std::env::var("TROVE_TEST_STORAGE_URL") {
            values.insert(
                "storage_url".to_owned(),
                format!("{}/{}", url.trim_end_matches('/'), uuid::Uuid::new_v4()),
            );
            values.insert("s3_force_path_style".to_owned(), "true".to_owned());
        }
        Self::from_values(&values).unwrap_or_else(|e| panic!("test configuration: {e}"))
    }

    /// Whether this configuration keeps bytes in a local folder.
    pub fn local_storage(&self) -> bool {
        self.storage_url.starts_with("file://")
    }
}

#[cfg(test)]
mod tests;
