//! The binary's maintenance commands against real data: `trove gc` beside a live server, and
//! `trove migrate-storage` between the local folder and S3.

use crate::cli::trove;

#[test]
fn gc_runs_once_and_reports() {
    let dir = tempfile::tempdir().unwrap();
    let out = trove(dir.path()).arg("gc").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "removed 0 expired uploads, deleted 0 queued blobs\n\
         0 unreferenced blobs (deleted), 0 files missing their blob"
    );
}

/// `trove gc` beside a live server: blobs no file references go once they are an hour old (a
/// dry run only names them), young ones stay, and a ready file whose blob vanished is reported.
#[tokio::test]
async fn gc_finds_unreferenced_blobs_and_files_missing_theirs() {
    use crate::common::{TestApp, Who, file_folder, id_of};
    let app = TestApp::builder()
        .blobs_only()
        .local_storage()
        .start()
        .await;
    let blobs = &app.server.state.blobs;
    let kept = app
        .upload(&Who::Admin, "name=kept.txt", "text/plain", "kept")
        .await;
    let lost = app
        .upload(&Who::Admin, "name=lost.txt", "text/plain", "lost")
        .await;
    let orphan =
        "default/00/01/0190b2a4-0000-7000-8000-000000000001/0190b2a4-0000-7000-8000-000000000002";
    let young =
        "default/00/02/0190b2a4-0000-7000-8000-000000000003/0190b2a4-0000-7000-8000-000000000004";
    for key in [orphan, young] {
        blobs
            .put(key, bytes::Bytes::from_static(b"stray"))
            .await
            .unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options()
        .write(true)
        .open(app.data_dir().join("blobs").join(orphan))
        .unwrap()
        .set_modified(two_hours_ago)
        .unwrap();
    let lost_folder = file_folder(&app, "default", &id_of(&lost));
    std::fs::remove_dir_all(&lost_folder).unwrap();

    let run = |args: &[&str]| {
        let out = trove(app.data_dir())
            .env("TROVE_DATABASE_URL", app.database_url())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let dry = run(&["gc", "--dry-run"]);
    assert!(
        dry.contains(&format!("would delete unreferenced blob {orphan}")),
        "{dry}"
    );
    assert!(!dry.contains(young), "{dry}");
    assert!(
        dry.contains(&format!("file {} is ready but its blob", id_of(&lost))),
        "{dry}"
    );
    assert!(
        blobs.head(orphan).await.unwrap().is_some(),
        "a dry run removes nothing"
    );

    let real = run(&["gc"]);
    assert!(
        real.contains(&format!("deleted unreferenced blob {orphan}")),
        "{real}"
    );
    assert_eq!(blobs.head(orphan).await.unwrap(), None);
    assert!(
        blobs.head(young).await.unwrap().is_some(),
        "younger than an hour: maybe in flight"
    );
    let res = app
        .get(&format!("/v1/files/{}/content", id_of(&kept)), &Who::Admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.text().await.unwrap(),
        "kept",
        "referenced blobs are untouched"
    );
}

/// `trove migrate-storage` from the local folder to S3 and back: a run that fails part-way leaves
/// what it verified, the rerun copies only the rest, and a server pointed at the copy serves
/// every file.
#[tokio::test]
async fn migrate_storage_copies_every_content_both_ways_and_resumes() {
    use crate::common::{TestApp, Who, file_folder, id_of};
    let Ok(s3_url) = std::env::var("TROVE_TEST_S3_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TROVE_TEST_S3_URL"
        );
        return;
    };
    let app = TestApp::builder()
        .local_storage()
        .config(|c| c.inline_max_bytes = 16)
        .start()
        .await;
    let mut files = Vec::new();
    for (name, body) in [
        ("a.txt", "the first content, stored as a blob".to_owned()),
        ("b.bin", "x".repeat(300_000)),
        ("tiny.txt", "inline".to_owned()),
    ] {
        let f = app
            .upload(
                &Who::Admin,
                &format!("name={name}"),
                "application/octet-stream",
                body.clone(),
            )
            .await;
        files.push((id_of(&f), body));
    }
    let local = format!("file://{}", app.data_dir().join("blobs").display());
    let remote = format!(
        "{}/migrate-{}",
        s3_url.trim_end_matches('/'),
        uuid::Uuid::new_v4()
    );
    let migrate = |from: &str, to: &str| {
        let mut cmd = trove(app.data_dir());
        cmd.env("TROVE_DATABASE_URL", app.database_url());
        for (var, from_env) in [
            ("TROVE_S3_ENDPOINT", "AWS_ENDPOINT_URL"),
            ("TROVE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"),
            ("TROVE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
        ] {
            cmd.env(var, std::env::var(from_env).unwrap());
        }
        cmd.env("TROVE_S3_FORCE_PATH_STYLE", "true");
        cmd.args(["migrate-storage", "--from", from, "--to", to])
            .output()
            .unwrap()
    };

    // One content is missing from the source: the run fails, naming it, after copying the rest.
    let hidden = file_folder(&app, "default", &files[1].0);
    let aside = app.data_dir().join("aside");
    std::fs::rename(&hidden, &aside).unwrap();
    let out = migrate(&local, &remote);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("1 copied") && text.contains("1 failed"),
        "{text}"
    );
    std::fs::rename(&aside, &hidden).unwrap();
    let out = migrate(&local, &remote);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("1 copied and verified, 1 already in place"),
        "{text}"
    );

    // And back, into a new folder.
    let back_dir = tempfile::tempdir().unwrap();
    let back = format!("file://{}", back_dir.path().display());
    let out = migrate(&remote, &back);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let database_url = app.database_url().to_owned();
    let TestApp { server, dir, .. } = app;
    server.stop().await.unwrap();

    for storage in [remote, back] {
        let data = dir.path().to_path_buf();
        let server = trove_server::server::Server::start({
            let mut c = trove_server::config::Config::for_tests(&data);
            c.database_url = database_url.clone();
            c.storage_url = storage.clone();
            c.s3.force_path_style = true;
            c
        })
        .await
        .unwrap();
        let key = server.state.config.admin_key.clone().unwrap();
        for (id, body) in &files {
            let res = reqwest::Client::new()
                .get(format!("{}/v1/files/{id}/content", server.url()))
                .header("x-trove-admin-key", &key)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{storage}");
            assert_eq!(&res.text().await.unwrap(), body, "{storage}");
        }
        server.stop().await.unwrap();
    }
}
