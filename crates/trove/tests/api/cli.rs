//! The binary: start-up output, the persisted admin key, configuration errors, `trove token`.

use std::process::Command;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::Value;

use crate::common::ServerProcess;

fn trove(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trove"));
    cmd.env_clear().env("TROVE_DATA_DIR", data_dir);
    cmd
}

#[tokio::test]
async fn admin_key_is_generated_once_with_mode_0600_and_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let first = ServerProcess::spawn(dir.path(), &[]);
    let key = first.admin_key.clone();
    assert_eq!(key.len(), 64);
    let res = reqwest::Client::new()
        .get(format!("{}/v1/buckets", first.url))
        .header("x-trove-admin-key", &key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    first.kill();
    let mode = std::fs::metadata(dir.path().join("admin-key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let second = ServerProcess::spawn(dir.path(), &[]);
    assert_eq!(second.admin_key, key);
    second.kill();
    let configured =
        ServerProcess::spawn(dir.path(), &[("TROVE_ADMIN_KEY", "a-configured-admin-key")]);
    assert_eq!(configured.admin_key, "a-configured-admin-key");
    configured.kill();
}

#[test]
fn bad_configuration_stops_start_up_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("TROVE_ADDR", "not-an-address"),
        ("TROVE_PUBLIC_URL", "nope"),
        ("TROVE_DATABASE_URL", "mysql://x"),
        (
            "TROVE_JWT_PUBLIC_KEY",
            "-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----",
        ),
    ] {
        let out = trove(dir.path())
            .arg("serve")
            .env(var, value)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{var}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{var}: {stderr}");
        assert!(lines[0].contains(var), "{var}: {stderr}");
    }
}

#[test]
fn config_file_is_layered_under_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("trove.toml");
    std::fs::write(&toml, "addr = \"not-valid\"\n").unwrap();
    let out = trove(dir.path())
        .args(["--config", toml.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("TROVE_ADDR"));
    // The environment overrides the file: with a valid TROVE_ADDR the file's bad value is not used,
    // and the secret comes from the file.
    std::fs::write(
        &toml,
        "addr = \"not-valid\"\njwt_secret = \"from-the-config-file-secret\"\n",
    )
    .unwrap();
    let out = trove(dir.path())
        .args(["--config", toml.to_str().unwrap(), "token", "--user", "u"])
        .env("TROVE_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let key = DecodingKey::from_secret(b"from-the-config-file-secret");
    decode::<Value>(token.trim(), &key, &Validation::new(Algorithm::HS256)).unwrap();
}

#[test]
fn token_prints_one_line_signed_with_the_configured_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = trove(dir.path())
        .args([
            "token", "--user", "alice", "--tenant", "acme", "--role", "admin", "--role", "editor",
            "--ttl", "15m",
        ])
        .env("TROVE_JWT_SECRET", "a-secret-used-as-raw-utf8-bytes")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let key = DecodingKey::from_secret("a-secret-used-as-raw-utf8-bytes".as_bytes());
    let claims = decode::<Value>(stdout.trim(), &key, &Validation::new(Algorithm::HS256))
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["tenant_id"], "acme");
    assert_eq!(claims["roles"], serde_json::json!(["admin", "editor"]));
    let ttl = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(ttl, 900);

    let out = trove(dir.path())
        .args(["token", "--user", "a", "--ttl", "forever"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn a_generated_token_works_against_a_zero_config_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), &[]);
    let out = trove(dir.path())
        .args(["token", "--user", "bob"])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}/v1/files?name=a.txt", server.url))
        .bearer_auth(token.trim())
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let f: Value = res.json().await.unwrap();
    assert_eq!(f["uploadedByUserId"], "bob");
    server.kill();
}

#[test]
fn gc_runs_once_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = trove(dir.path()).arg("gc").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "removed 0 expired uploads, deleted 0 queued blobs"
    );
}
