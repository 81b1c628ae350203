//! Listings: scope, filters, ordering, keyset pagination under concurrent inserts, counts, bulk
//! deletion.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{TestApp, Who, error_code, id_of, wait_until};

async fn list(app: &TestApp, who: &Who, query: &str) -> Value {
    let res = app
        .get(&format!("/v1/files?{query}"), who)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{query}");
    res.json().await.unwrap()
}

fn names(page: &Value) -> Vec<String> {
    page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tenants_never_see_each_others_files() {
    let app = TestApp::start().await;
    let (u1, u2, boss) = (
        app.user("u1", Some("t1")),
        app.user("u2", Some("t1")),
        app.tenant_admin("boss", "t1"),
    );
    let other = app.user("o1", Some("t2"));
    app.upload(&u1, "name=u1-private.txt", "text/plain", "x")
        .await;
    app.upload(&u1, "name=u1-tenant.txt&access=tenant", "text/plain", "x")
        .await;
    app.upload(
        &u1,
        "name=u1-public.txt&visibility=public",
        "text/plain",
        "x",
    )
    .await;
    app.upload(
        &other,
        "name=t2-public.txt&visibility=public",
        "text/plain",
        "x",
    )
    .await;
    app.upload(
        &other,
        "name=t2-tenant.txt&access=tenant",
        "text/plain",
        "x",
    )
    .await;
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(names(&list(&app, &u1, "").await)),
        ["u1-private.txt", "u1-public.txt", "u1-tenant.txt"]
    );
    assert_eq!(
        sorted(names(&list(&app, &u2, "").await)),
        ["u1-public.txt", "u1-tenant.txt"]
    );
    assert_eq!(
        sorted(names(&list(&app, &boss, "").await)),
        ["u1-private.txt", "u1-public.txt", "u1-tenant.txt"]
    );
    assert_eq!(
        sorted(names(&list(&app, &other, "").await)),
        ["t2-public.txt", "t2-tenant.txt"]
    );
    assert_eq!(names(&list(&app, &Who::Admin, "").await).len(), 5);
    assert_eq!(
        names(&list(&app, &app.user("loner", None), "").await).len(),
        0
    );
    let res = app.get("/v1/files", &Who::Anonymous).send().await.unwrap();
    assert_eq!(error_code(res, 401).await, "unauthorized");
}

