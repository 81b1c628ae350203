//! The settings Trove reads: their environment variables and defaults (the README's table is
//! checked against this list), how an unknown `TROVE_*` variable is reported, and checks of single
//! values that need more than parsing.

use super::{ConfigError, bad};

/// One setting: its environment variable and its default as the README's table states it.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub var: &'static str,
    pub default: &'static str,
}

const fn setting(var: &'static str, default: &'static str) -> Setting {
    Setting { var, default }
}

/// Every variable Trove reads, with its default; the README's configuration table is compared
/// with this list by a test.
pub const SETTINGS: &[Setting] = &[
    setting("TROVE_ADDR", "`127.0.0.1:8080`"),
    setting("TROVE_DATA_DIR", "`./trove-data`"),
    setting(
        "TROVE_PUBLIC_URL",
        "`http://{TROVE_ADDR}`; required when `TROVE_ADDR` is a wildcard address such as `0.0.0.0`",
    ),
    setting(
        "TROVE_DATABASE_URL",
        "`sqlite://{data dir}/trove.db` (also `postgres://user:password@host:port/database`)",
    ),
    setting(
        "TROVE_DATABASE_POOL_SIZE",
        "`16` connections to PostgreSQL per node",
    ),
    setting(
        "TROVE_DATABASE_TIMEOUT",
        "`5` seconds: the longest wait for a PostgreSQL connection and the longest statement (then 503 `unavailable`)",
    ),
    setting(
        "TROVE_STORAGE_URL",
        "`file://{data dir}/blobs` (also `s3://bucket[/prefix]` and `memory://`)",
    ),
    setting(
        "TROVE_S3_ENDPOINT",
        "AWS S3 (`AWS_ENDPOINT_URL` when set); e.g. `http://127.0.0.1:9000` for a self-hosted store",
    ),
    setting("TROVE_S3_REGION", "`AWS_REGION`, else `us-east-1`"),
    setting("TROVE_S3_ACCESS_KEY_ID", "`AWS_ACCESS_KEY_ID`"),
    setting("TROVE_S3_SECRET_ACCESS_KEY", "`AWS_SECRET_ACCESS_KEY`"),
    setting(
        "TROVE_S3_FORCE_PATH_STYLE",
        "`false` (`true`: `endpoint/bucket/key` URLs, as MinIO, Garage and most self-hosted stores need)",
    ),
    setting(
        "TROVE_S3_PRESIGNED_DOWNLOADS",
        "`false` (`true`: signed and public download URLs answer 307 to the store's own presigned URL)",
    ),
    setting(
        "TROVE_ADMIN_KEY",
        "generated into `{data dir}/admin-key` (at least 16 bytes when set)",
    ),
    setting(
        "TROVE_JWT_SECRET",
        "HS256 secret (raw UTF-8, at least 32 bytes), or Nhost's JSON form (`{\"type\":\"HS256\",\"key\":…}`, or RS256/ES256 with a PEM `key`); generated into `{data dir}/jwt-secret` when no JWT setting is given",
    ),
    setting(
        "TROVE_JWT_PUBLIC_KEY",
        "none; a PEM (or a path to one), RS256 or ES256",
    ),
    setting(
        "TROVE_JWT_JWKS_URL",
        "none; `https://` (or `http://` on loopback only), fetched on first use, refetched when an unknown `kid` arrives and when its `Cache-Control` max-age (default 300 s) runs out",
    ),
    setting(
        "TROVE_JWT_JWKS_MIN_REFRESH_SECS",
        "`10` (least time between two JWKS fetches)",
    ),
    setting(
        "TROVE_JWT_TENANT_CLAIM",
        "`tenant_id` (or a path into an object claim: `https://hasura.io/jwt/claims.x-hasura-org-id`)",
    ),
    setting(
        "TROVE_JWT_CLAIMS_NAMESPACE",
        "`https://hasura.io/jwt/claims`: in a token with this object claim, the user is `x-hasura-user-id` (else `sub`) and the role `x-hasura-default-role`, or the `x-hasura-role` request header when it is in `x-hasura-allowed-roles`",
    ),
    setting("TROVE_JWT_ROLES_CLAIM", "`roles`"),
    setting("TROVE_JWT_ISSUER", "none (checked when set)"),
    setting("TROVE_JWT_AUDIENCE", "none (checked when set)"),
    setting(
        "TROVE_CORS_ORIGINS",
        "none (comma-separated origins, or `*`)",
    ),
    setting("TROVE_MAX_JSON_BODY", "`1048576` bytes"),
    setting(
        "TROVE_MAX_FILES_PER_REQUEST",
        "`100` (file parts in one multipart upload)",
    ),
    setting(
        "TROVE_MAX_HEADER_BYTES",
        "`65536` (request line and headers; at least 8192)",
    ),
    setting(
        "TROVE_HEADER_TIMEOUT",
        "`30` seconds to send a request's headers (also how long an idle connection stays open)",
    ),
    setting(
        "TROVE_BODY_TIMEOUT",
        "`60` seconds an upload may go without sending a byte",
    ),
    setting("TROVE_MAX_CONNECTIONS", "`1024` open connections"),
    setting(
        "TROVE_UPLOAD_EXPIRY",
        "`3600` seconds (direct uploads; a pending upload untouched this long is removed)",
    ),
    setting(
        "TROVE_INLINE_MAX_BYTES",
        "`65536`: contents up to this size are kept in the database with their row, not in the blob store (`0` turns it off; at most 1048576)",
    ),
    setting(
        "TROVE_SIGNING_KEY",
        "generated into `{data dir}/signing-key`",
    ),
    setting(
        "TROVE_IMAGE_MAX_PIXELS",
        "`50000000`: an image declaring more pixels is refused with 422 `image_too_large` before it is decoded",
    ),
    setting(
        "TROVE_IMAGE_MAX_BYTES",
        "`104857600`: the largest original transformed (422 `image_too_large` above)",
    ),
    setting(
        "TROVE_IMAGE_CONCURRENCY",
        "the number of cores: transformations running at once",
    ),
    setting(
        "TROVE_IMAGE_QUEUE",
        "`64` transformations waiting; more answer 503 `busy` with `Retry-After`",
    ),
    setting(
        "TROVE_IMAGE_TIMEOUT",
        "`30` seconds a transformation may take (then 503 `busy`)",
    ),
    setting(
        "TROVE_IMAGE_CACHE",
        "`true`: each rendition is stored once in the blob store (`false`: computed every time)",
    ),
    setting(
        "TROVE_IMAGE_MEMORY_CACHE",
        "`33554432` bytes of recently served renditions kept in memory (`0`: none)",
    ),
    setting(
        "TROVE_LOG",
        "`info,tower_http=info,sqlx=warn` (a `tracing` filter)",
    ),
    setting(
        "TROVE_SHUTDOWN_GRACE",
        "`30` seconds requests in flight get to finish after SIGTERM or SIGINT; then uploads still arriving are cut off (tus uploads keep what arrived)",
    ),
    setting(
        "TROVE_LOG_FORMAT",
        "`text` (`json`: one JSON object per line, with the request id, route, status, duration and caller)",
    ),
    setting(
        "TROVE_METRICS_TOKEN",
        "none: `/metrics` takes the admin key; with a token of 16 characters or more, also `Authorization: Bearer <token>`",
    ),
    setting(
        "TROVE_METRICS_ADDR",
        "none (an address such as `127.0.0.1:9090`: a second listener serving `/metrics` without credentials)",
    ),
    setting(
        "TROVE_METRICS_REFRESH",
        "`60` seconds between two readings of the files and bytes per bucket and the deletion queue from the database",
    ),
];

