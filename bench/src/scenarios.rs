//! The scenarios of the benchmark issue. Each alternates the programs round by round (Trove, peer,
//! Trove, peer…) so that drift of the machine cancels out, and records medians and ratios.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use reqwest::Client;
use serde_json::{Value, json};

use crate::Plan;
use crate::load::{self, Amount, Outcome, drain};
use crate::procs::{self, Proc};
use crate::report::{Report, median};

const ADMIN_KEY: &str = "bench-admin-key-0123456789";
const JWT_SECRET: &str = "bench-jwt-secret-0123456789abcdef";
const SMALL: usize = 4096;
const SMALL_FILES: usize = 256;

pub(crate) struct Ctx {
    pub(crate) plan: Plan,
    pub(crate) client: Client,
    pub(crate) trove: Proc,
    pub(crate) token: String,
    pub(crate) work: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) block: Bytes,
}

fn user_token(user: &str) -> anyhow::Result<String> {
    trove_server::auth::token::issue(
        JWT_SECRET,
        &trove_server::auth::token::TokenRequest {
            user: user.into(),
            tenant: Some("bench".into()),
            roles: vec![],
            ttl: Duration::from_secs(24 * 3600),
        },
        "tenant_id",
        "roles",
        None,
        None,
    )
    .map_err(|e| anyhow::anyhow!(e))
}