#[tokio::test]
async fn filters_combine() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "docs"})).await;
    let who = Who::AdminAs("u1".into(), Some("t1".into()));
    let a = app.upload(&who, "name=Report-Q1.pdf&bucketId=docs&metadata=%7B%22year%22%3A2024%2C%22kind%22%3A%22report%22%7D&associations=%5B%7B%22entityName%22%3A%22deal%22%2C%22entityReference%22%3A%2242%22%7D%5D", "application/pdf", "%PDF-1.4 aaaa").await;
    let b = app
        .upload(
            &who,
            "name=photo.png&visibility=public&metadata=%7B%22year%22%3A%222024%22%7D",
            "image/png",
            &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
        )
        .await;
    let c = app.upload(&app.user("u2", Some("t1")), "name=notes.txt&access=tenant&associations=%5B%7B%22entityName%22%3A%22deal%22%2C%22entityReference%22%3A%227%22%7D%5D", "text/plain", "hello world, longer").await;
    let admin = Who::Admin;
    let only = |page: &Value| -> Vec<String> {
        page["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(id_of)
            .collect()
    };
    assert_eq!(
        only(&list(&app, &admin, "bucketId=docs").await),
        [id_of(&a)]
    );
    assert_eq!(
        only(&list(&app, &admin, "entityName=deal&entityReference=42").await),
        [id_of(&a)]
    );
    assert_eq!(
        only(&list(&app, &admin, "entityName=deal&orderBy=name&order=asc").await),
        [id_of(&a), id_of(&c)]
    );
    assert_eq!(
        only(&list(&app, &admin, "uploadedByUserId=u2").await),
        [id_of(&c)]
    );
    assert_eq!(
        only(&list(&app, &admin, "visibility=public").await),
        [id_of(&b)]
    );
    assert_eq!(
        only(&list(&app, &admin, "access=tenant").await),
        [id_of(&c)]
    );
    assert_eq!(
        only(&list(&app, &admin, "mimeType=image/*").await),
        [id_of(&b)]
    );
    assert_eq!(
        only(&list(&app, &admin, "mimeType=application/pdf").await),
        [id_of(&a)]
    );
    assert_eq!(only(&list(&app, &admin, "q=REPORT").await), [id_of(&a)]);
    assert_eq!(only(&list(&app, &admin, "minSize=17").await), [id_of(&c)]);
    assert_eq!(
        only(&list(&app, &admin, "maxSize=13&minSize=13").await),
        [id_of(&a)],
        "inclusive sizes"
    );
    assert_eq!(
        only(&list(&app, &admin, "metadata.kind=report").await),
        [id_of(&a)]
    );
    let mut year: Vec<String> = only(&list(&app, &admin, "metadata.year=2024").await);
    year.sort();
    let mut expected = vec![id_of(&a), id_of(&b)];
    expected.sort();
    assert_eq!(year, expected, "a number and a string both match");
    let created = a["createdAt"].as_str().unwrap();
    let after = list(
        &app,
        &admin,
        &format!("createdAfter={}", created.replace(':', "%3A")),
    )
    .await;
    assert_eq!(names(&after).len(), 3, "inclusive lower bound");
    let before = list(
        &app,
        &admin,
        &format!("createdBefore={}", created.replace(':', "%3A")),
    )
    .await;
    assert_eq!(only(&before), [id_of(&a)], "inclusive upper bound");
    assert_eq!(
        only(
            &list(
                &app,
                &admin,
                "bucketId=default&visibility=public&mimeType=image/png"
            )
            .await
        ),
        [id_of(&b)]
    );
    let counted = list(&app, &admin, "count=true&limit=1").await;
    assert_eq!(counted["totalCount"], 3);
    assert_eq!(names(&counted).len(), 1);
    assert!(counted["nextCursor"].is_string());
    assert!(list(&app, &admin, "").await.get("totalCount").is_none());
    assert_eq!(
        names(&list(&app, &admin, "offset=2&orderBy=name&order=asc").await),
        ["photo.png"]
    );
}

#[tokio::test]
async fn ordering_and_bad_parameters() {
    let app = TestApp::start().await;
    for (name, body) in [("b.txt", "xx"), ("a.txt", "xxx"), ("C.txt", "x")] {
        app.upload(&Who::Admin, &format!("name={name}"), "text/plain", body)
            .await;
    }
    assert_eq!(
        names(&list(&app, &Who::Admin, "").await),
        ["C.txt", "a.txt", "b.txt"],
        "newest first"
    );
    assert_eq!(
        names(&list(&app, &Who::Admin, "orderBy=name&order=asc").await),
        ["C.txt", "a.txt", "b.txt"],
        "byte-wise"
    );
    assert_eq!(
        names(&list(&app, &Who::Admin, "orderBy=size").await),
        ["a.txt", "b.txt", "C.txt"]
    );
    assert_eq!(
        names(&list(&app, &Who::Admin, "orderBy=createdAt&order=asc").await),
        ["b.txt", "a.txt", "C.txt"]
    );
    for (q, param) in [
        ("limit=1001", "limit"),
        ("limit=0", "limit"),
        ("offset=-1", "offset"),
        ("orderBy=color", "orderBy"),
        ("createdAfter=yesterday", "createdAfter"),
        ("minSize=x", "minSize"),
        ("cursor=zzz", "cursor"),
        ("status=done", "status"),
        ("unknown=1", "unknown"),
    ] {
        let res = app
            .get(&format!("/v1/files?{q}"), &Who::Admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{q}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_request");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(param),
            "{q}: {body}"
        );
    }
}