/// Settings whose value is a secret or an id, taken exactly as given (not even trimmed).
pub(super) const VERBATIM: &[&str] = &[
    "admin_key",
    "metrics_token",
    "jwt_secret",
    "signing_key",
    "s3_access_key_id",
    "s3_secret_access_key",
];

/// The configuration key of a `TROVE_*` variable; an unknown one is an error naming the closest.
pub(super) fn env_key(var: &str) -> Result<String, ConfigError> {
    if SETTINGS.iter().any(|s| s.var == var) {
        return Ok(var["TROVE_".len()..].to_ascii_lowercase());
    }
    let closest = SETTINGS
        .iter()
        .min_by_key(|s| edit_distance(s.var, var))
        .map(|s| s.var)
        .unwrap_or("TROVE_ADDR");
    Err(bad(
        var,
        format!("is not a Trove setting; did you mean {closest}?"),
    ))
}

/// Levenshtein distance, for suggesting the setting a typo meant.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// A JWKS URL must be `https://`, or `http://` to a loopback host (a key set fetched in clear text
/// from another host could be swapped by anyone on the path).
pub(super) fn check_jwks_url(u: &str) -> Result<(), String> {
    let url = reqwest::Url::parse(u).map_err(|_| format!("'{u}' is not a URL"))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Domain(d)) => d == "localhost",
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            };
            if loopback {
                Ok(())
            } else {
                Err(format!(
                    "'{u}' is plain http to a host other than loopback; use https://"
                ))
            }
        }
        _ => Err(format!("'{u}' is not an http(s) URL")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's configuration table lists every setting, with the default stated here, and
    /// every key this module reads is a setting.
    #[test]
    fn the_readme_table_matches_the_settings() {
        let readme = include_str!("../../../../README.md");
        let rows: Vec<(String, String)> = readme
            .lines()
            .filter_map(|l| l.strip_prefix("| `TROVE_"))
            .filter_map(|l| {
                let (var, rest) = l.split_once("` | ")?;
                Some((
                    format!("TROVE_{var}"),
                    rest.trim_end_matches(" |").to_owned(),
                ))
            })
            .collect();
        let expected: Vec<(String, String)> = SETTINGS
            .iter()
            .map(|s| (s.var.to_owned(), s.default.to_owned()))
            .collect();
        assert_eq!(
            rows, expected,
            "README.md's configuration table is out of date"
        );
        let source = include_str!("mod.rs");
        for call in ["get(\"", "number(\""] {
            for piece in source.split(call).skip(1) {
                let key = piece.split('"').next().unwrap_or("");
                if key.is_empty() || key.contains(' ') {
                    continue;
                }
                let var = format!("TROVE_{}", key.to_ascii_uppercase());
                assert!(
                    SETTINGS.iter().any(|s| s.var == var),
                    "{var} is read but not a listed setting"
                );
            }
        }
    }

    #[test]
    fn unknown_variables_name_the_closest_setting() {
        let e = env_key("TROVE_CORS_ORIGIN").unwrap_err();
        assert_eq!(e.var, "TROVE_CORS_ORIGIN");
        assert!(e.problem.contains("TROVE_CORS_ORIGINS"), "{e}");
        assert!(
            env_key("TROVE_JWT_SECERT")
                .unwrap_err()
                .problem
                .contains("TROVE_JWT_SECRET")
        );
        assert_eq!(env_key("TROVE_UPLOAD_EXPIRY").unwrap(), "upload_expiry");
    }
}
