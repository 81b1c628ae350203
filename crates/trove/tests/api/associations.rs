//! Associations: round trip, idempotent adds, upload-time associations, unlinking an object.

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::{TestApp, Who, error_code, id_of};

#[tokio::test]
async fn associations_round_trip() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    let f = app
        .upload(&owner, "name=contract.pdf", "application/pdf", "%PDF-1.4")
        .await;
    assert_eq!(f["associations"], json!([]));
    let id = id_of(&f);
    let path = format!("/v1/files/{id}/associations");
    let deal = json!({"entityName": "deal", "entityReference": "42"});
    let res = app
        .request(Method::POST, &path, &owner)
        .json(&deal)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["fileId"], id.as_str());
    assert_eq!(created["entityName"], "deal");
    let res = app
        .request(Method::POST, &path, &owner)
        .json(&deal)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the same pair again is not a duplicate");
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], created["id"]);
    app.request(Method::POST, &path, &owner)
        .json(&json!({"entityName": "customer", "entityReference": "7"}))
        .send()
        .await
        .unwrap();

    let list: Value = app
        .get(&path, &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["associations"].as_array().unwrap().len(), 2);
    let file: Value = app
        .get(&format!("/v1/files/{id}"), &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        file["associations"].as_array().unwrap().len(),
        2,
        "files carry their associations"
    );

    let res = app
        .request(
            Method::DELETE,
            &format!("{path}/{}", created["id"].as_str().unwrap()),
            &owner,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .request(
            Method::DELETE,
            &format!("{path}/{}", created["id"].as_str().unwrap()),
            &owner,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
    let list: Value = app
        .get(&path, &owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["associations"][0]["entityName"], "customer");

    for bad in [
        json!({"entityName": "", "entityReference": "1"}),
        json!({"entityName": "x"}),
        json!({"entityName": "x", "entityReference": "y".repeat(256)}),
    ] {
        let res = app
            .request(Method::POST, &path, &owner)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(error_code(res, 400).await, "invalid_request", "{bad}");
    }
}

#[tokio::test]
async fn only_those_who_may_change_a_file_change_its_associations() {
    let app = TestApp::start().await;
    let owner = app.user("u1", Some("t1"));
    let f = app
        .upload(&owner, "name=a.txt&access=tenant", "text/plain", "x")
        .await;
    let path = format!("/v1/files/{}/associations", id_of(&f));
    let e = json!({"entityName": "deal", "entityReference": "1"});
    let mate = app.user("u2", Some("t1"));
    assert_eq!(app.get(&path, &mate).send().await.unwrap().status(), 200);
    let res = app
        .request(Method::POST, &path, &mate)
        .json(&e)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 403).await, "forbidden");
    let res = app
        .request(Method::POST, &path, &app.user("x", Some("t2")))
        .json(&e)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 404).await, "not_found");
    assert_eq!(
        app.request(Method::POST, &path, &app.tenant_admin("boss", "t1"))
            .json(&e)
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
}

#[tokio::test]
async fn associations_given_at_upload_time() {
    let app = TestApp::start().await;
    let f = app
        .upload(&Who::Admin, "name=a.txt&associations=%5B%7B%22entityName%22%3A%22deal%22%2C%22entityReference%22%3A%2242%22%7D%5D", "text/plain", "x")
        .await;
    assert_eq!(f["associations"][0]["entityName"], "deal");
    assert_eq!(f["associations"][0]["entityReference"], "42");
    let form = Form::new()
        .text("associations", r#"[{"entityName":"deal","entityReference":"42"},{"entityName":"deal","entityReference":"42"},{"entityName":"contact","entityReference":"a"}]"#)
        .part("file", Part::bytes(b"one".to_vec()).file_name("one.txt"))
        .part("file", Part::bytes(b"two".to_vec()).file_name("two.txt"));
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    for f in body["files"].as_array().unwrap() {
        assert_eq!(
            f["associations"].as_array().unwrap().len(),
            2,
            "duplicates dropped: {f}"
        );
    }
    let form = Form::new()
        .text("associations", "not json")
        .part("file", Part::bytes(b"x".to_vec()).file_name("x"));
    let res = app
        .request(Method::POST, "/v1/files", &Who::Admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
}

#[tokio::test]
async fn unlinking_an_object_touches_only_changeable_files_and_can_delete_orphans() {
    let app = TestApp::start().await;
    let u1 = app.user("u1", Some("t1"));
    let u2 = app.user("u2", Some("t1"));
    let assoc =
        "associations=%5B%7B%22entityName%22%3A%22deal%22%2C%22entityReference%22%3A%2242%22%7D%5D";
    let only_deal = id_of(
        &app.upload(&u1, &format!("name=a.txt&{assoc}"), "text/plain", "x")
            .await,
    );
    let also_other = id_of(
        &app.upload(&u1, &format!("name=b.txt&{assoc}"), "text/plain", "x")
            .await,
    );
    app.request(
        Method::POST,
        &format!("/v1/files/{also_other}/associations"),
        &u1,
    )
    .json(&json!({"entityName": "contact", "entityReference": "9"}))
    .send()
    .await
    .unwrap();
    let foreign = id_of(
        &app.upload(
            &u2,
            &format!("name=c.txt&access=tenant&{assoc}"),
            "text/plain",
            "x",
        )
        .await,
    );

    let res = app
        .request(
            Method::DELETE,
            "/v1/associations?entityName=deal&entityReference=42&deleteFiles=true",
            &u1,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["removed"], 2);
    assert_eq!(body["deletedFiles"], json!([only_deal]));
    assert_eq!(
        app.get(&format!("/v1/files/{only_deal}"), &u1)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let kept: Value = app
        .get(&format!("/v1/files/{also_other}"), &u1)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(kept["associations"].as_array().unwrap().len(), 1);
    let untouched: Value = app
        .get(&format!("/v1/files/{foreign}"), &u2)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        untouched["associations"].as_array().unwrap().len(),
        1,
        "u1 may not change u2's file"
    );
    let res = app
        .request(Method::DELETE, "/v1/associations?entityName=deal", &u1)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res, 400).await, "invalid_request");
}
