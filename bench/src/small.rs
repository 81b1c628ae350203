//! Small files: 4 KiB uploads against @tus/server, 4 KiB downloads and file metadata against nginx
//! serving the same bytes statically. Load comes from wrk with 32 connections.

use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use crate::procs::Proc;
use crate::report::Report;
use crate::scenarios::{Ctx, ratio_bar, settle_disk};
use crate::wrk::Wrk;

const SMALL: usize = 4096;
const SMALL_FILES: usize = 256;
const CLIENTS: usize = 32;

/// The figures of one program over the rounds of a scenario.
#[derive(Default)]
struct Rounds {
    rate: Vec<f64>,
    p99: Vec<f64>,
    failures: u64,
}

impl Rounds {
    fn push(&mut self, s: &crate::load::Stats) {
        self.rate.push(s.rps());
        self.p99.push(s.p99_ms);
        self.failures += s.failures;
    }

    fn add(self, report: &mut Report, scenario: &str, program: &str, unit: &str) -> f64 {
        report.add(
            scenario,
            program,
            unit,
            self.rate,
            self.failures,
            vec![("p99 ms".into(), self.p99)],
        )
    }
}

fn announce(ctx: &Ctx, scenario: &str) {
    println!(
        "{scenario}: {} rounds of {}s",
        ctx.plan.rounds, ctx.plan.seconds
    );
}

pub(crate) async fn small_uploads(
    ctx: &Ctx,
    tus: &Proc,
    report: &mut Report,
) -> anyhow::Result<()> {
    let scenario = &format!("small uploads (4 KiB, 32 clients){}", ctx.label);
    announce(ctx, scenario);
    let body = &ctx.block[..SMALL];
    let dir = ctx.work.join("wrk-small-uploads");
    let (mut trove, mut peer) = (Rounds::default(), Rounds::default());
    let trove_paths = ["/v1/files?bucketId=bench&name=small.bin".to_owned()];
    let tus_paths = ["/files".to_owned()];
    for _ in 0..ctx.plan.rounds {
        settle_disk();
        let s = Wrk {
            base: &ctx.trove.url,
            paths: &trove_paths,
            connections: CLIENTS,
            seconds: ctx.plan.seconds,
            method: "POST",
            headers: vec![
                ("Authorization", format!("Bearer {}", ctx.token)),
                ("Content-Type", "application/octet-stream".into()),
            ],
            body: Some(body),
        }
        .run(&dir)
        .await?;
        trove.push(&s);
        settle_disk();
        let s = Wrk {
            base: &tus.url,
            paths: &tus_paths,
            connections: CLIENTS,
            seconds: ctx.plan.seconds,
            method: "POST",
            headers: vec![
                ("Tus-Resumable", "1.0.0".into()),
                ("Upload-Length", SMALL.to_string()),
                ("Content-Type", "application/offset+octet-stream".into()),
            ],
            body: Some(body),
        }
        .run(&dir)
        .await?;
        peer.push(&s);
    }
    let t = trove.add(report, scenario, "trove", "files/s");
    let p = peer.add(report, scenario, "@tus/server", "files/s");
    // The bars are the embedded default's; other backends are measured beside it.
    if ctx.label.is_empty() {
        ratio_bar(report, scenario, "@tus/server", t, p, 5.0);
    }
    Ok(())
}

/// Uploads the small private files used by the read scenarios; writes the same bytes, and the
/// same metadata JSON, where nginx serves them.
pub(crate) async fn small_files(ctx: &Ctx, nginx_root: &Path) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(nginx_root.join("small"))?;
    std::fs::create_dir_all(nginx_root.join("meta"))?;
    let mut ids = Vec::new();
    for i in 0..SMALL_FILES {
        let res = ctx
            .client
            .post(format!(
                "{}/v1/files?bucketId=bench&name=s{i}.bin",
                ctx.trove.url
            ))
            .bearer_auth(&ctx.token)
            .header("content-type", "application/octet-stream")
            .body(ctx.block.slice(..SMALL))
            .send()
            .await?;
        let f: Value = res.json().await?;
        let id = f["id"].as_str().context("small file id")?.to_owned();
        let json = ctx
            .client
            .get(format!("{}/v1/files/{id}", ctx.trove.url))
            .bearer_auth(&ctx.token)
            .send()
            .await?
            .bytes()
            .await?;
        std::fs::write(nginx_root.join(format!("meta/{i}.json")), &json)?;
        std::fs::write(nginx_root.join(format!("small/{i}")), &ctx.block[..SMALL])?;
        ids.push(id);
    }
    Ok(ids)
}

/// Alternates Trove and nginx over the same files, `GET`ting Trove's paths with the user's token.
async fn against_nginx(
    ctx: &Ctx,
    nginx: &Proc,
    scenario: &str,
    trove_paths: &[String],
    nginx_paths: &[String],
    report: &mut Report,
) -> anyhow::Result<()> {
    announce(ctx, scenario);
    let dir = ctx.work.join("wrk-reads");
    let (mut trove, mut peer) = (Rounds::default(), Rounds::default());
    for _ in 0..ctx.plan.rounds {
        let s = Wrk {
            base: &ctx.trove.url,
            paths: trove_paths,
            connections: CLIENTS,
            seconds: ctx.plan.seconds,
            method: "GET",
            headers: vec![("Authorization", format!("Bearer {}", ctx.token))],
            body: None,
        }
        .run(&dir)
        .await?;
        trove.push(&s);
        let s = Wrk {
            base: &nginx.url,
            paths: nginx_paths,
            connections: CLIENTS,
            seconds: ctx.plan.seconds,
            method: "GET",
            headers: vec![],
            body: None,
        }
        .run(&dir)
        .await?;
        peer.push(&s);
    }
    let t = trove.add(report, scenario, "trove", "req/s");
    let n = peer.add(report, scenario, "nginx", "req/s");
    if ctx.label.is_empty() {
        ratio_bar(report, scenario, "nginx", t, n, 0.5);
    }
    Ok(())
}

pub(crate) async fn small_downloads(
    ctx: &Ctx,
    nginx: &Proc,
    ids: &[String],
    report: &mut Report,
) -> anyhow::Result<()> {
    let trove: Vec<String> = ids
        .iter()
        .map(|id| format!("/v1/files/{id}/content"))
        .collect();
    let peer: Vec<String> = (0..ids.len()).map(|i| format!("/small/{i}")).collect();
    against_nginx(
        ctx,
        nginx,
        &format!("small downloads (4 KiB, 32 clients){}", ctx.label),
        &trove,
        &peer,
        report,
    )
    .await
}

pub(crate) async fn metadata_reads(
    ctx: &Ctx,
    nginx: &Proc,
    ids: &[String],
    report: &mut Report,
) -> anyhow::Result<()> {
    let trove: Vec<String> = ids.iter().map(|id| format!("/v1/files/{id}")).collect();
    let peer: Vec<String> = (0..ids.len()).map(|i| format!("/meta/{i}.json")).collect();
    against_nginx(
        ctx,
        nginx,
        &format!(
            "metadata reads: GET /v1/files/{{id}} (32 clients){}",
            ctx.label
        ),
        &trove,
        &peer,
        report,
    )
    .await
}