pub async fn run_all(trove_bin: &Path, plan: &Plan) -> anyhow::Result<Report> {
    let root = std::env::current_dir()?;
    let work = root.join("target/bench-work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let data = work.join("trove-data");
    let trove = procs::trove(trove_bin, &data, ADMIN_KEY, JWT_SECRET).await?;
    let client = Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .build()?;
    let res = client
        .post(format!("{}/v1/buckets", trove.url))
        .header("x-trove-admin-key", ADMIN_KEY)
        .json(&json!({"id": "bench", "maxUploadFileSize": 8u64 << 30}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("creating the bench bucket: {}", res.status());
    }
    let ctx = Ctx {
        plan: plan.clone(),
        client,
        trove,
        token: user_token("bench-user")?,
        work: work.clone(),
        data,
        block: Bytes::from((0..1 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>()),
    };
    let nginx_root = work.join("www");
    std::fs::create_dir_all(nginx_root.join("small"))?;
    let nginx = procs::nginx(&work, &nginx_root).await?;
    let tus = procs::tus(&root.join("bench/.peers"), &work.join("tus-store")).await?;

    let mut report = Report {
        mode: if plan.smoke {
            "smoke".into()
        } else {
            "full".into()
        },
        date: chrono::Utc::now().to_rfc3339(),
        machine: format!(
            "{} cores",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0)
        ),
        ..Report::default()
    };
    if plan.wants("large upload") {
        crate::large::large_upload(&ctx, &tus, &mut report).await?;
    }
    if plan.wants("resumable upload") {
        crate::resumable::resumable_upload(&ctx, &tus, &mut report).await?;
    }
    if plan.wants("large download") {
        crate::large::large_download(&ctx, &nginx, &nginx_root, &mut report).await?;
    }
    if plan.wants("small uploads") {
        small_uploads(&ctx, &tus, &mut report).await?;
    }
    let ids = if plan.wants("small downloads") || plan.wants("metadata reads") {
        small_files(&ctx, &nginx_root).await?
    } else {
        Arc::new(Vec::new())
    };
    if plan.wants("small downloads") {
        small_downloads(&ctx, &nginx, &ids, &mut report).await?;
    }
    if plan.wants("metadata reads") {
        metadata_reads(&ctx, &ids, &mut report).await?;
    }
    if plan.wants("scale") {
        crate::scale::scale(&ctx, &mut report).await?;
    }
    Ok(report)
}

pub(crate) fn ratio_bar(
    report: &mut Report,
    scenario: &str,
    what: &str,
    trove: f64,
    peer: f64,
    bar: f64,
) {
    let ratio = if peer > 0.0 { trove / peer } else { 0.0 };
    report.bar(
        scenario,
        &format!("trove/{what} ≥ {bar}"),
        ratio,
        ratio >= bar,
    );
}

pub(crate) fn mem_bar(report: &mut Report, scenario: &str, kib: u64) {
    let mib = kib as f64 / 1024.0;
    report.bar(scenario, "peak RSS < 64 MiB", mib, mib < 64.0);
}

/// Flushes dirty pages so that one program's writes are not paid for by the next one measured.
pub(crate) fn settle_disk() {
    let _ = std::process::Command::new("sync").status();
}

pub(crate) fn mib_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / d.as_secs_f64()
}

/// Requests that returned fewer bytes than a whole file count as failures.
pub(crate) fn short(s: &load::Stats, size: u64) -> u64 {
    let expected = s.requests * size;
    u64::from(s.bytes < expected && s.failures == 0)
}

pub(crate) async fn outcome(res: reqwest::Result<reqwest::Response>) -> Outcome {
    match res {
        Ok(r) => drain(r).await,
        Err(_) => Outcome {
            ok: false,
            bytes: 0,
        },
    }
}

async fn small_uploads(ctx: &Ctx, tus: &Proc, report: &mut Report) -> anyhow::Result<()> {
    let scenario = "small uploads (4 KiB, 32 clients)";
    println!(
        "{scenario}: {} rounds of {}s",
        ctx.plan.rounds, ctx.plan.seconds
    );
    let body = ctx.block.slice(..SMALL);
    let d = Duration::from_secs_f64(ctx.plan.seconds);
    let (mut tv, mut pv, mut tf, mut pf, mut p99) = (Vec::new(), Vec::new(), 0, 0, Vec::new());
    for _ in 0..ctx.plan.rounds {
        let (client, url, token, b) = (
            ctx.client.clone(),
            format!("{}/v1/files?bucketId=bench&name=small.bin", ctx.trove.url),
            ctx.token.clone(),
            body.clone(),
        );
        let s = load::run(32, Amount::For(d), move |_, _| {
            let req = client
                .post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/octet-stream")
                .body(b.clone())
                .send();
            async move {
                match req.await {
                    Ok(r) => Outcome {
                        ok: r.status().as_u16() == 201,
                        bytes: 0,
                    },
                    Err(_) => Outcome {
                        ok: false,
                        bytes: 0,
                    },
                }
            }
        })
        .await;
        tv.push(s.rps());
        p99.push(s.p99_ms);
        tf += s.failures;
        let (client, url, b) = (
            ctx.client.clone(),
            format!("{}/files", tus.url),
            body.clone(),
        );
        let s = load::run(32, Amount::For(d), move |_, _| {
            let req = client
                .post(&url)
                .header("tus-resumable", "1.0.0")
                .header("upload-length", SMALL.to_string())
                .header("content-type", "application/offset+octet-stream")
                .body(b.clone())
                .send();
            async move {
                match req.await {
                    Ok(r) => Outcome {
                        ok: r.status().as_u16() == 201
                            && r.headers()
                                .get("upload-offset")
                                .is_some_and(|v| v == "4096"),
                        bytes: 0,
                    },
                    Err(_) => Outcome {
                        ok: false,
                        bytes: 0,
                    },
                }
            }
        })
        .await;
        pv.push(s.rps());
        pf += s.failures;
    }
    let t = report.add(
        scenario,
        "trove",
        "files/s",
        tv,
        tf,
        vec![("p99 ms".into(), p99)],
    );
    let p = report.add(scenario, "@tus/server", "files/s", pv, pf, vec![]);
    ratio_bar(report, scenario, "@tus/server", t, p, 5.0);
    Ok(())
}

/// Uploads the small private files used by the read scenarios, and the same bytes for nginx.
async fn small_files(ctx: &Ctx, nginx_root: &Path) -> anyhow::Result<Arc<Vec<String>>> {
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
        ids.push(f["id"].as_str().context("small file id")?.to_owned());
        std::fs::write(nginx_root.join(format!("small/{i}")), &ctx.block[..SMALL])?;
    }
    Ok(Arc::new(ids))
}

