//! Resumable uploads: a large file in 8 MiB PATCHes, each durable before its 204, against Trove's
//! own single-request upload of the same file and @tus/server with @tus/file-store on the same
//! chunks, in alternating rounds of one run.

use std::time::Instant;

use anyhow::{Context, bail};
use reqwest::RequestBuilder;

use crate::load::body_of;
use crate::procs::{self, Proc};
use crate::report::Report;
use crate::scenarios::{Ctx, mem_bar, mib_s, ratio_bar, settle_disk};

const CHUNK: u64 = 8 << 20;

/// Uploads `len` bytes in `chunk`-sized PATCHes to a created tus upload; returns MiB/s and the
/// upload URL.
async fn tus_upload(
    ctx: &Ctx,
    create: RequestBuilder,
    base: &str,
    chunk: u64,
    auth: impl Fn(RequestBuilder) -> RequestBuilder,
) -> anyhow::Result<(f64, String)> {
    let len = ctx.plan.large;
    let t = Instant::now();
    let res = auth(create)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", len.to_string())
        .send()
        .await?;
    if res.status().as_u16() != 201 {
        bail!("creating a tus upload: {}", res.status());
    }
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .context("no Location")?;
    let url = if location.starts_with("http") {
        location.to_owned()
    } else {
        format!("{base}{location}")
    };
    let mut offset = 0;
    while offset < len {
        let n = chunk.min(len - offset);
        let res = auth(ctx.client.patch(&url))
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .header("content-length", n.to_string())
            .body(body_of(n, ctx.block.clone()))
            .send()
            .await?;
        if res.status().as_u16() != 204 {
            bail!("PATCH at {offset}: {}", res.status());
        }
        offset += n;
    }
    Ok((mib_s(len, t.elapsed()), url))
}

pub(crate) async fn resumable_upload(
    ctx: &Ctx,
    tus: &Proc,
    report: &mut Report,
) -> anyhow::Result<()> {
    let scenario = "resumable upload";
    let chunk = CHUNK.min(ctx.plan.large / 4).max(1);
    println!(
        "{scenario}: {} bytes in {chunk}-byte PATCHes, {} rounds",
        ctx.plan.large, ctx.plan.rounds
    );
    let (mut trove_tus, mut trove_single, mut peer) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tus_fail, mut single_fail, mut peer_fail) = (0, 0, 0);
    let mut peak = 0;
    let token = ctx.token.clone();
    for _ in 0..ctx.plan.rounds {
        settle_disk();
        procs::reset_peak_rss(ctx.trove.pid());
        let create = ctx
            .client
            .post(format!("{}/v1/tus", ctx.trove.url))
            .header("upload-metadata", "filename bGFyZ2UuYmlu,bucketId YmVuY2g=");
        match tus_upload(ctx, create, &ctx.trove.url, chunk, |rb| {
            rb.bearer_auth(&token)
        })
        .await
        {
            Ok((speed, url)) => {
                trove_tus.push(speed);
                let id = url.rsplit('/').next().unwrap_or_default();
                ctx.client
                    .delete(format!("{}/v1/files/{id}", ctx.trove.url))
                    .bearer_auth(&token)
                    .send()
                    .await?;
            }
            Err(e) => {
                eprintln!("{scenario}: trove: {e:#}");
                tus_fail += 1;
            }
        }
        peak = peak.max(procs::peak_rss_kib(ctx.trove.pid()).unwrap_or(0));

        settle_disk();
        let (speed, ok, file) = crate::large::upload_large(ctx).await?;
        trove_single.push(speed);
        if !ok {
            single_fail += 1;
        } else if let Some(id) = file["id"].as_str() {
            ctx.client
                .delete(format!("{}/v1/files/{id}", ctx.trove.url))
                .bearer_auth(&token)
                .send()
                .await?;
        }

        settle_disk();
        let create = ctx.client.post(format!("{}/files", tus.url));
        match tus_upload(ctx, create, &tus.url, chunk, |rb| rb).await {
            Ok((speed, _)) => peer.push(speed),
            Err(e) => {
                eprintln!("{scenario}: @tus/server: {e:#}");
                peer_fail += 1;
            }
        }
        let _ = std::fs::remove_dir_all(ctx.work.join("tus-store"));
        std::fs::create_dir_all(ctx.work.join("tus-store"))?;
    }
    let t = report.add(scenario, "trove tus", "MiB/s", trove_tus, tus_fail, vec![]);
    let s = report.add(
        scenario,
        "trove single request",
        "MiB/s",
        trove_single,
        single_fail,
        vec![],
    );
    let p = report.add(scenario, "@tus/server", "MiB/s", peer, peer_fail, vec![]);
    ratio_bar(report, scenario, "trove single request", t, s, 0.8);
    ratio_bar(report, scenario, "@tus/server", t, p, 1.0);
    mem_bar(report, scenario, peak);
    Ok(())
}
