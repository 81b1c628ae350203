//! Nothing lost under concurrency: uploads that outlive the expiry, clean-up beside live uploads,
//! concurrent changes of one file, deletes racing replacements, many writers at once, and a
//! deletion queue whose head keeps failing.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::common::{
    ReceiverStream, TestApp, Who, error_code, id_of, staged, stored_blobs, wait_until,
};

type Chunk = Result<Vec<u8>, std::io::Error>;

/// An upload whose body the test feeds chunk by chunk.
fn streamed_upload(
    app: &TestApp,
    who: &Who,
    query: &str,
) -> (
    mpsc::Sender<Chunk>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    let body = reqwest::Body::wrap_stream(ReceiverStream(rx).map(|c| c));
    let request = app
        .request(Method::POST, &format!("/v1/files?{query}"), who)
        .header("content-type", "application/octet-stream")
        .body(body);
    (tx, tokio::spawn(request.send()))
}

async fn pending_ids(app: &TestApp) -> Vec<String> {
    let page: Value = app
        .get_json("/v1/files?status=upload_pending", &Who::Admin)
        .await;
    page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect()
}

async fn content_sha(app: &TestApp, id: &str) -> String {
    let bytes = app
        .get(&format!("/v1/files/{id}/content"), &Who::Admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    hex::encode(Sha256::digest(&bytes))
}

/// Item 1: an upload that streams for longer than `TROVE_UPLOAD_EXPIRY` keeps its row alive and
/// completes; the clean-up that runs meanwhile leaves it alone.
#[tokio::test]
async fn an_upload_longer_than_the_expiry_is_not_collected_while_it_streams() {
    let app = TestApp::builder()
        .config(|c| c.upload_expiry_secs = 2)
        .start()
        .await;
    let user = app.user("u1", Some("t1"));
    let (tx, response) = streamed_upload(&app, &user, "name=slow.bin");
    let mut sent = Sha256::new();
    let started = Instant::now();
    // A slow client: a chunk every 50 ms, for well over twice the expiry.
    let mut pace = tokio::time::interval(Duration::from_millis(50));
    let mut collected_while_streaming = false;
    while started.elapsed() < Duration::from_millis(6000) {
        pace.tick().await;
        let chunk = vec![b'x'; 4096];
        sent.update(&chunk);
        tx.send(Ok(chunk)).await.unwrap();
        if !collected_while_streaming && started.elapsed() > Duration::from_millis(5000) {
            trove_server::service::uploads::collect_garbage(&app.server.state)
                .await
                .unwrap();
            collected_while_streaming = true;
        }
    }
    assert!(collected_while_streaming, "the clean-up ran mid-upload");
    drop(tx);
    let res = response.await.unwrap().unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(
        content_sha(&app, &id_of(&body)).await,
        hex::encode(sent.finalize())
    );
}

/// Item 1: an upload whose row disappears while it streams ends in a clear 409 and leaves no bytes.
#[tokio::test]
async fn an_upload_whose_row_is_gone_at_completion_deletes_its_bytes() {
    let app = TestApp::start().await;
    let user = app.user("u1", Some("t1"));
    let (tx, response) = streamed_upload(&app, &user, "name=orphan.bin");
    // More than TROVE_INLINE_MAX_BYTES, so that the upload streams into the blob store.
    tx.send(Ok(vec![1u8; 128 * 1024])).await.unwrap();
    let mut id = None;
    let mut poll = tokio::time::interval(Duration::from_millis(10));
    let deadline = Instant::now() + Duration::from_secs(30);
    while id.is_none() {
        assert!(Instant::now() < deadline, "the pending row never appeared");
        poll.tick().await;
        id = pending_ids(&app).await.into_iter().next();
    }
    let id = id.unwrap();
    let res = app
        .request(Method::DELETE, &format!("/v1/files/{id}"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    tx.send(Ok(vec![2u8; 64 * 1024])).await.unwrap();
    drop(tx);
    let res = response.await.unwrap().unwrap();
    assert_eq!(error_code(res, 409).await, "conflict");
    assert_eq!(stored_blobs(&app).await, 0, "no bytes left behind");
    assert!(crate::common::nothing_staged(&app));
}

/// Item 2: `trove gc` run beside a live server touches no upload in flight.
#[tokio::test]
async fn gc_from_the_command_line_leaves_uploads_in_flight_alone() {
    // Bytes in flight are watched in the local staging folder.
    let app = TestApp::builder().local_storage().start().await;
    let user = app.user("u1", Some("t1"));
    let (tx, response) = streamed_upload(&app, &user, "name=inflight.bin");
    let mut sent = Sha256::new();
    let first = vec![3u8; 256 * 1024];
    sent.update(&first);
    tx.send(Ok(first)).await.unwrap();
    wait_until(30, "bytes in the staging folder", || staged(&app) > 0).await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trove"))
        .arg("gc")
        .env_clear()
        .env("TROVE_DATA_DIR", app.data_dir())
        .env("TROVE_DATABASE_URL", app.database_url())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        staged(&app),
        1,
        "the live upload's staged bytes are still there"
    );
    let rest = vec![4u8; 256 * 1024];
    sent.update(&rest);
    tx.send(Ok(rest)).await.unwrap();
    drop(tx);
    let res = response.await.unwrap().unwrap();
    assert_eq!(res.status(), 201);
    let file: Value = res.json().await.unwrap();
    assert_eq!(
        content_sha(&app, &id_of(&file)).await,
        hex::encode(sent.finalize())
    );
}

/// Item 3: a PATCH writes only the fields it names, so a concurrent make-private is never undone
/// by a rename that read the file while it was public.
#[tokio::test]
async fn a_rename_never_undoes_a_concurrent_make_private() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    let id = id_of(&app.upload(&owner, "name=a.txt", "text/plain", "x").await);
    for round in 0..40 {
        let res = app
            .request(Method::POST, &format!("/v1/files/{id}/public"), &owner)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let rename = app
            .request(Method::PATCH, &format!("/v1/files/{id}"), &owner)
            .json(&json!({"name": format!("r{round}.txt")}))
            .send();
        let private = app
            .request(Method::POST, &format!("/v1/files/{id}/private"), &owner)
            .send();
        let (a, b) = tokio::join!(rename, private);
        assert_eq!(a.unwrap().status(), 200);
        assert_eq!(b.unwrap().status(), 200);
        let now: Value = app.get_json(&format!("/v1/files/{id}"), &owner).await;
        assert_eq!(now["visibility"], "private", "round {round}");
        assert_eq!(now["name"], format!("r{round}.txt"), "round {round}");
    }
}

/// Item 3: `If-Match` on PATCH, PUT content and DELETE: 412 `precondition_failed` and nothing
/// changes when the file's etag moved on; the change goes through when it matches.
#[tokio::test]
async fn if_match_guards_patch_replace_and_delete() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    let file = app.upload(&owner, "name=a.txt", "text/plain", "one").await;
    let id = id_of(&file);
    let first_etag = file["etag"].as_str().unwrap().to_owned();
    let path = format!("/v1/files/{id}");
    let replaced: Value = app
        .request(Method::PUT, &format!("{path}/content"), &owner)
        .header("if-match", &first_etag)
        .header("content-type", "text/plain")
        .body("two")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let etag = replaced["etag"].as_str().unwrap().to_owned();
    assert_ne!(etag, first_etag);

    let stale_patch = app
        .request(Method::PATCH, &path, &owner)
        .header("if-match", &first_etag)
        .json(&json!({"name": "stale.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(stale_patch, 412).await, "precondition_failed");
    let stale_put = app
        .request(Method::PUT, &format!("{path}/content"), &owner)
        .header("if-match", &first_etag)
        .header("content-type", "text/plain")
        .body("three")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(stale_put, 412).await, "precondition_failed");
    let stale_delete = app
        .request(Method::DELETE, &path, &owner)
        .header("if-match", &first_etag)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(stale_delete, 412).await, "precondition_failed");
    let now: Value = app.get_json(&path, &owner).await;
    assert_eq!(now["name"], "a.txt", "nothing changed");
    assert_eq!(now["etag"], etag.as_str());

    let patched = app
        .request(Method::PATCH, &path, &owner)
        .header("if-match", &etag)
        .json(&json!({"name": "b.txt"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    let deleted = app
        .request(Method::DELETE, &path, &owner)
        .header("if-match", format!("\"nope\", {etag}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
}

/// Item 4: a delete racing a content replacement leaves no bytes behind, whichever wins.
#[tokio::test]
async fn deletes_racing_replacements_leak_no_blob() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    for round in 0..30 {
        let id = id_of(
            &app.upload(&owner, "name=a.txt", "text/plain", "first")
                .await,
        );
        let replace = app
            .request(Method::PUT, &format!("/v1/files/{id}/content"), &owner)
            .header("content-type", "text/plain")
            .body(format!("second {round}"))
            .send();
        let delete = app
            .request(Method::DELETE, &format!("/v1/files/{id}"), &owner)
            .send();
        let (r, d) = tokio::join!(replace, delete);
        let r = r.unwrap().status().as_u16();
        assert!(
            matches!(r, 200 | 404),
            "round {round}: replace answered {r}"
        );
        assert_eq!(d.unwrap().status(), 204, "round {round}");
    }
    trove_server::service::uploads::collect_garbage(&app.server.state)
        .await
        .unwrap();
    assert_eq!(
        stored_blobs(&app).await,
        0,
        "every revision's bytes were deleted"
    );
}

/// Item 5: sixteen concurrent writers on a file database: no request fails with a 500.
#[tokio::test]
async fn sixteen_concurrent_writers_get_no_500() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(id_of(
            &app.upload(&owner, &format!("name=f{i}.txt"), "text/plain", "x")
                .await,
        ));
    }
    let mut tasks = Vec::new();
    for w in 0..16 {
        let id = ids[w % ids.len()].clone();
        let (client, url, owner) = (app.client.clone(), app.url.clone(), owner.clone());
        let Who::Bearer(token) = owner else {
            unreachable!()
        };
        tasks.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            for i in 0..8 {
                let res = if i % 2 == 0 {
                    client
                        .put(format!("{url}/v1/files/{id}/content"))
                        .bearer_auth(&token)
                        .header("content-type", "text/plain")
                        .body(format!("writer {w} round {i}"))
                        .send()
                        .await
                } else {
                    client
                        .patch(format!("{url}/v1/files/{id}"))
                        .bearer_auth(&token)
                        .json(&json!({"metadata": {"w": w, "i": i}}))
                        .send()
                        .await
                };
                statuses.push(res.unwrap().status().as_u16());
            }
            statuses
        }));
    }
    for t in tasks {
        for status in t.await.unwrap() {
            assert_eq!(status, 200);
        }
    }
}

