//! `TROVE_LOG_FORMAT=json` on the real binary: one JSON object per line, an access line per request
//! with its request id, route template, status, duration and caller, and no credential anywhere.

use reqwest::Method;
use serde_json::Value;

use crate::common::{ServerProcess, wait_for};

const ADMIN_KEY: &str = "log-test-admin-key-0123456789";

#[tokio::test]
async fn json_logs_name_the_request_and_caller_but_never_a_credential() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.path().join("data");
    let server = ServerProcess::spawn_logging_to(
        &data,
        &[
            ("TROVE_LOG_FORMAT", "json"),
            ("TROVE_LOG", "info"),
            ("TROVE_ADMIN_KEY", ADMIN_KEY),
        ],
        log.into(),
    );
    let token = std::process::Command::new(env!("CARGO_BIN_EXE_trove"))
        .args(["token", "--user", "u1", "--tenant", "t1"])
        .env_clear()
        .env("TROVE_DATA_DIR", &data)
        .output()
        .unwrap();
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let client = reqwest::Client::new();

    let res = client
        .post(format!("{}/v1/files?name=a.txt", server.url))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let file: Value = res.json().await.unwrap();
    let id = file["id"].as_str().unwrap().to_owned();
    let res = server
        .admin(&client, Method::POST, &format!("/v1/files/{id}/signed-url"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let signed: Value = res.json().await.unwrap();
    let signed_url = signed["url"].as_str().unwrap().to_owned();
    let signature = signed_url.split_once("token=").unwrap().1.to_owned();
    let res = client.get(&signed_url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .get(format!("{}/v1/files/{}", server.url, uuid::Uuid::now_v7()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let ours = res.headers()["x-request-id"].to_str().unwrap().to_owned();

    // The access line of the last request is written before its response is sent.
    let read_lines = || -> Vec<Value> {
        std::fs::read_to_string(&log_path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    };
    wait_for(30, "the access line of the last request", || {
        let found = read_lines()
            .iter()
            .any(|l| l["span"]["request_id"] == ours.as_str());
        std::future::ready(found)
    })
    .await;
    let text = std::fs::read_to_string(&log_path).unwrap();
    for secret in [ADMIN_KEY, token.as_str(), signature.as_str()] {
        assert!(!text.contains(secret), "a credential in the log");
    }
    let lines = read_lines();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "trove::access")
        .collect();
    let find = |route: &str, status: u64| {
        access
            .iter()
            .find(|l| l["route"] == route && l["status"] == status)
            .unwrap_or_else(|| panic!("no access line for {route} {status}"))
    };
    for line in &access {
        assert!(
            line["span"]["request_id"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        assert!(line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
        assert!(line["timestamp"].is_string() && line["level"] == "INFO");
    }
    let upload = find("/v1/files", 201);
    assert_eq!(upload["span"]["caller"], "user");
    assert_eq!(upload["span"]["user_id"], "u1");
    assert_eq!(upload["span"]["tenant_id"], "t1");
    assert_eq!(upload["span"]["method"], "POST");
    assert_eq!(
        find("/v1/files/{id}/signed-url", 200)["span"]["caller"],
        "admin"
    );
    let download = find("/v1/signed/{id}", 200);
    assert!(download["span"]["user_id"].is_null());
    let missing = find("/v1/files/{id}", 404);
    assert_eq!(missing["span"]["request_id"], ours.as_str());
    assert_eq!(missing["span"]["caller"], "anonymous");

    server.kill();
}
