//! One suite for every blob backend: the local folder, memory, and the S3-compatible store named
//! by `TROVE_TEST_S3_URL` (an `s3://bucket` URL; endpoint and keys from the `AWS_*` variables).
//! Without it the S3 run is left out on a developer's machine; under CI (`CI` set) it fails.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use trove_blob::{BlobError, BlobStore, PutConstraints, S3Settings};

async fn read_all(store: &BlobStore, key: &str, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let chunks: Vec<Bytes> = store
        .read(key, range)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

/// A test's own corner of the S3 bucket, or `None` when no S3 server is configured.
async fn s3_store() -> Option<BlobStore> {
    let Ok(url) = std::env::var("TROVE_TEST_S3_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the blob conformance suite against S3: set TROVE_TEST_S3_URL"
        );
        return None;
    };
    let url = format!(
        "{}/conformance-{}",
        url.trim_end_matches('/'),
        uuid::Uuid::new_v4()
    );
    let settings = S3Settings {
        force_path_style: true,
        ..S3Settings::default()
    };
    Some(
        BlobStore::open(&url, &settings)
            .await
            .expect("S3 store opens"),
    )
}

async fn every_backend() -> Vec<(BlobStore, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let local = BlobStore::from_url(&format!("file://{}", dir.path().display()))
        .await
        .unwrap();
    let mut all = vec![(local, Some(dir)), (BlobStore::in_memory(), None)];
    if let Some(s3) = s3_store().await {
        all.push((s3, None));
    }
    all
}

#[tokio::test]
async fn streaming_writes_become_visible_only_when_finished() {
    for (store, _dir) in every_backend().await {
        let kind = store.kind();
        let mut w = store.writer("b/00/01/f/r1").await.unwrap();
        // More than one part of an object store's multipart upload.
        let chunk = Bytes::from(vec![7u8; 1024 * 1024]);
        for _ in 0..(trove_blob::PART_SIZE / chunk.len() + 2) {
            w.write(chunk.clone()).await.unwrap();
        }
        assert_eq!(
            store.size("b/00/01/f/r1").await.unwrap(),
            None,
            "{kind}: invisible before finish"
        );
        w.write(Bytes::from_static(b"end")).await.unwrap();
        w.finish().await.unwrap();
        let size = (trove_blob::PART_SIZE + 2 * 1024 * 1024 + 3) as u64;
        assert_eq!(
            store.size("b/00/01/f/r1").await.unwrap(),
            Some(size),
            "{kind}"
        );
        let mut total = 0u64;
        let mut stream = store.read("b/00/01/f/r1", None).await.unwrap();
        while let Some(chunk) = stream.next().await {
            total += chunk.unwrap().len() as u64;
        }
        assert_eq!(total, size, "{kind}: the whole blob streams back");
        assert_eq!(
            read_all(&store, "b/00/01/f/r1", Some(size - 5..size)).await,
            b"\x07\x07end",
            "{kind}"
        );
    }
}

#[tokio::test]
async fn ranged_reads_replace_and_delete() {
    for (store, _dir) in every_backend().await {
        let kind = store.kind();
        store
            .put("b/aa/bb/f/r", Bytes::from_static(b"hello world"))
            .await
            .unwrap();
        assert_eq!(
            read_all(&store, "b/aa/bb/f/r", Some(6..9)).await,
            b"wor",
            "{kind}"
        );
        assert_eq!(
            read_all(&store, "b/aa/bb/f/r", Some(0..1)).await,
            b"h",
            "{kind}"
        );
        // Writing a key again replaces it whole.
        let mut w = store.writer("b/aa/bb/f/r").await.unwrap();
        w.write(Bytes::from_static(b"bye")).await.unwrap();
        w.finish().await.unwrap();
        assert_eq!(
            read_all(&store, "b/aa/bb/f/r", None).await,
            b"bye",
            "{kind}"
        );
        let head = store.head("b/aa/bb/f/r").await.unwrap().unwrap();
        assert_eq!((head.key.as_str(), head.size), ("b/aa/bb/f/r", 3), "{kind}");
        store.delete("b/aa/bb/f/r").await.unwrap();
        store.delete("b/aa/bb/f/r").await.unwrap();
        assert_eq!(store.head("b/aa/bb/f/r").await.unwrap(), None, "{kind}");
        assert!(
            matches!(
                store.read("b/aa/bb/f/r", None).await,
                Err(BlobError::NotFound)
            ),
            "{kind}"
        );
        store.ping().await.unwrap();
    }
}

#[tokio::test]
async fn aborted_and_dropped_writes_leave_nothing() {
    for (store, _dir) in every_backend().await {
        let kind = store.kind();
        let big = Bytes::from(vec![1u8; trove_blob::PART_SIZE + 1]);
        let mut aborted = store.writer("b/00/00/f/aborted").await.unwrap();
        aborted.write(big.clone()).await.unwrap();
        aborted.abort().await;
        let mut dropped = store.writer("b/00/00/f/dropped").await.unwrap();
        dropped.write(big).await.unwrap();
        drop(dropped);
        assert_eq!(
            store.head("b/00/00/f/aborted").await.unwrap(),
            None,
            "{kind}"
        );
        assert_eq!(
            store.head("b/00/00/f/dropped").await.unwrap(),
            None,
            "{kind}"
        );
        let listed: Vec<_> = store.list("").try_collect().await.unwrap();
        assert!(listed.is_empty(), "{kind}: {listed:?}");
    }
}

