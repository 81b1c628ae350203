//! Graceful shutdown of the real binary: on SIGTERM the node drains (readiness 503, new requests
//! 503 `unavailable`), requests in flight finish, the database is closed cleanly, and an upload
//! still running when the grace period ends is cut off and left resumable (tus).

use reqwest::Method;
use serde_json::Value;

use crate::common::{ServerProcess, channel_body, wait_for};

fn terminate(server: &ServerProcess) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits for the process to exit by itself and returns whether it exited successfully.
async fn exit_status(server: &mut ServerProcess) -> std::process::ExitStatus {
    let mut status = None;
    wait_for(60, "the process to exit", || {
        status = server.child.try_wait().unwrap();
        std::future::ready(status.is_some())
    })
    .await;
    status.unwrap()
}

async fn readiness(client: &reqwest::Client, url: &str) -> u16 {
    client
        .get(format!("{url}/readyz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn wal_is_empty(dir: &std::path::Path) -> bool {
    std::fs::metadata(dir.join("trove.db-wal")).map_or(true, |m| m.len() == 0)
}

/// The bytes of the regular files below `dir`.
fn bytes_under(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_under(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}

#[tokio::test]
async fn sigterm_drains_and_lets_an_upload_in_flight_finish() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::spawn(dir.path(), &[]);
    let client = reqwest::Client::new();
    assert_eq!(readiness(&client, &server.url).await, 200);

    let (tx, body) = channel_body();
    let upload = tokio::spawn(
        server
            .admin(&client, Method::POST, "/v1/files?name=in-flight.bin")
            .header("content-type", "application/octet-stream")
            .body(body)
            .send(),
    );
    let chunk = vec![5u8; 256 * 1024];
    tx.send(Ok(chunk.clone())).await.unwrap();
    // The request has reached the server once its first bytes are staged.
    wait_for(30, "the upload's bytes being staged", || {
        std::future::ready(
            std::fs::read_dir(dir.path().join("blobs/.staging"))
                .map(|d| d.count() > 0)
                .unwrap_or(false),
        )
    })
    .await;

    terminate(&server);
    wait_for(30, "readiness to turn 503", || {
        let (client, url) = (client.clone(), server.url.clone());
        async move { readiness(&client, &url).await == 503 }
    })
    .await;
    let refused = server
        .admin(&client, Method::GET, "/v1/files")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let err: Value = refused.json().await.unwrap();
    assert_eq!(err["error"]["code"], "unavailable", "{err}");

    // The upload in flight goes on and is acknowledged.
    for _ in 0..3 {
        tx.send(Ok(chunk.clone())).await.unwrap();
    }
    drop(tx);
    let res = upload.await.unwrap().unwrap();
    assert_eq!(res.status(), 201);
    let file: Value = res.json().await.unwrap();
    let id = file["id"].as_str().unwrap().to_owned();

    let status = exit_status(&mut server).await;
    assert!(status.success(), "{status}");
    assert!(wal_is_empty(dir.path()), "the database was checkpointed");

    let server = ServerProcess::spawn(dir.path(), &[]);
    let bytes = server.content(&client, &id).await;
    assert_eq!(bytes.len(), 4 * chunk.len());
    assert!(bytes.iter().all(|b| *b == 5));
}

#[tokio::test]
async fn a_tus_upload_cut_off_at_the_deadline_resumes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("TROVE_SHUTDOWN_GRACE", "1")];
    let mut server = ServerProcess::spawn(dir.path(), &env);
    let client = reqwest::Client::new();
    const FIRST: usize = 256 * 1024;
    const SENT: usize = 2 * 1024 * 1024;
    let content: Vec<u8> = (0..FIRST + 2 * SENT).map(|i| (i % 251) as u8).collect();
    let total = content.len() as u64;
    let created = server
        .admin(&client, Method::POST, "/v1/tus")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", total)
        .header(
            "upload-metadata",
            trove_core::tus::encode_metadata(&[("filename", "cut.bin")]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let path = location.strip_prefix(&server.url).unwrap().to_owned();
    let patch = |server: &ServerProcess, offset: u64, body: reqwest::Body| {
        server
            .admin(&client, Method::PATCH, &path)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset)
            .body(body)
            .send()
    };
    let res = patch(&server, 0, content[..FIRST].to_vec().into())
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // A second PATCH that sends half its bytes and then stalls past the grace period.
    let (tx, body) = channel_body();
    let before = bytes_under(&dir.path().join("blobs"));
    let stalled = tokio::spawn(patch(&server, FIRST as u64, body));
    for chunk in content[FIRST..FIRST + SENT].chunks(256 * 1024) {
        tx.send(Ok(chunk.to_vec())).await.unwrap();
    }
    // The PATCH is being served once some of its bytes are on disk beside the first PATCH's.
    wait_for(30, "the second PATCH's bytes being written", || {
        std::future::ready(bytes_under(&dir.path().join("blobs")) > before)
    })
    .await;
    terminate(&server);
    let status = exit_status(&mut server).await;
    assert!(status.success(), "{status}");
    let outcome = stalled.await.unwrap();
    assert!(
        outcome.is_err() || outcome.is_ok_and(|r| r.status() != 204),
        "a cut-off PATCH is not acknowledged as complete"
    );
    drop(tx);

    let server = ServerProcess::spawn(dir.path(), &env);
    let head = server
        .admin(&client, Method::HEAD, &path)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let offset: u64 = head.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        ((FIRST + 1) as u64..=(FIRST + SENT) as u64).contains(&offset),
        "the bytes stored before the cut-off are kept: {offset}"
    );
    let rest = content[usize::try_from(offset).unwrap()..].to_vec();
    let res = patch(&server, offset, rest.into()).await.unwrap();
    assert_eq!(res.status(), 204);
    let id = res.headers()["trove-file-id"].to_str().unwrap().to_owned();
    let bytes = server.content(&client, &id).await;
    assert!(bytes[..] == content[..], "the resumed upload is whole");
}
