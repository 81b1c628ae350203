//! The console as the server delivers it: `GET /` sends browsers there, every address under
//! `/console` loads the page (so a bookmarked view works), every module the page loads is served,
//! and `GET /v1/me` tells the page what the credentials may do.

use reqwest::header::{
    ACCEPT, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION, VARY,
};
use serde_json::Value;

use crate::common::{TestApp, Who, error_code};

#[tokio::test]
async fn a_browser_asking_for_the_root_is_sent_to_the_console_and_a_script_is_not() {
    let app = TestApp::start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let browser = no_redirects
        .get(format!("{}/", app.url))
        .header(ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert!(browser.status().is_redirection(), "{}", browser.status());
    assert_eq!(browser.headers()[LOCATION], "/console");
    assert!(
        browser.headers()[VARY]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept")
    );

    let script = no_redirects
        .get(format!("{}/", app.url))
        .send()
        .await
        .unwrap();
    assert!(
        script.headers()[VARY]
            .to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept")
    );
    assert_eq!(error_code(script, 404).await, "not_found");
}

#[tokio::test]
async fn every_console_address_loads_the_page_under_a_strict_policy() {
    let app = TestApp::start().await;
    for path in [
        "/console",
        "/console/",
        "/console/files",
        "/console/files/some-id?x=1",
    ] {
        let res = app.get(path, &Who::Anonymous).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            res.headers()[CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let csp = res.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        // Scripts only from this origin, and no other site may frame the console.
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(res.text().await.unwrap().contains("<main"));
    }
}

/// The modules a script names by relative path (`from './x.js'`, `import('./x.js')`).
fn relative_imports(source: &str) -> Vec<String> {
    source
        .split(['\'', '"'])
        .filter(|s| s.starts_with("./") && s.ends_with(".js"))
        .map(|s| s.trim_start_matches("./").to_owned())
        .collect()
}

#[tokio::test]
async fn everything_the_page_loads_is_served_and_revalidated() {
    let app = TestApp::start().await;
    let page = app
        .get("/console", &Who::Anonymous)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut pending: Vec<String> = page
        .split('"')
        .filter(|s| s.starts_with("/console/assets/") || s.starts_with("/ui/"))
        .map(str::to_owned)
        .collect();
    assert!(pending.iter().any(|p| p.ends_with("app.js")), "{pending:?}");
    let mut seen = std::collections::HashSet::new();
    while let Some(path) = pending.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        let res = app.get(&path, &Who::Anonymous).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let etag = res.headers()[ETAG].clone();
        let body = res.text().await.unwrap();
        if path.starts_with("/console/assets/") && path.ends_with(".js") {
            pending.extend(
                relative_imports(&body)
                    .into_iter()
                    .map(|m| format!("/console/assets/{m}")),
            );
        }
        let again = app
            .get(&path, &Who::Anonymous)
            .header(IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    // app.js loads each page's module, and the files page its panel.
    for module in [
        "overview.js",
        "files.js",
        "file-panel.js",
        "buckets.js",
        "categories.js",
    ] {
        assert!(
            seen.contains(&format!("/console/assets/{module}")),
            "{module} in {seen:?}"
        );
    }
    let unknown = app
        .get("/console/assets/nothing.js", &Who::Anonymous)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(unknown, 404).await, "not_found");
}

async fn me(app: &TestApp, who: &Who) -> (u16, Value) {
    let res = app.get("/v1/me", who).send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn me_says_who_the_credentials_are_and_what_they_may_manage() {
    let app = TestApp::start().await;
    let (status, body) = me(&app, &Who::Anonymous).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, _) = me(&app, &Who::Bearer("not.a.token".into())).await;
    assert_eq!(status, 401);

    let (status, admin) = me(&app, &Who::Admin).await;
    assert_eq!(status, 200);
    assert_eq!(admin["kind"], "admin");
    assert_eq!(admin["manageBuckets"], true);
    assert_eq!(admin["manageCategories"], true);
    assert!(["sqlite", "postgres"].contains(&admin["server"]["database"].as_str().unwrap()));
    assert!(["local", "s3", "memory"].contains(&admin["server"]["storage"].as_str().unwrap()));
    assert_eq!(admin["server"]["version"], env!("CARGO_PKG_VERSION"));

    // A user learns who they are, may manage nothing, and is told nothing about the server.
    let (status, user) = me(&app, &app.user("ann", Some("acme"))).await;
    assert_eq!(status, 200);
    assert_eq!(user["kind"], "user");
    assert_eq!(user["userId"], "ann");
    assert_eq!(user["tenantId"], "acme");
    assert_eq!(user["manageBuckets"], false);
    assert!(user.get("server").is_none(), "{user}");
    // What me says a user may not do, the API refuses.
    let refused = app
        .request(
            reqwest::Method::POST,
            "/v1/buckets",
            &app.user("ann", Some("acme")),
        )
        .json(&serde_json::json!({"id": "mine"}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
}

#[tokio::test]
async fn usage_counts_the_files_and_bytes_of_every_bucket_for_admins_only() {
    let app = TestApp::start().await;
    let created = app
        .request(reqwest::Method::POST, "/v1/buckets", &Who::Admin)
        .json(&serde_json::json!({"id": "empty"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    for (who, body) in [
        (app.user("ann", Some("acme")), "0123456789"),
        (app.user("bob", Some("other")), "abc"),
    ] {
        let res = app
            .request(reqwest::Method::POST, "/v1/files?name=a.txt", &who)
            .header(CONTENT_TYPE, "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let res = app.get("/v1/usage", &Who::Admin).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let usage: Value = res.json().await.unwrap();
    let of = |id: &str| {
        usage["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["bucketId"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} in {usage}"))
    };
    // Every tenant's files count; a bucket without files is listed with zeros.
    assert_eq!(of("default")["files"], 2);
    assert_eq!(of("default")["bytes"], 13);
    assert_eq!(of("empty")["files"], 0);
    assert_eq!(of("empty")["bytes"], 0);

    let user = app
        .get("/v1/usage", &app.user("ann", Some("acme")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(user, 403).await, "forbidden");
    let anonymous = app.get("/v1/usage", &Who::Anonymous).send().await.unwrap();
    assert_eq!(error_code(anonymous, 401).await, "unauthorized");
}