#[tokio::test]
async fn listings_show_every_blob_under_a_folder_and_nothing_internal() {
    for (store, _dir) in every_backend().await {
        let kind = store.kind();
        for key in ["b1/00/01/f1/r1", "b1/00/02/f2/r1", "b2/ff/ff/f3/r1"] {
            store.put(key, Bytes::from_static(b"x")).await.unwrap();
        }
        if store.supports_multipart() {
            let staged = BlobStore::staging_key("u1", "tail-0");
            store
                .put(&staged, Bytes::from_static(b"tail"))
                .await
                .unwrap();
        }
        let mut all: Vec<String> = store
            .list("")
            .map_ok(|i| i.key)
            .try_collect()
            .await
            .unwrap();
        all.sort();
        assert_eq!(
            all,
            ["b1/00/01/f1/r1", "b1/00/02/f2/r1", "b2/ff/ff/f3/r1"],
            "{kind}"
        );
        let b1: Vec<_> = store.list("b1/").try_collect().await.unwrap();
        assert_eq!(b1.len(), 2, "{kind}");
        assert!(b1.iter().all(|i| i.size == 1), "{kind}");
        assert!(store.list("nothing/").next().await.is_none(), "{kind}");
    }
}

#[tokio::test]
async fn multipart_uploads_complete_in_order_or_abort() {
    for (store, _dir) in every_backend().await {
        if !store.supports_multipart() {
            continue;
        }
        let kind = store.kind();
        let first = Bytes::from(vec![b'a'; 5 * 1024 * 1024]);
        let id = store.start_multipart("b/01/02/f/r").await.unwrap();
        let p1 = store
            .put_part("b/01/02/f/r", &id, 0, first.clone())
            .await
            .unwrap();
        // A part sent again replaces the first attempt.
        let _ = store
            .put_part("b/01/02/f/r", &id, 1, Bytes::from_static(b"wrong"))
            .await
            .unwrap();
        let p2 = store
            .put_part("b/01/02/f/r", &id, 1, Bytes::from_static(b"tail"))
            .await
            .unwrap();
        assert_eq!(
            store.head("b/01/02/f/r").await.unwrap(),
            None,
            "{kind}: nothing before completion"
        );
        store
            .complete_multipart("b/01/02/f/r", &id, vec![p1, p2])
            .await
            .unwrap();
        assert_eq!(
            store.size("b/01/02/f/r").await.unwrap(),
            Some(first.len() as u64 + 4),
            "{kind}"
        );
        let end = first.len() as u64 + 4;
        assert_eq!(
            read_all(&store, "b/01/02/f/r", Some(end - 6..end)).await,
            b"aatail",
            "{kind}"
        );

        let id = store.start_multipart("b/01/02/f/gone").await.unwrap();
        store
            .put_part("b/01/02/f/gone", &id, 0, first.clone())
            .await
            .unwrap();
        store.abort_multipart("b/01/02/f/gone", &id).await.unwrap();
        assert_eq!(store.head("b/01/02/f/gone").await.unwrap(), None, "{kind}");
    }
}

#[tokio::test]
async fn presigned_urls_work_without_credentials_and_bind_what_they_sign() {
    let Some(store) = s3_store().await else {
        return;
    };
    let client = reqwest::Client::new();
    let body = b"presigned bytes".to_vec();
    let put = store
        .presign_put(
            "b/0a/0b/f/r",
            &PutConstraints {
                content_type: "text/plain".into(),
                sha256_base64: None,
            },
            Duration::from_secs(60),
        )
        .await
        .unwrap()
        .expect("S3 presigns");
    let send = |content_type: &str, body: Vec<u8>| {
        client
            .put(&put.url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    // Another content type than the one signed is refused.
    let refused = send("image/png", body.clone()).await.unwrap();
    assert_eq!(refused.status(), 403);
    let res = send("text/plain", body.clone()).await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert_eq!(read_all(&store, "b/0a/0b/f/r", None).await, body);

    let get = store
        .presign_get("b/0a/0b/f/r", Duration::from_secs(60), &Default::default())
        .await
        .unwrap()
        .unwrap();
    let res = client.get(&get).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), body);
    let tampered = get.replace("/f/r?", "/f/s?");
    let res = client.get(tampered).send().await.unwrap();
    assert!(
        res.status().is_client_error(),
        "a URL for another key is refused: {}",
        res.status()
    );
    assert!(
        BlobStore::in_memory()
            .presign_get("k", Duration::from_secs(1), &Default::default())
            .await
            .unwrap()
            .is_none()
    );
}
