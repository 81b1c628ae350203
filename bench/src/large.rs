//! Large files: a 1 GiB upload against @tus/server and the disk, and 1 GiB downloads against
//! nginx.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::load::{self, Amount, body_of};
use crate::procs::{self, Proc};
use crate::report::Report;
use crate::scenarios::{Ctx, mem_bar, mib_s, outcome, ratio_bar, settle_disk, short};

pub(crate) async fn upload_large(ctx: &Ctx) -> anyhow::Result<(f64, bool, Value)> {
    let t = Instant::now();
    let res = ctx
        .client
        .post(format!(
            "{}/v1/files?bucketId=bench&name=large.bin",
            ctx.trove.url
        ))
        .bearer_auth(&ctx.token)
        .header("content-type", "application/octet-stream")
        .header("content-length", ctx.plan.large.to_string())
        .body(body_of(ctx.plan.large, ctx.block.clone()))
        .send()
        .await?;
    let ok = res.status().as_u16() == 201;
    let file: Value = res.json().await.unwrap_or(Value::Null);
    Ok((mib_s(ctx.plan.large, t.elapsed()), ok, file))
}

pub(crate) async fn large_upload(ctx: &Ctx, tus: &Proc, report: &mut Report) -> anyhow::Result<()> {
    let scenario = "large upload";
    println!(
        "{scenario}: {} bytes, {} rounds",
        ctx.plan.large, ctx.plan.rounds
    );
    let (mut trove, mut tus_v, mut disk) = (Vec::new(), Vec::new(), Vec::new());
    let (mut trove_fail, mut tus_fail) = (0, 0);
    let mut peak = 0;
    for _ in 0..ctx.plan.rounds {
        settle_disk();
        procs::reset_peak_rss(ctx.trove.pid());
        let (speed, ok, file) = upload_large(ctx).await?;
        peak = peak.max(procs::peak_rss_kib(ctx.trove.pid()).unwrap_or(0));
        trove.push(speed);
        if !ok {
            trove_fail += 1;
        } else if let Some(id) = file["id"].as_str() {
            ctx.client
                .delete(format!("{}/v1/files/{id}", ctx.trove.url))
                .bearer_auth(&ctx.token)
                .send()
                .await?;
        }

        settle_disk();
        let t = Instant::now();
        let res = ctx
            .client
            .post(format!("{}/files", tus.url))
            .header("tus-resumable", "1.0.0")
            .header("upload-length", ctx.plan.large.to_string())
            .header("content-type", "application/offset+octet-stream")
            .header("content-length", ctx.plan.large.to_string())
            .body(body_of(ctx.plan.large, ctx.block.clone()))
            .send()
            .await?;
        let ok = res.status().as_u16() == 201
            && res
                .headers()
                .get("upload-offset")
                .and_then(|v| v.to_str().ok())
                == Some(&ctx.plan.large.to_string());
        tus_v.push(mib_s(ctx.plan.large, t.elapsed()));
        if !ok {
            tus_fail += 1;
        }
        let _ = std::fs::remove_dir_all(ctx.work.join("tus-store"));
        std::fs::create_dir_all(ctx.work.join("tus-store"))?;

        settle_disk();
        disk.push(write_fsync(
            &ctx.work.join("disk.bin"),
            ctx.plan.large,
            &ctx.block,
        )?);
    }
    let t = report.add(scenario, "trove", "MiB/s", trove, trove_fail, vec![]);
    let p = report.add(scenario, "@tus/server", "MiB/s", tus_v, tus_fail, vec![]);
    let d = report.add(scenario, "write+fsync", "MiB/s", disk, 0, vec![]);
    ratio_bar(report, scenario, "@tus/server", t, p, 5.0);
    ratio_bar(report, scenario, "write+fsync", t, d, 0.5);
    mem_bar(report, scenario, peak);
    Ok(())
}

/// The physical limit: write the same bytes to the same disk in 1 MiB writes, then fsync.
fn write_fsync(path: &Path, len: u64, block: &[u8]) -> anyhow::Result<f64> {
    use std::io::Write;
    let t = Instant::now();
    let mut f = std::fs::File::create(path)?;
    let mut left = len;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    let speed = mib_s(len, t.elapsed());
    std::fs::remove_file(path)?;
    Ok(speed)
}

pub(crate) async fn large_download(
    ctx: &Ctx,
    nginx: &Proc,
    nginx_root: &Path,
    report: &mut Report,
) -> anyhow::Result<()> {
    let scenario = "large download";
    let (_, ok, file) = upload_large(ctx).await?;
    if !ok {
        bail!("uploading the large file failed: {file}");
    }
    let id = file["id"].as_str().context("file id")?.to_owned();
    // nginx serves the very same bytes: a hard link to Trove's blob.
    // The folder of the file's revisions under the fanned-out key layout.
    let any_revision = trove_core::FileRecord::blob_key(
        &trove_core::BucketId::parse("bench").map_err(|e| anyhow::anyhow!("{e:?}"))?,
        trove_core::FileId::parse(&id).context("file id")?,
        trove_core::RevisionId::new(),
    );
    let blob_dir = ctx
        .data
        .join("blobs")
        .join(&any_revision)
        .parent()
        .context("blob folder")?
        .to_path_buf();
    let blob = std::fs::read_dir(&blob_dir)?
        .next()
        .context("blob")??
        .path();
    let _ = std::fs::remove_file(nginx_root.join("large.bin"));
    std::fs::hard_link(&blob, nginx_root.join("large.bin"))?;
    let mut peak = 0;
    for clients in [1usize, 4] {
        let name = format!("{scenario} ×{clients}");
        println!("{name}: {} rounds", ctx.plan.rounds);
        let (mut tv, mut nv, mut tf, mut nf) = (Vec::new(), Vec::new(), 0, 0);
        for _ in 0..ctx.plan.rounds {
            procs::reset_peak_rss(ctx.trove.pid());
            let (client, url, token) = (
                ctx.client.clone(),
                format!("{}/v1/files/{id}/content", ctx.trove.url),
                ctx.token.clone(),
            );
            let s = load::run(clients, Amount::Each(2), move |_, _| {
                let req = client.get(&url).bearer_auth(&token).send();
                async move { outcome(req.await).await }
            })
            .await;
            peak = peak.max(procs::peak_rss_kib(ctx.trove.pid()).unwrap_or(0));
            tv.push(s.mib_per_s());
            tf += s.failures + short(&s, ctx.plan.large);
            let (client, url) = (ctx.client.clone(), format!("{}/large.bin", nginx.url));
            let s = load::run(clients, Amount::Each(2), move |_, _| {
                let req = client.get(&url).send();
                async move { outcome(req.await).await }
            })
            .await;
            nv.push(s.mib_per_s());
            nf += s.failures + short(&s, ctx.plan.large);
        }
        let t = report.add(&name, "trove", "MiB/s", tv, tf, vec![]);
        let n = report.add(&name, "nginx", "MiB/s", nv, nf, vec![]);
        ratio_bar(report, &name, "nginx", t, n, 0.8);
    }
    mem_bar(report, scenario, peak);
    Ok(())
}
