//! Object storage: large uploads and downloads through a Trove whose bytes live in an
//! S3-compatible server, against the same server spoken to directly (a presigned PUT or GET sent
//! by the same HTTP client, so only Trove's share of the work differs).

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use trove_blob::{BlobStore, PutConstraints, S3Settings};

use crate::load::{self, Amount, body_of};
use crate::procs;
use crate::report::Report;
use crate::scenarios::{Ctx, mem_bar, mib_s, outcome, ratio_bar, settle_disk, short};

const KEY: &str = "bench-s3-key";
const SECRET: &str = "bench-s3-secret-0123456789";

pub(crate) async fn s3(
    ctx: &Ctx,
    trove_bin: &Path,
    admin_key: &str,
    jwt_secret: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let store_root = ctx.work.join("s3");
    let server = procs::s3(&store_root, "bench", KEY, SECRET).await?;
    let settings = [
        ("TROVE_STORAGE_URL", "s3://bench/trove".to_owned()),
        ("TROVE_S3_ENDPOINT", server.url.clone()),
        ("TROVE_S3_ACCESS_KEY_ID", KEY.to_owned()),
        ("TROVE_S3_SECRET_ACCESS_KEY", SECRET.to_owned()),
        ("TROVE_S3_FORCE_PATH_STYLE", "true".to_owned()),
    ];
    let data = ctx.work.join("trove-s3-data");
    let trove = procs::trove_with(trove_bin, &data, admin_key, jwt_secret, &settings).await?;
    let res = ctx
        .client
        .post(format!("{}/v1/buckets", trove.url))
        .header("x-trove-admin-key", admin_key)
        .json(&json!({"id": "bench", "maxUploadFileSize": 8u64 << 30}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!(
            "creating the bench bucket on the S3 Trove: {}",
            res.status()
        );
    }
    let direct = BlobStore::open(
        "s3://bench/direct",
        &S3Settings {
            endpoint: Some(server.url.clone()),
            access_key_id: Some(KEY.into()),
            secret_access_key: Some(SECRET.into()),
            force_path_style: true,
            ..S3Settings::default()
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    let hour = Duration::from_secs(3600);
    let size = ctx.plan.large;

    let scenario = "s3 upload";
    println!("{scenario}: {size} bytes, {} rounds", ctx.plan.rounds);
    let (mut tv, mut rv, mut tf, mut rf, mut peak) = (Vec::new(), Vec::new(), 0, 0, 0);
    let mut file_id = None;
    for round in 0..ctx.plan.rounds {
        settle_disk();
        procs::reset_peak_rss(trove.pid());
        let t = Instant::now();
        let res = ctx
            .client
            .post(format!(
                "{}/v1/files?bucketId=bench&name=large.bin",
                trove.url
            ))
            .bearer_auth(&ctx.token)
            .header("content-type", "application/octet-stream")
            .header("content-length", size.to_string())
            .body(body_of(size, ctx.block.clone()))
            .send()
            .await?;
        let ok = res.status().as_u16() == 201;
        let file: Value = res.json().await.unwrap_or(Value::Null);
        tv.push(mib_s(size, t.elapsed()));
        peak = peak.max(procs::peak_rss_kib(trove.pid()).unwrap_or(0));
        if !ok {
            tf += 1;
        } else if round + 1 < ctx.plan.rounds {
            if let Some(id) = file["id"].as_str() {
                ctx.client
                    .delete(format!("{}/v1/files/{id}", trove.url))
                    .bearer_auth(&ctx.token)
                    .send()
                    .await?;
            }
        } else {
            file_id = file["id"].as_str().map(str::to_owned);
        }

        settle_disk();
        let put = direct
            .presign_put(
                "large.bin",
                &PutConstraints {
                    content_type: "application/octet-stream".into(),
                    sha256_base64: None,
                },
                hour,
            )
            .await?
            .context("the S3 store presigns")?;
        let t = Instant::now();
        let res = ctx
            .client
            .put(&put.url)
            .header("content-type", "application/octet-stream")
            .header("content-length", size.to_string())
            .body(body_of(size, ctx.block.clone()))
            .send()
            .await?;
        rv.push(mib_s(size, t.elapsed()));
        if !res.status().is_success() {
            rf += 1;
        }
    }
    let t = report.add(scenario, "trove", "MiB/s", tv, tf, vec![]);
    let r = report.add(scenario, "S3 direct", "MiB/s", rv, rf, vec![]);
    ratio_bar(report, scenario, "S3 direct", t, r, 0.8);
    mem_bar(report, scenario, peak);

    let scenario = "s3 download";
    let id = file_id.context("the last S3 upload failed")?;
    let get = direct
        .presign_get("large.bin", hour, &Default::default())
        .await?
        .context("the S3 store presigns")?;
    println!("{scenario}: {} rounds", ctx.plan.rounds);
    let (mut tv, mut rv, mut tf, mut rf, mut peak) = (Vec::new(), Vec::new(), 0, 0, 0);
    for _ in 0..ctx.plan.rounds {
        procs::reset_peak_rss(trove.pid());
        let (client, url, token) = (
            ctx.client.clone(),
            format!("{}/v1/files/{id}/content", trove.url),
            ctx.token.clone(),
        );
        let s = load::run(1, Amount::Each(2), move |_, _| {
            let req = client.get(&url).bearer_auth(&token).send();
            async move { outcome(req.await).await }
        })
        .await;
        peak = peak.max(procs::peak_rss_kib(trove.pid()).unwrap_or(0));
        tv.push(s.mib_per_s());
        tf += s.failures + short(&s, size);
        let (client, url) = (ctx.client.clone(), get.clone());
        let s = load::run(1, Amount::Each(2), move |_, _| {
            let req = client.get(&url).send();
            async move { outcome(req.await).await }
        })
        .await;
        rv.push(s.mib_per_s());
        rf += s.failures + short(&s, size);
    }
    let t = report.add(scenario, "trove", "MiB/s", tv, tf, vec![]);
    let r = report.add(scenario, "S3 direct", "MiB/s", rv, rf, vec![]);
    ratio_bar(report, scenario, "S3 direct", t, r, 0.8);
    mem_bar(report, scenario, peak);
    drop(trove);
    drop(server);
    let _ = std::fs::remove_dir_all(&store_root);
    Ok(())
}
