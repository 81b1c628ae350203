//! Crash safety: SIGKILL during uploads, restart, and check that every `ready` file has its whole
//! content (a blob, or bytes kept inline in the database for small files), every acknowledged file
//! is intact, and the interrupted upload is never served.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::common::{ServerProcess, wait_until};

fn staged_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir.join("blobs/.staging"))
        .map(|d| {
            d.flatten()
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn sigkill_during_upload_leaves_no_ready_file_without_its_blob() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), &[]);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let upload = |body: reqwest::Body, name: &str| {
        client
            .post(format!("{}/v1/files?name={name}", server.url))
            .header("x-trove-admin-key", &server.admin_key)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
    };

    // Acknowledged before the crash: small files (kept inline) and larger ones (blobs).
    let mut acknowledged = Vec::new();
    for i in 0..8 {
        let content = format!("file number {i}").repeat(if i < 5 { 100 } else { 10_000 });
        let res = upload(reqwest::Body::from(content.clone()), &format!("f{i}.txt"))
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let f: Value = res.json().await.unwrap();
        acknowledged.push((f["id"].as_str().unwrap().to_owned(), content));
    }

    // An upload that is streaming when the server dies.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream(rx));
    let in_flight = tokio::spawn(upload(body, "interrupted.bin"));
    for _ in 0..8 {
        tx.send(Ok(vec![7u8; 1024 * 1024])).await.unwrap();
    }
    wait_until(30, "bytes reaching the staging folder", || {
        staged_bytes(dir.path()) > 0
    })
    .await;
    // Small uploads racing the kill, acknowledged in group commits: whatever got its 201 must
    // survive, whatever did not may or may not.
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let racing: Vec<_> = (0..8)
        .map(|w| {
            let (client, url, key, acked) = (
                client.clone(),
                server.url.clone(),
                server.admin_key.clone(),
                acked.clone(),
            );
            tokio::spawn(async move {
                let mut done = Vec::new();
                for n in 0.. {
                    let content = format!("racing {w}/{n}");
                    let res = client
                        .post(format!("{url}/v1/files?name=r{w}-{n}.txt"))
                        .header("x-trove-admin-key", &key)
                        .header("content-type", "text/plain")
                        .body(content.clone())
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status() == 201 => {
                            let f: Value = r.json().await.unwrap();
                            done.push((f["id"].as_str().unwrap().to_owned(), content));
                            acked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        _ => break,
                    }
                }
                done
            })
        })
        .collect();
    let before_kill = acknowledged.len();
    wait_until(30, "racing uploads under way", || {
        acked.load(std::sync::atomic::Ordering::SeqCst) >= 32
    })
    .await;
    server.kill();
    drop(tx);
    for r in racing {
        acknowledged.extend(r.await.unwrap());
    }
    assert!(acknowledged.len() >= before_kill);
    let outcome = in_flight.await.unwrap();
    assert!(
        outcome.is_err() || outcome.is_ok_and(|r| !r.status().is_success()),
        "the interrupted upload is not acknowledged"
    );

    // Restart on the same data directory.
    let server = ServerProcess::spawn(dir.path(), &[]);
    assert_eq!(
        staged_bytes(dir.path()),
        0,
        "start-up clears interrupted writes"
    );

    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("trove.db").display()
    ))
    .await
    .unwrap();
    let rows = sqlx::query(
        "SELECT f.id, f.bucket_id, f.revision, f.size, f.status, length(c.data) AS inline_len \
         FROM files f LEFT JOIN inline_contents c ON c.file_id = f.id AND c.revision = f.revision",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut pending = Vec::new();
    for row in &rows {
        let id: String = row.get("id");
        let status: String = row.get("status");
        if status == "ready" {
            let revision: String = row.get("revision");
            let size: i64 = row.get("size");
            let bucket: String = row.get("bucket_id");
            if let Some(inline) = row.get::<Option<i64>, _>("inline_len") {
                assert_eq!(inline, size, "ready file {id} has its whole inline content");
                continue;
            }
            let key = trove_core::FileRecord::blob_key(
                &trove_core::BucketId::parse(&bucket).unwrap(),
                trove_core::FileId::parse(&id).unwrap(),
                trove_core::RevisionId(revision.parse().unwrap()),
            );
            let path = dir.path().join("blobs").join(key);
            let on_disk = std::fs::metadata(&path)
                .map(|m| m.len())
                .unwrap_or(u64::MAX);
            assert_eq!(on_disk, size as u64, "ready file {id} has its whole blob");
        } else {
            assert_eq!(status, "upload_pending");
            pending.push(id);
        }
    }
    let ready: std::collections::HashSet<String> = rows
        .iter()
        .map(|r| r.get::<String, _>("id"))
        .filter(|id| !pending.contains(id))
        .collect();
    for (id, _) in &acknowledged {
        assert!(ready.contains(id), "acknowledged file {id} is ready");
    }
    assert_eq!(pending.len(), 1, "the interrupted upload is pending");

    let client = reqwest::Client::new();
    for (id, content) in &acknowledged {
        let res = client
            .get(format!("{}/v1/files/{id}/content", server.url))
            .header("x-trove-admin-key", &server.admin_key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "acknowledged file {id} survived");
        let body = res.bytes().await.unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&body)),
            hex::encode(Sha256::digest(content.as_bytes()))
        );
    }
    let res = client
        .get(format!("{}/v1/files/{}/content", server.url, pending[0]))
        .header("x-trove-admin-key", &server.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409, "a pending file's bytes are never served");
    server.kill();
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}
