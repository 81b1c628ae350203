//! `/metrics`: who may read it, and that its figures follow what happened (requests by route
//! template, uploads by kind and stage, body bytes, stored figures per bucket), read the way a
//! Prometheus server reads them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, Who, error_code, id_of, wait_for};

const METRICS_TOKEN: &str = "scraper-token-0123456789";

/// One sample of the text format: `name{labels} value`, labels as written.
type Sample = (String, Vec<(String, String)>, f64);

fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), Vec::new()),
                Some((name, rest)) => {
                    let rest = rest.strip_suffix('}').expect("closed labels");
                    let labels = rest
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                            (k.to_owned(), v.trim_end_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
            };
            (name, labels, value.parse().expect("a number"))
        })
        .collect()
}

/// The value of the one series `name` whose labels include `labels`, or 0 when none exists yet.
fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples(text)
        .into_iter()
        .filter(|(n, ls, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v)
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?} names several series");
    found.first().copied().unwrap_or(0.0)
}

async fn scrape(app: &TestApp) -> String {
    let res = app.get("/metrics", &Who::Admin).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    res.text().await.unwrap()
}

async fn app() -> TestApp {
    TestApp::builder()
        .local_storage()
        .config(|c| {
            c.operations.metrics_token = Some(METRICS_TOKEN.to_owned());
            c.operations.metrics_refresh_secs = 1;
        })
        .start()
        .await
}

