//! Parsing and refusing configuration values, without a process environment.

use super::*;

fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_values(
        &pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

#[test]
fn defaults() {
    let c = cfg(&[]).unwrap();
    assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
    assert_eq!(c.public_url, "http://127.0.0.1:8080");
    assert_eq!(c.database_url, "sqlite://./trove-data/trove.db");
    assert_eq!(c.storage_url, "file://./trove-data/blobs");
    assert_eq!(c.jwt.tenant_claim, "tenant_id");
    assert_eq!(c.jwt.roles_claim, "roles");
    assert_eq!(c.inline_max_bytes, 64 * 1024);
}

#[test]
fn the_inline_threshold_is_bounded_and_can_be_turned_off() {
    assert_eq!(
        cfg(&[("inline_max_bytes", "0")]).unwrap().inline_max_bytes,
        0
    );
    assert_eq!(
        cfg(&[("inline_max_bytes", "1048576")])
            .unwrap()
            .inline_max_bytes,
        1 << 20
    );
    for bad in ["1048577", "-1", "64k"] {
        assert_eq!(
            cfg(&[("inline_max_bytes", bad)]).unwrap_err().var,
            "TROVE_INLINE_MAX_BYTES"
        );
    }
}

#[test]
fn secrets_are_taken_byte_for_byte() {
    let c = cfg(&[
        ("jwt_secret", " \"0012345678901234567890123456789\" "),
        ("admin_key", "00123456789012345"),
    ])
    .unwrap();
    assert_eq!(
        c.jwt.secret.as_deref(),
        Some(" \"0012345678901234567890123456789\" ")
    );
    assert_eq!(c.admin_key.as_deref(), Some("00123456789012345"));
}

#[test]
fn data_dir_moves_the_defaults() {
    let c = cfg(&[
        ("data_dir", "/srv/t"),
        ("public_url", "https://files.example.com/"),
    ])
    .unwrap();
    assert_eq!(c.database_url, "sqlite:///srv/t/trove.db");
    assert_eq!(c.storage_url, "file:///srv/t/blobs");
    assert_eq!(c.public_url, "https://files.example.com");
}

#[test]
fn bad_values_name_the_variable() {
    assert_eq!(cfg(&[("addr", "nope")]).unwrap_err().var, "TROVE_ADDR");
    assert_eq!(
        cfg(&[("public_url", "ftp://x")]).unwrap_err().var,
        "TROVE_PUBLIC_URL"
    );
    assert_eq!(
        cfg(&[("database_url", "mysql://x")]).unwrap_err().var,
        "TROVE_DATABASE_URL"
    );
    assert_eq!(
        cfg(&[("storage_url", "gopher://x")]).unwrap_err().var,
        "TROVE_STORAGE_URL"
    );
    assert_eq!(
        cfg(&[("admin_key", "short")]).unwrap_err().var,
        "TROVE_ADMIN_KEY"
    );
    assert_eq!(
        cfg(&[("jwt_public_key", "/nonexistent/key.pem")])
            .unwrap_err()
            .var,
        "TROVE_JWT_PUBLIC_KEY"
    );
    assert_eq!(
        cfg(&[("cors_origins", "example.com")]).unwrap_err().var,
        "TROVE_CORS_ORIGINS"
    );
    assert_eq!(
        cfg(&[("jwt_secret", "short-secret")]).unwrap_err().var,
        "TROVE_JWT_SECRET"
    );
    assert_eq!(
        cfg(&[("jwt_jwks_url", "http://idp.example.com/jwks")])
            .unwrap_err()
            .var,
        "TROVE_JWT_JWKS_URL"
    );
    assert!(cfg(&[("jwt_jwks_url", "http://127.0.0.1:9/jwks")]).is_ok());
    assert!(cfg(&[("jwt_jwks_url", "http://[::1]:9/jwks")]).is_ok());
    assert!(cfg(&[("jwt_jwks_url", "https://idp.example.com/jwks")]).is_ok());
    assert_eq!(
        cfg(&[("max_header_bytes", "100")]).unwrap_err().var,
        "TROVE_MAX_HEADER_BYTES"
    );
    assert_eq!(
        cfg(&[("addr", "0.0.0.0:8080")]).unwrap_err().var,
        "TROVE_PUBLIC_URL"
    );
    assert!(
        cfg(&[
            ("addr", "0.0.0.0:8080"),
            ("public_url", "https://f.example.com")
        ])
        .is_ok()
    );
    let line = cfg(&[("addr", "nope")]).unwrap_err().to_string();
    assert!(
        line.starts_with("TROVE_ADDR: ") && !line.contains('\n'),
        "{line}"
    );
}

#[test]
fn the_shutdown_grace_is_bounded() {
    assert_eq!(cfg(&[]).unwrap().operations.shutdown_grace_secs, 30);
    assert_eq!(
        cfg(&[("shutdown_grace", "0")])
            .unwrap()
            .operations
            .shutdown_grace_secs,
        0
    );
    for bad in ["86401", "-1", "30s"] {
        assert_eq!(
            cfg(&[("shutdown_grace", bad)]).unwrap_err().var,
            "TROVE_SHUTDOWN_GRACE"
        );
    }
}

#[test]
fn metrics_and_log_settings_are_checked() {
    let ops = cfg(&[]).unwrap().operations;
    assert_eq!(ops.metrics_refresh_secs, 60);
    assert!(ops.metrics_token.is_none() && ops.metrics_addr.is_none());
    assert_eq!(ops.log_format, super::LogFormat::Text);
    let ops = cfg(&[
        ("metrics_token", "0123456789abcdef"),
        ("metrics_addr", "127.0.0.1:0"),
        ("metrics_refresh", "1"),
        ("log_format", "json"),
    ])
    .unwrap()
    .operations;
    assert_eq!(ops.metrics_token.as_deref(), Some("0123456789abcdef"));
    assert_eq!(ops.metrics_addr.unwrap().ip().to_string(), "127.0.0.1");
    assert_eq!(ops.metrics_refresh_secs, 1);
    assert_eq!(ops.log_format, super::LogFormat::Json);
    for (key, value, var) in [
        ("metrics_token", "short", "TROVE_METRICS_TOKEN"),
        ("metrics_token", "0123456789 abcdef", "TROVE_METRICS_TOKEN"),
        ("metrics_addr", "localhost", "TROVE_METRICS_ADDR"),
        ("metrics_refresh", "0", "TROVE_METRICS_REFRESH"),
        ("log_format", "xml", "TROVE_LOG_FORMAT"),
    ] {
        assert_eq!(cfg(&[(key, value)]).unwrap_err().var, var, "{key}={value}");
    }
}
