//! `trove migrate-db --from sqlite://… --to postgres://…`: copies every bucket, category, file,
//! association, inline content, pending upload and queued deletion into PostgreSQL with a progress
//! bar, then verifies each table by its row count and checksum (see `trove_meta::copy`). Nothing is
//! switched; rerun after an interruption.

use indicatif::{ProgressBar, ProgressStyle};
use trove_server::config::Config;

pub fn run(config: Config, from: &str, to: &str) -> anyhow::Result<()> {
    if !from.starts_with("sqlite:") {
        anyhow::bail!(
            "--from: '{from}' is not a sqlite:// URL (migrate-db copies SQLite into PostgreSQL)"
        );
    }
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        anyhow::bail!("--to: '{to}' is not a postgres:// URL");
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let total = trove_meta::copy::count_source_rows(from)
            .await
            .map_err(|e| anyhow::anyhow!("--from: {e}"))?;
        let bar = ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec} eta {eta}")
                .map_err(|e| anyhow::anyhow!(e))?,
        );
        let settings = trove_server::server::pg_settings(&config);
        let reports = trove_meta::copy::sqlite_to_postgres(from, to, &settings, &|n| bar.inc(n))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bar.finish_and_clear();
        let mut failed = Vec::new();
        for r in &reports {
            let state = if r.verified { "verified" } else { "DIFFERS" };
            println!(
                "{}: {} rows, {} copied, {} already in place, {state}",
                r.table,
                r.rows,
                r.inserted,
                r.rows.saturating_sub(r.inserted)
            );
            if !r.verified {
                failed.push(format!(
                    "{} ({} rows in the source, {} in the destination)",
                    r.table, r.rows, r.destination_rows
                ));
            }
        }
        if !failed.is_empty() {
            anyhow::bail!(
                "the destination differs from the source in {}; was the source written meanwhile, or the destination used already?",
                failed.join(", ")
            );
        }
        println!("every table is verified in {to}: set TROVE_DATABASE_URL to it and restart");
        Ok(())
    })
}
