//! PostgreSQL stops answering during traffic: requests that need it answer 503 `unavailable`
//! within the database timeout instead of hanging, `/readyz` says so, nothing half done is left
//! behind, and service comes back by itself once the database is back.

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::common::{TestApp, Who, error_code, id_of, wait_until};

/// A PostgreSQL cluster of this test's own (stopping the shared one would fail other tests).
struct Cluster {
    url: String,
    dir: String,
}

fn script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/throwaway-postgres.sh")
}

impl Cluster {
    fn start() -> Option<Self> {
        if std::env::var_os("TROVE_TEST_POSTGRES_URL").is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must run the database outage test: set TROVE_TEST_POSTGRES_URL"
            );
            return None;
        }
        let out = std::process::Command::new("bash")
            .arg(script())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Self {
            url: String::from_utf8(out.stdout).unwrap().trim().to_owned(),
            dir: String::from_utf8(out.stderr)
                .unwrap()
                .lines()
                .last()
                .unwrap()
                .to_owned(),
        })
    }

    fn run(&self, action: &str) {
        let out = std::process::Command::new("bash")
            .arg(script())
            .args([action, &self.dir])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.run("stop");
    }
}

async fn readyz(app: &TestApp) -> u16 {
    app.request(Method::GET, "/readyz", &Who::Anonymous)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn requests_answer_503_while_postgres_is_down_and_recover_without_a_restart() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = trove_meta::postgres::scratch_schema_url(&cluster.url);
    let app = TestApp::builder()
        .local_storage()
        .blobs_only()
        .config(move |c| {
            c.database_url = url;
            c.database_timeout_secs = 2;
        })
        .start()
        .await;
    let who = app.user("u1", Some("t1"));
    let before = app
        .upload(&who, "name=before.txt", "text/plain", "kept")
        .await;
    let id = id_of(&before);

    cluster.run("pause");
    // Every request that needs the database fails fast and says why; none hangs. The client's
    // own timeout is the bound the contract gives (10 s), so a hang fails the test.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token = app.token("u1", Some("t1"), &[]);
    let during = |method: Method, path: &str| {
        client
            .request(method, format!("{}{path}", app.url))
            .bearer_auth(&token)
    };
    for (method, path) in [
        (Method::GET, format!("/v1/files/{id}")),
        (Method::GET, format!("/v1/files/{id}/content")),
        (Method::GET, "/v1/files".to_owned()),
    ] {
        let res = during(method, &path).send().await.expect("no hang");
        assert_eq!(error_code(res, 503).await, "unavailable", "{path}");
    }
    let res = during(Method::POST, "/v1/files?name=during.bin")
        .header("content-type", "application/octet-stream")
        .body(vec![5u8; 200_000])
        .send()
        .await
        .expect("no hang");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(error_code(res, 503).await, "unavailable");
    assert_eq!(readyz(&app).await, 503);

    cluster.run("resume");
    // The pool reconnects by itself.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while readyz(&app).await != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready again");
        tick.tick().await;
    }
    let res = app
        .request(Method::GET, &format!("/v1/files/{id}/content"), &who)
        .send()
        .await
        .unwrap();
    assert_eq!(res.text().await.unwrap(), "kept");
    // The upload refused during the outage left no file, ready or pending, and its staged bytes
    // are gone.
    let page: Value = app
        .request(Method::GET, "/v1/files?status=ready", &who)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["before.txt"]);
    wait_until(10, "no staged bytes left", || {
        std::fs::read_dir(app.data_dir().join("blobs/.staging"))
            .map(|d| d.count() == 0)
            .unwrap_or(true)
    })
    .await;
    let after = app
        .upload(&who, "name=after.txt", "text/plain", "fine")
        .await;
    assert_eq!(after["status"], "ready");
}
