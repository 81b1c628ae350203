//! Opening an S3-compatible store from `s3://bucket[/prefix]` and the `TROVE_S3_*` settings.
//!
//! The bucket must exist: [`open`] lists one key under the prefix and turns the store's answer
//! into a sentence naming the setting to fix (the bucket in `TROVE_STORAGE_URL`, the endpoint, the
//! credentials). Requests are retried by `object_store` with backoff for a few seconds only, so a
//! store that is down turns into 503s quickly instead of requests that hang.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::object::ObjectBackend;

/// The `TROVE_S3_*` settings (the standard `AWS_*` variables fill what is unset).
#[derive(Debug, Clone, Default)]
pub struct S3Settings {
    /// `TROVE_S3_ENDPOINT`, e.g. `http://127.0.0.1:9000`; AWS's own endpoint when unset.
    pub endpoint: Option<String>,
    /// `TROVE_S3_REGION` (default `us-east-1`).
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
    /// `TROVE_S3_FORCE_PATH_STYLE`: `endpoint/bucket/key` instead of `bucket.endpoint/key` (MinIO,
    /// Garage and most self-hosted stores need it).
    pub force_path_style: bool,
}

impl S3Settings {
    /// Fills what is unset from the standard `AWS_*` variables.
    pub fn with_aws_fallback(mut self) -> Self {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        self.endpoint = self
            .endpoint
            .or_else(|| env("AWS_ENDPOINT_URL_S3"))
            .or_else(|| env("AWS_ENDPOINT_URL"));
        self.region = self
            .region
            .or_else(|| env("AWS_REGION"))
            .or_else(|| env("AWS_DEFAULT_REGION"));
        self.access_key_id = self.access_key_id.or_else(|| env("AWS_ACCESS_KEY_ID"));
        self.secret_access_key = self
            .secret_access_key
            .or_else(|| env("AWS_SECRET_ACCESS_KEY"));
        self.session_token = self.session_token.or_else(|| env("AWS_SESSION_TOKEN"));
        self
    }
}

/// The retry policy: a handful of quick retries of transient failures (5xx, throttling,
/// timeouts, refused connections), given up after a few seconds.
fn retry() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            base: 2.0,
        },
        max_retries: 4,
        retry_timeout: Duration::from_secs(6),
    }
}

fn client_options() -> ClientOptions {
    // No whole-request timeout: a download to a slow client may take hours. A store that stops
    // sending is caught by the read timeout instead.
    ClientOptions::new()
        .with_timeout_disabled()
        .with_connect_timeout(Duration::from_secs(3))
        .with_read_timeout(Duration::from_secs(30))
        .with_pool_idle_timeout(Duration::from_secs(50))
}

/// Builds the backend for `s3://bucket[/prefix]` and checks that the bucket answers.
pub(crate) async fn open(url: &str, settings: &S3Settings) -> Result<ObjectBackend, String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("'{url}' is not an s3:// URL"))?;
    let (bucket, prefix) = match rest.split_once('/') {
        Some((b, p)) => (b, p.trim_matches('/')),
        None => (rest, ""),
    };
    if bucket.is_empty() {
        return Err("TROVE_STORAGE_URL: an s3:// URL needs a bucket (s3://bucket[/prefix])".into());
    }
    let region = settings.region.as_deref().unwrap_or("us-east-1");
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_retry(retry())
        .with_client_options(client_options())
        .with_virtual_hosted_style_request(!settings.force_path_style);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder
            .with_endpoint(endpoint)
            .with_allow_http(endpoint.starts_with("http://"));
    }
    match (&settings.access_key_id, &settings.secret_access_key) {
        (Some(id), Some(secret)) => {
            builder = builder
                .with_access_key_id(id)
                .with_secret_access_key(secret);
            if let Some(token) = &settings.session_token {
                builder = builder.with_token(token);
            }
        }
        (None, None) => {}
        _ => {
            return Err(
                "TROVE_S3_ACCESS_KEY_ID and TROVE_S3_SECRET_ACCESS_KEY must be set together".into(),
            );
        }
    }
    let s3: AmazonS3 = builder
        .build()
        .map_err(|e| format!("TROVE_STORAGE_URL: cannot use '{url}': {e}"))?;
    let s3 = Arc::new(s3);
    let backend = ObjectBackend {
        store: s3.clone(),
        multipart: s3.clone(),
        signer: Some(s3),
        prefix: if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        },
        kind: "s3",
        held: Default::default(),
        http: Some(
            reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(5))
                .read_timeout(std::time::Duration::from_secs(60))
                .build()
                .map_err(|e| format!("TROVE_STORAGE_URL: an HTTP client for '{url}': {e}"))?,
        ),
    };
    let endpoint = settings
        .endpoint
        .clone()
        .unwrap_or_else(|| format!("AWS S3 ({region})"));
    backend
        .ping()
        .await
        .map_err(|e| explain(&e.to_string(), bucket, &endpoint))?;
    Ok(backend)
}

/// Turns the store's refusal into what to fix, naming the setting.
pub(crate) fn explain(error: &str, bucket: &str, endpoint: &str) -> String {
    let has = |s: &str| error.contains(s);
    if has("NoSuchBucket") || (has("404") && !has("NoSuchKey")) {
        format!(
            "TROVE_STORAGE_URL: the S3 bucket '{bucket}' does not exist at {endpoint}; create it first"
        )
    } else if has("InvalidAccessKeyId")
        || has("SignatureDoesNotMatch")
        || has("AccessDenied")
        || has("403")
    {
        format!(
            "TROVE_S3_ACCESS_KEY_ID/TROVE_S3_SECRET_ACCESS_KEY: {endpoint} refused the credentials for bucket '{bucket}'"
        )
    } else {
        format!(
            "TROVE_S3_ENDPOINT: {endpoint} is unreachable or failing for bucket '{bucket}' ({})",
            error.lines().next().unwrap_or(error)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_setting_to_fix() {
        let e = |msg: &str| explain(msg, "b", "http://s3");
        assert!(
            e("Client error with status 404 Not Found: <Code>NoSuchBucket</Code>")
                .starts_with("TROVE_STORAGE_URL:")
        );
        assert!(
            e("Client error with status 403 Forbidden: <Code>InvalidAccessKeyId</Code>")
                .starts_with("TROVE_S3_ACCESS_KEY_ID")
        );
        assert!(e("error sending request: Connection refused").starts_with("TROVE_S3_ENDPOINT:"));
    }

    #[tokio::test]
    async fn bad_urls_are_refused_before_any_request() {
        let s = S3Settings::default();
        assert!(
            open("s3://", &s)
                .await
                .unwrap_err()
                .contains("needs a bucket")
        );
        let half = S3Settings {
            access_key_id: Some("k".into()),
            ..S3Settings::default()
        };
        assert!(
            open("s3://b", &half)
                .await
                .unwrap_err()
                .contains("together")
        );
    }
}
