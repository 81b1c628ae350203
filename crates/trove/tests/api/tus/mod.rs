//! tus 1.0 over HTTP: every status and header the protocol and its extensions fix, as a client
//! relies on them. Shared helpers here; the tests by theme in the submodules.

mod concatenation;
mod extensions;
mod protocol;
mod safety;

use reqwest::{Method, RequestBuilder, Response};
use trove_core::tus::encode_metadata;

use crate::common::{TestApp, Who};

pub fn tus(app: &TestApp, method: Method, path: &str, who: &Who) -> RequestBuilder {
    app.request(method, path, who)
        .header("tus-resumable", "1.0.0")
}

pub fn header(res: &Response, name: &str) -> String {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Creates an upload and returns its path (`/v1/tus/{id}`).
pub async fn create(app: &TestApp, who: &Who, length: u64, metadata: &[(&str, &str)]) -> String {
    let res = tus(app, Method::POST, "/v1/tus", who)
        .header("upload-length", length)
        .header("upload-metadata", encode_metadata(metadata))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let location = header(&res, "location");
    location
        .strip_prefix(&app.url)
        .expect("an absolute upload URL on this server")
        .to_owned()
}

pub async fn patch(app: &TestApp, who: &Who, path: &str, offset: u64, body: Vec<u8>) -> Response {
    tus(app, Method::PATCH, path, who)
        .header("content-type", "application/offset+octet-stream")
        .header("upload-offset", offset)
        .body(body)
        .send()
        .await
        .unwrap()
}

pub async fn offset(app: &TestApp, who: &Who, path: &str) -> u64 {
    let res = tus(app, Method::HEAD, path, who).send().await.unwrap();
    assert_eq!(res.status(), 200);
    header(&res, "upload-offset").parse().unwrap()
}

pub async fn content(app: &TestApp, id: &str) -> Vec<u8> {
    let res = app
        .get(&format!("/v1/files/{id}/content"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

/// How many unfinished uploads have bytes in the store, whatever the backend.
pub async fn uploads_on_disk(app: &TestApp) -> usize {
    app.server.state.blobs.upload_ids().await.unwrap().len()
}
