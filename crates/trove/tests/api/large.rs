//! A 200 MiB upload and download, streamed both ways: the client generates the bytes on the fly and
//! hashes what it reads back, so neither side needs the file in memory. (Peak memory is measured in
//! the benchmark harness, not here.)

use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{TestApp, Who, id_of};

const CHUNK: usize = 1024 * 1024;
const CHUNKS: usize = 200;

fn chunk(i: usize) -> Vec<u8> {
    (0..CHUNK).map(|j| ((i * 31 + j * 7) % 251) as u8).collect()
}

#[tokio::test]
async fn two_hundred_mib_round_trip() {
    let app = TestApp::start().await;
    app.create_bucket(json!({"id": "big", "maxUploadFileSize": 300 * 1024 * 1024}))
        .await;
    let mut expected = Sha256::new();
    for i in 0..CHUNKS {
        expected.update(chunk(i));
    }
    let expected = hex::encode(expected.finalize());

    let body = futures_util::stream::iter(0..CHUNKS).map(|i| Ok::<_, std::io::Error>(chunk(i)));
    let res = app
        .request(
            Method::POST,
            "/v1/files?bucketId=big&name=big.bin",
            &Who::Admin,
        )
        .header("content-type", "application/octet-stream")
        .header("content-length", (CHUNK * CHUNKS).to_string())
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let file: Value = res.json().await.unwrap();
    assert_eq!(file["size"], (CHUNK * CHUNKS) as u64);
    assert_eq!(file["checksumSha256"], expected.as_str());

    let res = app
        .get(&format!("/v1/files/{}/content", id_of(&file)), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["content-length"],
        (CHUNK * CHUNKS).to_string().as_str()
    );
    let mut stream = res.bytes_stream();
    let mut got = Sha256::new();
    let mut len = 0usize;
    while let Some(part) = stream.next().await {
        let part = part.unwrap();
        len += part.len();
        got.update(&part);
    }
    assert_eq!(len, CHUNK * CHUNKS);
    assert_eq!(hex::encode(got.finalize()), expected);

    let res = app
        .get(&format!("/v1/files/{}/content", id_of(&file)), &Who::Admin)
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(
        res.bytes().await.unwrap().as_ref(),
        &chunk(CHUNKS - 1)[CHUNK - 10..]
    );
}
