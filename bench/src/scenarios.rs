//! The scenarios of the benchmark issue. Each alternates the programs round by round (Trove, peer,
//! Trove, peer…) so that drift of the machine cancels out, and records medians and ratios.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use bytes::Bytes;
use reqwest::Client;
use serde_json::json;

use crate::Plan;
use crate::load::{self, Outcome, drain};
use crate::procs::{self, Proc};
use crate::report::Report;

const ADMIN_KEY: &str = "bench-admin-key-0123456789";
const JWT_SECRET: &str = "bench-jwt-secret-0123456789abcdef";

pub(crate) struct Ctx {
    pub(crate) plan: Plan,
    pub(crate) client: Client,
    pub(crate) trove: Proc,
    pub(crate) token: String,
    pub(crate) work: PathBuf,
    pub(crate) data: PathBuf,
    pub(crate) block: Bytes,
    /// What the scenario names end with: empty for the embedded default, " [postgres]" for the
    /// runs with the metadata in PostgreSQL.
    pub(crate) label: String,
    /// The PostgreSQL database of this Trove, if its metadata is there.
    pub(crate) database_url: Option<String>,
}

async fn create_bench_bucket(client: &Client, trove: &Proc) -> anyhow::Result<()> {
    let res = client
        .post(format!("{}/v1/buckets", trove.url))
        .header("x-trove-admin-key", ADMIN_KEY)
        .json(&json!({"id": "bench", "maxUploadFileSize": 8u64 << 30}))
        .send()
        .await?;
    if !res.status().is_success() {
        bail!("creating the bench bucket: {}", res.status());
    }
    Ok(())
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
    create_bench_bucket(&client, &trove).await?;
    let ctx = Ctx {
        plan: plan.clone(),
        client,
        trove,
        token: user_token("bench-user")?,
        work: work.clone(),
        data,
        block: Bytes::from((0..1 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>()),
        label: String::new(),
        database_url: None,
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
        crate::small::small_uploads(&ctx, &tus, &mut report).await?;
    }
    if plan.wants("small downloads") || plan.wants("metadata reads") {
        let ids = crate::small::small_files(&ctx, &nginx_root).await?;
        if plan.wants("small downloads") {
            crate::small::small_downloads(&ctx, &nginx, &ids, &mut report).await?;
        }
        if plan.wants("metadata reads") {
            crate::small::metadata_reads(&ctx, &nginx, &ids, &mut report).await?;
        }
    }
    if plan.wants("thumbnail") {
        crate::images::images(&ctx, &nginx, &nginx_root, &mut report).await?;
    }
    if plan.wants("s3") {
        crate::s3::s3(&ctx, trove_bin, ADMIN_KEY, JWT_SECRET, &mut report).await?;
    }
    if plan.wants("scale") {
        crate::scale::scale(&ctx, &mut report).await?;
    }
    if let Some(pg) = &plan.postgres {
        postgres_scenarios(ctx, trove_bin, pg, &nginx, &nginx_root, &tus, &mut report).await?;
    }
    Ok(report)
}

/// The small-file and scale scenarios again, with a Trove whose metadata is in PostgreSQL, in the
/// same run as the embedded default's (so their figures compare).
async fn postgres_scenarios(
    sqlite: Ctx,
    trove_bin: &Path,
    pg: &str,
    nginx: &Proc,
    nginx_root: &Path,
    tus: &Proc,
    report: &mut Report,
) -> anyhow::Result<()> {
    let chosen = sqlite.plan.clone();
    let wants = |s: &str| chosen.wants(&format!("{s} [postgres]"));
    if ![
        "small uploads",
        "small downloads",
        "metadata reads",
        "scale",
    ]
    .iter()
    .any(|s| wants(s))
    {
        return Ok(());
    }
    let data = sqlite.work.join("trove-data-pg");
    // Stop the SQLite Trove first: the two would share the 2 cores.
    let Ctx {
        plan,
        client,
        token,
        work,
        block,
        trove: embedded,
        ..
    } = sqlite;
    drop(embedded);
    let url = trove_meta::postgres::scratch_schema_url(pg);
    let trove = procs::trove_with(
        trove_bin,
        &data,
        ADMIN_KEY,
        JWT_SECRET,
        &[("TROVE_DATABASE_URL", url.clone())],
    )
    .await?;
    create_bench_bucket(&client, &trove).await?;
    let ctx = Ctx {
        plan,
        client,
        trove,
        token,
        work,
        data,
        block,
        label: " [postgres]".into(),
        database_url: Some(url),
    };
    if wants("small uploads") {
        crate::small::small_uploads(&ctx, tus, report).await?;
    }
    if wants("small downloads") || wants("metadata reads") {
        let ids = crate::small::small_files(&ctx, nginx_root).await?;
        if wants("small downloads") {
            crate::small::small_downloads(&ctx, nginx, &ids, report).await?;
        }
        if wants("metadata reads") {
            crate::small::metadata_reads(&ctx, nginx, &ids, report).await?;
        }
    }
    if wants("scale") {
        crate::scale::scale(&ctx, report).await?;
    }
    Ok(())
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
