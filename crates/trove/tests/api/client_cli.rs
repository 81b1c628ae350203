//! The client commands (`trove files|buckets|categories`) run as the real binary against a real
//! server: what they print, what they change on the server, their exit codes, profiles, and an
//! interrupted upload continued by a second run.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::common::{TestApp, Who, wait_for};

/// `trove ARGS…` with only what the test gives it: no developer's environment or profile file.
fn trove(app: &TestApp, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trove"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TROVE_URL", &app.url)
        .env("TROVE_ADMIN_KEY", app.admin_key())
        .stdin(Stdio::null());
    cmd
}

fn run(mut cmd: impl std::borrow::BorrowMut<Command>) -> Output {
    cmd.borrow_mut().output().expect("trove runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok_json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_uploaded_listed_downloaded_and_removed() {
    let app = TestApp::start().await;
    let home = tempfile::tempdir().unwrap();
    let src = home.path().join("photos");
    std::fs::create_dir_all(src.join("2026/june")).unwrap();
    std::fs::write(src.join("a.txt"), "first").unwrap();
    std::fs::write(src.join("2026/june/b.txt"), "second, deeper").unwrap();
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(src.join("2026/c.bin"), &big).unwrap();
    // A link is not followed into: no file is uploaded twice, and a cycle cannot loop.
    std::os::unix::fs::symlink(&src, src.join("2026/loop")).unwrap();

    let out = run(trove(
        &app,
        home.path(),
        &[
            "files",
            "upload",
            src.to_str().unwrap(),
            "--json",
            "--public",
            "--metadata",
            r#"{"album":"june"}"#,
            "--associate",
            "album:7",
            "--chunk-size",
            "64KiB",
        ],
    ));
    let files = ok_json(&out);
    let mut names: Vec<&str> = files
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["a.txt", "b.txt", "c.bin"]);
    for f in files.as_array().unwrap() {
        assert_eq!(f["status"], "ready");
        assert_eq!(f["visibility"], "public");
        assert_eq!(f["metadata"]["album"], "june");
        assert_eq!(f["associations"][0]["entityReference"], "7");
    }
    let big_id = files
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "c.bin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let listed = ok_json(&run(trove(
        &app,
        home.path(),
        &["files", "ls", "--associated", "album:7", "--json"],
    )));
    assert_eq!(listed.as_array().unwrap().len(), 3);
    let table = run(trove(&app, home.path(), &["files", "ls", "--limit", "2"]));
    assert!(table.status.success());
    let lines: Vec<String> = stdout(&table).lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "a header and two files: {lines:?}");
    assert!(lines[0].starts_with("ID") && lines[0].contains("NAME"));

    let target = home.path().join("copy.bin");
    let out = run(trove(
        &app,
        home.path(),
        &["files", "get", &big_id, "-o", target.to_str().unwrap()],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&target).unwrap(), big);

    let out = run(trove(
        &app,
        home.path(),
        &["files", "url", &big_id, "--expires", "20s"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let url = stdout(&out).trim().to_owned();
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().len(), big.len());

    let out = run(trove(&app, home.path(), &["files", "rm", &big_id]));
    assert!(out.status.success(), "{}", stderr(&out));
    let res = app
        .get(&format!("/v1/files/{big_id}"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_upload_is_continued_by_the_next_run() {
    let app = TestApp::builder().local_storage().start().await;
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("video.bin");
    let body: Vec<u8> = (0..4_000_000u32)
        .map(|i| (i.wrapping_mul(31) % 253) as u8)
        .collect();
    std::fs::write(&path, &body).unwrap();
    let path_arg = path.to_str().unwrap();
    // Slow enough that it is still running when stopped: 4 MB at 256 KiB/s takes ~15 s.
    let mut first = trove(
        &app,
        home.path(),
        &[
            "files",
            "upload",
            path_arg,
            "--chunk-size",
            "64KiB",
            "--limit-rate",
            "256KiB",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    let stored = std::cell::Cell::new(0);
    wait_for(60, "the first run to store some bytes", || {
        let (app, stored) = (&app, &stored);
        async move {
            let page = app.get_json("/v1/uploads?protocol=tus", &Who::Admin).await;
            stored.set(page["uploads"][0]["offset"].as_u64().unwrap_or(0));
            stored.get() > 0
        }
    })
    .await;
    let stored = stored.get();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(
        stored < body.len() as u64,
        "the first run was stopped before the end"
    );

    let out = run(trove(
        &app,
        home.path(),
        &["files", "upload", path_arg, "--json"],
    ));
    let files = ok_json(&out);
    let resumed = stderr(&out);
    let at: u64 = resumed
        .split("at byte ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the second run says where it resumed: {resumed}"));
    assert!(at >= stored && at < body.len() as u64, "resumed at {at}");
    let id = files[0]["id"].as_str().unwrap();
    let res = app
        .get(&format!("/v1/files/{id}/content"), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), body.as_slice());
    // One file, not one per run, and nothing left unfinished.
    let listed = app.get_json("/v1/files", &Who::Admin).await;
    assert_eq!(listed["files"].as_array().unwrap().len(), 1);
    let unfinished = app.get_json("/v1/uploads", &Who::Admin).await;
    assert_eq!(unfinished["uploads"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_and_categories_are_managed() {
    let app = TestApp::start().await;
    let home = tempfile::tempdir().unwrap();
    let created = ok_json(&run(trove(
        &app,
        home.path(),
        &[
            "buckets",
            "create",
            "scans",
            "--set",
            r#"{"maxUploadFileSize": 1000}"#,
        ],
    )));
    assert_eq!(created["id"], "scans");
    assert_eq!(created["maxUploadFileSize"], 1000);
    let updated = ok_json(&run(trove(
        &app,
        home.path(),
        &[
            "buckets",
            "update",
            "scans",
            "--set",
            r#"{"allowedMimeTypes": ["image/*"]}"#,
        ],
    )));
    assert_eq!(updated["allowedMimeTypes"][0], "image/*");
    assert_eq!(
        updated["maxUploadFileSize"], 1000,
        "an update changes only what it names"
    );
    let listed = ok_json(&run(trove(&app, home.path(), &["buckets", "ls", "--json"])));
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == "scans")
    );
    let table = stdout(&run(trove(&app, home.path(), &["buckets", "ls"])));
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("scans ") && l.contains("image/*")),
        "{table}"
    );
    let out = run(trove(&app, home.path(), &["buckets", "rm", "scans"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let res = app
        .get("/v1/buckets/scans", &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let created = ok_json(&run(trove(
        &app,
        home.path(),
        &[
            "categories",
            "create",
            "invoices",
            "--set",
            r#"{"name": "Invoices", "maxSize": 5000}"#,
        ],
    )));
    assert_eq!(created["key"], "invoices");
    let listed = ok_json(&run(trove(
        &app,
        home.path(),
        &["categories", "ls", "--json"],
    )));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let out = run(trove(&app, home.path(), &["categories", "rm", "invoices"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = ok_json(&run(trove(
        &app,
        home.path(),
        &["categories", "ls", "--json"],
    )));
    assert_eq!(listed.as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_say_who_failed() {
    let app = TestApp::start().await;
    let home = tempfile::tempdir().unwrap();
    // The server refused: 1, with its code and message.
    let missing = uuid::Uuid::now_v7().to_string();
    let out = run(trove(&app, home.path(), &["files", "get", &missing]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not_found: "), "{}", stderr(&out));
    let out = run(trove(
        &app,
        home.path(),
        &["buckets", "create", "Not A Slug"],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid_request"), "{}", stderr(&out));
    // A user may not create buckets.
    let token = app.token("u1", None, &[]);
    let out = run(trove(&app, home.path(), &["buckets", "create", "mine"])
        .env_remove("TROVE_ADMIN_KEY")
        .env("TROVE_TOKEN", &token));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("forbidden"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(&token), "no credential is echoed");
    // Bad usage: 2.
    let out = run(trove(&app, home.path(), &["files", "upload"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(trove(
        &app,
        home.path(),
        &["files", "upload", "x", "--chunk-size", "0"],
    ));
    assert_eq!(out.status.code(), Some(2));
    // No server: 1, saying so.
    let out =
        run(trove(&app, home.path(), &["files", "ls"]).env("TROVE_URL", "http://127.0.0.1:9"));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    // An unreadable local file: 1, naming it.
    let out = run(trove(
        &app,
        home.path(),
        &["files", "upload", "/no/such/file"],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/no/such/file"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_hold_the_server_and_credentials() {
    let app = TestApp::start().await;
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join(".config/trove");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("cli.toml"),
        format!(
            "[profiles.default]\nurl = \"http://127.0.0.1:9\"\n\n[profiles.local]\nurl = \"{}\"\nadmin_key = \"{}\"\n",
            app.url,
            app.admin_key()
        ),
    )
    .unwrap();
    let bare = |args: &[&str]| {
        let mut cmd = trove(&app, home.path(), args);
        cmd.env_remove("TROVE_URL").env_remove("TROVE_ADMIN_KEY");
        run(&mut cmd)
    };
    let out = bare(&["buckets", "ls", "--json", "--profile", "local"]);
    assert!(
        ok_json(&out)
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["id"] == "default")
    );
    let mut with_env = trove(&app, home.path(), &["buckets", "ls", "--json"]);
    with_env
        .env("TROVE_PROFILE", "local")
        .env_remove("TROVE_URL");
    assert!(run(&mut with_env).status.success());
    // The default profile points nowhere.
    let out = bare(&["buckets", "ls"]);
    assert_eq!(out.status.code(), Some(1));
    // An unknown profile is an error, not silently nothing.
    let out = bare(&["buckets", "ls", "--profile", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no profile 'prod'"),
        "{}",
        stderr(&out)
    );
    // Flags win over the profile.
    let out = bare(&[
        "buckets",
        "ls",
        "--profile",
        "local",
        "--url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(out.status.code(), Some(1));
}