async fn small_downloads(
    ctx: &Ctx,
    nginx: &Proc,
    ids: &Arc<Vec<String>>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let scenario = "small downloads (4 KiB, 32 clients)";
    println!(
        "{scenario}: {} rounds of {}s",
        ctx.plan.rounds, ctx.plan.seconds
    );
    let d = Duration::from_secs_f64(ctx.plan.seconds);
    let (mut tv, mut nv, mut tf, mut nf, mut p99) = (Vec::new(), Vec::new(), 0, 0, Vec::new());
    for _ in 0..ctx.plan.rounds {
        let (client, base, token, ids) = (
            ctx.client.clone(),
            ctx.trove.url.clone(),
            ctx.token.clone(),
            ids.clone(),
        );
        let s = load::run(32, Amount::For(d), move |w, n| {
            let id = &ids[(w * 7 + n as usize) % ids.len()];
            let req = client
                .get(format!("{base}/v1/files/{id}/content"))
                .bearer_auth(&token)
                .send();
            async move { outcome(req.await).await }
        })
        .await;
        tv.push(s.rps());
        p99.push(s.p99_ms);
        tf += s.failures;
        let (client, base) = (ctx.client.clone(), nginx.url.clone());
        let s = load::run(32, Amount::For(d), move |w, n| {
            let req = client
                .get(format!(
                    "{base}/small/{}",
                    (w * 7 + n as usize) % SMALL_FILES
                ))
                .send();
            async move { outcome(req.await).await }
        })
        .await;
        nv.push(s.rps());
        nf += s.failures;
    }
    let t = report.add(
        scenario,
        "trove",
        "req/s",
        tv,
        tf,
        vec![("p99 ms".into(), p99)],
    );
    let n = report.add(scenario, "nginx", "req/s", nv, nf, vec![]);
    ratio_bar(report, scenario, "nginx", t, n, 0.4);
    Ok(())
}

async fn metadata_reads(
    ctx: &Ctx,
    ids: &Arc<Vec<String>>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let scenario = "metadata reads (32 clients)";
    println!(
        "{scenario}: {} rounds of {}s",
        ctx.plan.rounds, ctx.plan.seconds
    );
    let d = Duration::from_secs_f64(ctx.plan.seconds);
    let (mut v, mut f, mut p99) = (Vec::new(), 0, Vec::new());
    for _ in 0..ctx.plan.rounds {
        let s = metadata_load(ctx, ids.clone(), 32, d).await;
        v.push(s.rps());
        p99.push(s.p99_ms);
        f += s.failures;
    }
    let p = median(&p99);
    let t = report.add(
        scenario,
        "trove",
        "req/s",
        v,
        f,
        vec![("p99 ms".into(), p99)],
    );
    report.bar(scenario, "≥ 20000 req/s", t, t >= 20_000.0);
    report.bar(scenario, "p99 ms (reported)", p, true);
    Ok(())
}

pub(crate) async fn metadata_load(
    ctx: &Ctx,
    ids: Arc<Vec<String>>,
    clients: usize,
    d: Duration,
) -> load::Stats {
    let (client, base, token) = (ctx.client.clone(), ctx.trove.url.clone(), ctx.token.clone());
    load::run(clients, Amount::For(d), move |w, n| {
        let id = &ids[(w * 7919 + n as usize * 104_729) % ids.len()];
        let req = client
            .get(format!("{base}/v1/files/{id}"))
            .bearer_auth(&token)
            .send();
        async move { outcome(req.await).await }
    })
    .await
}
