//! `trove-bench`: runs every scenario of the benchmark issue against Trove and its peers, in
//! alternating rounds, and reports medians and ratios. See docs/benchmarks.md.

mod images;
mod large;
mod load;
mod procs;
mod report;
mod resumable;
mod s3;
mod scale;
mod scenarios;
mod small;
mod wrk;

use std::path::PathBuf;

use clap::Parser;

#[derive(Debug, Parser)]
struct Cli {
    /// The trove binary to measure.
    #[arg(long)]
    trove: PathBuf,
    /// Tiny sizes and one round, for CI: checks that the harness works, asserts no timing.
    #[arg(long)]
    smoke: bool,
    /// Rounds per scenario (default 3, or 1 with --smoke).
    #[arg(long)]
    rounds: Option<usize>,
    /// Where the JSON results go.
    #[arg(long, default_value = "bench/results/latest.json")]
    out: PathBuf,
    /// Only scenarios whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// A PostgreSQL database for the scenarios run again with Trove's metadata there (their
    /// names end in "[postgres]"); `bench/run` starts a throwaway cluster for it.
    #[arg(long)]
    postgres: Option<String>,
}

/// Sizes and durations of one run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub smoke: bool,
    pub rounds: usize,
    pub large: u64,
    pub seconds: f64,
    pub rows: u64,
    pub only: Option<String>,
    pub postgres: Option<String>,
}

impl Plan {
    pub fn wants(&self, scenario: &str) -> bool {
        self.only.as_deref().is_none_or(|o| scenario.contains(o))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let plan = if cli.smoke {
        Plan {
            smoke: true,
            rounds: cli.rounds.unwrap_or(1),
            large: 4 << 20,
            seconds: 0.3,
            rows: 2_000,
            only: cli.only,
            postgres: cli.postgres,
        }
    } else {
        Plan {
            smoke: false,
            rounds: cli.rounds.unwrap_or(3),
            large: 1 << 30,
            seconds: 5.0,
            rows: 1_000_000,
            only: cli.only,
            postgres: cli.postgres,
        }
    };
    let report = scenarios::run_all(&cli.trove, &plan).await?;
    println!("\n{}", report.table());
    if let Some(parent) = cli.out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&cli.out, serde_json::to_string_pretty(&report)?)?;
    println!("results written to {}", cli.out.display());
    let failures = report.failures();
    if failures > 0 {
        anyhow::bail!("{failures} requests failed");
    }
    Ok(())
}