/// A user's listing pages exactly while other clients insert into the same listing: no file is
/// repeated, none that existed before the listing began is skipped, and none the user may not read
/// appears; for every order.
#[tokio::test]
async fn keyset_pages_stay_exact_while_others_insert_concurrently() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let app = Arc::new(TestApp::start().await);
    let me = app.user("u1", Some("t1"));
    let mate = app.user("u2", Some("t1"));
    // Names and sizes that interleave with the inserts, in every order.
    let name = |i: usize| format!("{:03}-{i}.txt", (i * 7919) % 1000);
    let body = |i: usize| "x".repeat(1 + (i * 31) % 50);
    let mut visible: HashSet<String> = HashSet::new();
    let mut hidden: HashSet<String> = HashSet::new();
    for i in 0..24 {
        let (who, query, shown) = match i % 3 {
            0 => (&me, format!("name={}", name(i)), true),
            1 => (&mate, format!("name={}&access=tenant", name(i)), true),
            _ => (&mate, format!("name={}", name(i)), false),
        };
        let id = id_of(&app.upload(who, &query, "text/plain", body(i)).await);
        if shown {
            visible.insert(id);
        } else {
            hidden.insert(id);
        }
    }
    for order_by in ["createdAt", "updatedAt", "name", "size"] {
        for order in ["asc", "desc"] {
            let stop = Arc::new(AtomicBool::new(false));
            let counter = Arc::new(AtomicUsize::new(1000));
            let done = Arc::new(AtomicUsize::new(0));
            let mut writers = Vec::new();
            for (who, extra) in [
                (me.clone(), ""),
                (mate.clone(), "&access=tenant"),
                (mate.clone(), ""),
            ] {
                let (app, stop, counter) = (app.clone(), stop.clone(), counter.clone());
                let done = done.clone();
                let private = who != me && extra.is_empty();
                writers.push(tokio::spawn(async move {
                    let mut created = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let i = counter.fetch_add(1, Ordering::Relaxed);
                        let q = format!("name={:03}-{i}.txt{extra}", (i * 7919) % 1000);
                        let f = app
                            .upload(&who, &q, "text/plain", "y".repeat(1 + (i * 31) % 50))
                            .await;
                        if private {
                            created.push(id_of(&f));
                        }
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    created
                }));
            }
            // The listing starts once the other clients are inserting.
            wait_until(30, "concurrent inserts", || {
                done.load(Ordering::Relaxed) >= 3
            })
            .await;
            let mut seen: Vec<String> = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let q = match &cursor {
                    Some(c) => format!("limit=4&orderBy={order_by}&order={order}&cursor={c}"),
                    None => format!("limit=4&orderBy={order_by}&order={order}"),
                };
                let page = list(&app, &me, &q).await;
                seen.extend(page["files"].as_array().unwrap().iter().map(id_of));
                match page["nextCursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            stop.store(true, Ordering::Relaxed);
            let mut hidden_now = hidden.clone();
            for w in writers {
                hidden_now.extend(w.await.unwrap());
            }
            let inserted = counter.load(Ordering::Relaxed) - 1000;
            let unique: HashSet<&String> = seen.iter().collect();
            let label = format!("{order_by} {order} with {inserted} concurrent inserts");
            assert_eq!(unique.len(), seen.len(), "{label}: no file repeated");
            assert!(
                visible.iter().all(|id| unique.contains(id)),
                "{label}: none skipped"
            );
            assert!(
                !hidden_now.iter().any(|id| unique.contains(id)),
                "{label}: none leaked"
            );
        }
    }
}

#[tokio::test]
async fn bulk_delete_reports_each_id() {
    let app = TestApp::start().await;
    let u1 = app.user("u1", Some("t1"));
    let mine = id_of(&app.upload(&u1, "name=a.txt", "text/plain", "x").await);
    let readable = id_of(
        &app.upload(
            &app.user("u2", Some("t1")),
            "name=b.txt&access=tenant",
            "text/plain",
            "x",
        )
        .await,
    );
    let foreign = id_of(
        &app.upload(&app.user("o", Some("t2")), "name=c.txt", "text/plain", "x")
            .await,
    );
    let res = app
        .request(Method::DELETE, "/v1/files", &u1)
        .json(&json!({"ids": [mine, readable, foreign, "not-an-id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["deleted"], json!([mine]));
    assert_eq!(body["forbidden"], json!([readable]));
    assert_eq!(body["notFound"], json!([foreign, "not-an-id"]));
    let ids: Vec<String> = (0..1001).map(|i| format!("{i}")).collect();
    let res = app
        .request(Method::DELETE, "/v1/files", &u1)
        .json(&json!({"ids": ids}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
}