#[tokio::test]
async fn metrics_take_the_admin_key_or_the_metrics_token() {
    let app = app().await;
    let res = app.get("/metrics", &Who::Anonymous).send().await.unwrap();
    assert_eq!(error_code(res, 401).await, "unauthorized");
    let user = app.user("u1", Some("t1"));
    let res = app.get("/metrics", &user).send().await.unwrap();
    assert_eq!(error_code(res, 403).await, "forbidden");
    let wrong = Who::Bearer(format!("{METRICS_TOKEN}x"));
    let res = app.get("/metrics", &wrong).send().await.unwrap();
    assert_eq!(error_code(res, 401).await, "unauthorized");
    let res = app
        .get("/metrics", &Who::Bearer(METRICS_TOKEN.to_owned()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A shared cache must not keep figures that need credentials.
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.text().await.unwrap().contains("trove_build_info"));
    scrape(&app).await;
}

#[tokio::test]
async fn requests_are_counted_by_route_template_method_and_status_class() {
    let app = app().await;
    let file = app
        .upload(&Who::Admin, "name=a.txt", "text/plain", "hello")
        .await;
    let id = id_of(&file);
    for _ in 0..3 {
        let res = app
            .get(&format!("/v1/files/{id}"), &Who::Admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let missing = uuid::Uuid::now_v7();
    for _ in 0..2 {
        let res = app
            .get(&format!("/v1/files/{missing}"), &Who::Admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404);
    }
    let res = app
        .get("/no/such/route/here", &Who::Anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let text = scrape(&app).await;
    let route = ("route", "/v1/files/{id}");
    let get = ("method", "GET");
    assert_eq!(
        value(
            &text,
            "trove_http_requests_total",
            &[route, get, ("status", "2xx")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "trove_http_requests_total",
            &[route, get, ("status", "4xx")]
        ),
        2.0
    );
    assert_eq!(
        value(
            &text,
            "trove_http_request_duration_seconds_count",
            &[route, get, ("status", "2xx")]
        ),
        3.0
    );
    assert_eq!(
        value(
            &text,
            "trove_http_requests_total",
            &[
                ("route", "/v1/files"),
                ("method", "POST"),
                ("status", "2xx")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "trove_http_requests_total",
            &[("route", "unmatched"), ("status", "4xx")]
        ),
        1.0
    );
    // Paths never become labels: the number of series does not grow with ids.
    assert!(!text.contains(&id) && !text.contains(&missing.to_string()));
    assert!(!text.contains("/no/such/route"));
}

#[tokio::test]
async fn body_bytes_are_counted_both_ways() {
    let app = app().await;
    let before = scrape(&app).await;
    let body = vec![7u8; 300_000];
    let file = app
        .upload(&Who::Admin, "name=b.bin", "application/octet-stream", body)
        .await;
    let res = app
        .get(&format!("/v1/files/{}/content", id_of(&file)), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().len(), 300_000);
    let after = scrape(&app).await;
    let grew = |name| value(&after, name, &[]) - value(&before, name, &[]);
    assert!(grew("trove_http_received_bytes_total") >= 300_000.0);
    // The download, and the scrape before this one, at least.
    assert!(grew("trove_http_sent_bytes_total") >= 300_000.0);
}

async fn direct_upload(app: &TestApp, body: &'static str) -> reqwest::Response {
    let res = app
        .request(Method::POST, "/v1/uploads", &Who::Admin)
        .json(&json!({"name": "d.txt", "contentType": "text/plain", "size": body.len()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    reqwest::Client::new()
        .put(created["upload"]["url"].as_str().unwrap())
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn uploads_are_counted_by_kind_and_stage() {
    let app = app().await;
    app.create_bucket(json!({"id": "tiny", "maxUploadFileSize": 10}))
        .await;
    // Raw: one stored, one refused by the bucket's size rule.
    app.upload(&Who::Admin, "name=r.txt", "text/plain", "raw bytes")
        .await;
    let res = app
        .request(
            Method::POST,
            "/v1/files?name=big.txt&bucketId=tiny",
            &Who::Admin,
        )
        .header("content-type", "text/plain")
        .body("more than ten bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // Multipart: two files in one request.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::text("one").file_name("1.txt"),
        )
        .part(
            "file",
            reqwest::multipart::Part::text("two").file_name("2.txt"),
        );
    let res = app.post_multipart(&Who::Admin, form).await;
    assert_eq!(res.status(), 201);
    // Direct: created, then its bytes.
    assert_eq!(direct_upload(&app, "direct").await.status(), 200);
    // tus: created, then its bytes in two PATCHes.
    let path = crate::tus::create(&app, &Who::Admin, 6, &[("filename", "t.txt")]).await;
    let res = crate::tus::patch(&app, &Who::Admin, &path, 0, b"abc".to_vec()).await;
    assert_eq!(res.status(), 204);
    let text = scrape(&app).await;
    assert_eq!(
        value(
            &text,
            "trove_uploads_total",
            &[("kind", "tus"), ("stage", "started")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &text,
            "trove_uploads_total",
            &[("kind", "tus"), ("stage", "completed")]
        ),
        0.0
    );
    let res = crate::tus::patch(&app, &Who::Admin, &path, 3, b"def".to_vec()).await;
    assert_eq!(res.status(), 204);

    let text = scrape(&app).await;
    let count = |kind, stage| {
        value(
            &text,
            "trove_uploads_total",
            &[("kind", kind), ("stage", stage)],
        )
    };
    assert_eq!(count("raw", "started"), 2.0);
    assert_eq!(count("raw", "completed"), 1.0);
    assert_eq!(count("raw", "failed"), 1.0);
    assert_eq!(count("multipart", "started"), 2.0);
    assert_eq!(count("multipart", "completed"), 2.0);
    assert_eq!(count("direct", "started"), 1.0);
    assert_eq!(count("direct", "completed"), 1.0);
    assert_eq!(count("tus", "started"), 1.0);
    assert_eq!(count("tus", "completed"), 1.0);
    assert_eq!(count("tus", "failed"), 0.0);
}

#[tokio::test]
async fn stored_figures_follow_the_database() {
    let app = app().await;
    app.create_bucket(json!({"id": "docs"})).await;
    app.upload(
        &Who::Admin,
        "name=a.txt&bucketId=docs",
        "text/plain",
        "12345",
    )
    .await;
    app.upload(&Who::Admin, "name=b.txt&bucketId=docs", "text/plain", "678")
        .await;
    let docs = [("bucket", "docs")];
    wait_for(30, "the bucket's figures in /metrics", || async {
        let text = scrape(&app).await;
        value(&text, "trove_bucket_files", &docs) == 2.0
            && value(&text, "trove_bucket_bytes", &docs) == 8.0
    })
    .await;
    let text = scrape(&app).await;
    assert_eq!(value(&text, "trove_blob_deletion_queue", &[]), 0.0);
    // The refresher's passes are not scrapes: clean-up ran at start-up at least.
    assert!(value(&text, "trove_cleanup_runs_total", &[("outcome", "done")]) >= 1.0);

    // A bucket that goes takes its series with it.
    let res = app
        .request(Method::DELETE, "/v1/buckets/docs?force=true", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    wait_for(30, "the deleted bucket's series gone", || async {
        !scrape(&app).await.contains("bucket=\"docs\"")
    })
    .await;
}

#[tokio::test]
async fn the_metrics_address_serves_metrics_only_without_credentials() {
    let app = TestApp::builder()
        .config(|c| c.operations.metrics_addr = Some("127.0.0.1:0".parse().unwrap()))
        .start()
        .await;
    let at = app.server.metrics_addr.expect("a metrics listener");
    assert_ne!(at.port(), app.server.addr.port());
    let res = reqwest::get(format!("http://{at}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("trove_build_info{"));
    let res = reqwest::get(format!("http://{at}/v1/files")).await.unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    // The API's own listener still asks for credentials.
    let res = app.get("/metrics", &Who::Anonymous).send().await.unwrap();
    assert_eq!(error_code(res, 401).await, "unauthorized");
}

/// The sample dashboard queries only series Trove exports, under the names it exports them.
#[tokio::test]
async fn the_grafana_dashboard_queries_only_exported_series() {
    let app = app().await;
    // Request series exist once a request was counted.
    scrape(&app).await;
    let text = scrape(&app).await;
    let exported: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana-dashboard.json"
    );
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queried = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let names = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("trove_"));
            for name in names {
                let family = ["_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .filter(|base| exported.contains(base))
                    .unwrap_or(name);
                assert!(
                    exported.contains(&family),
                    "panel '{}' queries {name}, which /metrics does not export",
                    panel["title"]
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 13, "the dashboard queries {queried} series");
}
