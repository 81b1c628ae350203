//! `trove files get`: a file's content to a local file (or standard output), with a progress bar;
//! an interrupted download is kept as `{name}.part` and continued with a Range request when run
//! again, as long as the file did not change meanwhile (`If-Range` with its ETag).

use std::path::PathBuf;

use futures_util::StreamExt;
use indicatif::ProgressBar;
use reqwest::{Method, StatusCode, header};
use tokio::io::AsyncWriteExt;

use super::files::segment;
use super::{Api, Failure, Outcome};

#[derive(Debug, clap::Args)]
pub struct GetArgs {
    id: String,
    /// Where to write: a path, or `-` for standard output; the file's name in the current
    /// directory by default.
    #[arg(short = 'o', long = "output")]
    output: Option<PathBuf>,
}

pub async fn run(api: &Api, args: GetArgs) -> Outcome<()> {
    let id = segment(&args.id)?;
    let file = api
        .json(api.request(Method::GET, &format!("/v1/files/{id}")))
        .await?;
    let content = format!("/v1/files/{id}/content");
    if args.output.as_deref() == Some(std::path::Path::new("-")) {
        let res = api.send(api.request(Method::GET, &content)).await?;
        let mut out = tokio::io::stdout();
        let mut body = res.bytes_stream();
        while let Some(chunk) = body.next().await {
            out.write_all(&chunk.map_err(Failure::other)?)
                .await
                .map_err(Failure::other)?;
        }
        return out.flush().await.map_err(Failure::other);
    }
    let output = match args.output {
        Some(p) => p,
        // Only the last component of the server's name: it cannot point elsewhere.
        None => PathBuf::from(
            std::path::Path::new(file["name"].as_str().unwrap_or(id))
                .file_name()
                .unwrap_or(std::ffi::OsStr::new(id)),
        ),
    };
    let mut part = output.clone().into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    let have = tokio::fs::metadata(&part).await.map_or(0, |m| m.len());
    let size = file["size"].as_u64().unwrap_or(0);
    let mut req = api.request(Method::GET, &content);
    if have > 0 {
        req = req.header(header::RANGE, format!("bytes={have}-"));
        if let Some(etag) = file["etag"].as_str() {
            req = req.header(header::IF_RANGE, etag);
        }
    }
    let res = match api.send(req).await {
        // Everything arrived last time; only the rename was left.
        Err(Failure::Server { status: 416, .. }) if have == size => None,
        other => Some(other?),
    };
    let bar = ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>12!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(output.display().to_string());
    if let Some(res) = res {
        let resumed = res.status() == StatusCode::PARTIAL_CONTENT;
        let mut out = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(resumed)
            .truncate(!resumed)
            .open(&part)
            .await
            .map_err(|e| Failure::Other(format!("{}: {e}", part.display())))?;
        bar.set_position(if resumed { have } else { 0 });
        let mut body = res.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                Failure::Other(format!(
                    "the download broke off ({e}); run the command again to continue it"
                ))
            })?;
            out.write_all(&chunk)
                .await
                .map_err(|e| Failure::Other(format!("{}: {e}", part.display())))?;
            bar.inc(chunk.len() as u64);
        }
        out.sync_all().await.map_err(Failure::other)?;
    }
    bar.finish_and_clear();
    tokio::fs::rename(&part, &output)
        .await
        .map_err(|e| Failure::Other(format!("{}: {e}", output.display())))?;
    println!("{}", output.display());
    Ok(())
}
