//! The binary: start-up output, the persisted admin key, configuration errors, `trove token`, and
//! `serve` outliving its standard output. Maintenance commands are in `maintenance.rs`.

use std::process::Command;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde_json::Value;

use crate::common::ServerProcess;

/// The binary with nothing from this process's environment but its data directory.
pub(crate) fn trove(data_dir: &std::path::Path) -> Command {
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
    assert!(
        first.first_lines[1].contains(&key),
        "shown once, when generated"
    );
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
    assert!(
        !second.first_lines.concat().contains(&key),
        "a stored key is not printed again: {:?}",
        second.first_lines
    );
    assert!(
        second.first_lines[1].contains("admin-key"),
        "it says where the key is"
    );
    second.kill();
    let configured =
        ServerProcess::spawn(dir.path(), &[("TROVE_ADMIN_KEY", "a-configured-admin-key")]);
    assert_eq!(configured.admin_key, "a-configured-admin-key");
    assert!(
        !configured
            .first_lines
            .concat()
            .contains("a-configured-admin-key")
    );
    assert!(configured.first_lines[1].contains("TROVE_ADMIN_KEY"));
    configured.kill();
}

/// The data directory holds the secrets, the database and the blobs: nobody but the server's user
/// may read any of it.
#[tokio::test]
async fn the_data_directory_is_private_to_the_server_user() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::spawn(&data, &[]);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for name in [
        "trove.db",
        "trove.db-wal",
        "admin-key",
        "jwt-secret",
        "signing-key",
    ] {
        let path = data.join(name);
        if path.exists() {
            assert_eq!(mode(&path) & 0o077, 0, "{name} is private");
        }
    }
    assert_eq!(mode(&data.join("trove.db")), 0o600);
    server.kill();
}

/// Environment values reach Trove byte for byte, and a misspelt `TROVE_*` variable stops start-up
/// with the name it probably meant.
#[test]
fn environment_values_are_taken_verbatim_and_typos_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let quoted = "\"quoted-0012345678901234567890123\"";
    let out = trove(dir.path())
        .args(["token", "--user", "u"])
        .env("TROVE_JWT_SECRET", quoted)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let key = DecodingKey::from_secret(quoted.as_bytes());
    decode::<Value>(token.trim(), &key, &Validation::new(Algorithm::HS256))
        .expect("signed with the secret exactly as given, quotes included");

    let out = trove(dir.path())
        .arg("serve")
        .env("TROVE_CORS_ORIGIN", "https://app.example.com")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("TROVE_CORS_ORIGIN:"), "{stderr}");
    assert!(
        stderr.contains("did you mean TROVE_CORS_ORIGINS"),
        "{stderr}"
    );
}

#[test]
fn short_jwt_secrets_and_wildcard_addresses_without_a_public_url_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (env, var) in [
        (vec![("TROVE_JWT_SECRET", "too-short")], "TROVE_JWT_SECRET"),
        (vec![("TROVE_ADDR", "0.0.0.0:0")], "TROVE_PUBLIC_URL"),
        (
            vec![("TROVE_JWT_JWKS_URL", "http://idp.example.com/jwks")],
            "TROVE_JWT_JWKS_URL",
        ),
    ] {
        let out = trove(dir.path()).arg("serve").envs(env).output().unwrap();
        assert!(!out.status.success(), "{var}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.starts_with(&format!("trove: {var}: ")), "{stderr}");
    }
}

/// `trove token` signs with the server's secret or fails: it never invents a secret that the
/// server would refuse.
#[test]
fn token_outside_the_data_directory_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("not-a-data-dir");
    let out = trove(&nowhere)
        .args(["token", "--user", "u"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("TROVE_JWT_SECRET"), "{stderr}");
    assert!(stderr.contains("jwt-secret"), "{stderr}");
    assert!(!nowhere.exists(), "nothing was created");
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
        "addr = \"not-valid\"\njwt_secret = \"from-the-config-file-secret-0123456789\"\n",
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
    let key = DecodingKey::from_secret(b"from-the-config-file-secret-0123456789");
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
        .env("TROVE_JWT_SECRET", "a-secret-used-as-raw-utf8-bytes-0123")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let key = DecodingKey::from_secret("a-secret-used-as-raw-utf8-bytes-0123".as_bytes());
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

/// `serve` prints its URL, the admin key and the console's address; whoever started it may stop
/// reading (or close the pipe) at any point, and the server must go on serving.
#[tokio::test]
async fn serve_keeps_serving_when_its_standard_output_is_closed() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    // Every line `serve` prints goes to a pipe nobody reads.
    drop(reader);
    let mut child = Command::new(env!("CARGO_BIN_EXE_trove"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TROVE_ADDR", "127.0.0.1:0")
        .env("TROVE_DATA_DIR", dir.path())
        .env("TROVE_LOG", "info")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    // The log's "serving" line comes after everything `serve` prints.
    let url = std::io::BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .filter(|line| line.contains("serving"))
        .find_map(|line| {
            // The log may be coloured: the URL ends at the first space or escape.
            let from = line.find("http://")?;
            Some(
                line[from..]
                    .split(|c: char| c.is_whitespace() || c == '\u{1b}')
                    .next()?
                    .to_owned(),
            )
        })
        .expect("the server logs its URL");
    let res = reqwest::get(format!("{url}/healthz")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server is still running"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