/// Item 7: 250 deletions that keep failing at the head of the queue do not stall the ones behind.
#[tokio::test]
async fn failing_deletions_do_not_block_the_queue() {
    // Undeletable blobs are made as folders, which only a local folder has.
    let app = TestApp::builder().local_storage().start().await;
    let blobs = app.data_dir().join("blobs");
    let state = &app.server.state;
    for i in 0..250 {
        // A folder with a file in it cannot be deleted as a blob: every attempt fails.
        let key = format!("stuck/f{i}/r");
        std::fs::create_dir_all(blobs.join(&key)).unwrap();
        std::fs::write(blobs.join(&key).join("inside"), "x").unwrap();
        state.meta.queue_blob_deletion(&key).await.unwrap();
    }
    std::fs::create_dir_all(blobs.join("ok/f")).unwrap();
    std::fs::write(blobs.join("ok/f/r"), "orphan").unwrap();
    state.meta.queue_blob_deletion("ok/f/r").await.unwrap();
    let (_, deleted) = trove_server::service::uploads::collect_garbage(state)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert!(
        !blobs.join("ok/f/r").exists(),
        "the key behind the failing ones was deleted"
    );
    let stats = state.meta.blob_deletion_stats().await.unwrap();
    assert_eq!(stats.len, 250, "the failing keys wait for their retry");
    let due = state
        .meta
        .due_blob_deletions(trove_core::time::now(), 1000)
        .await
        .unwrap();
    assert!(due.is_empty(), "each failing key backs off");
}
