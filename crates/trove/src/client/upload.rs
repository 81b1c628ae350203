//! `trove files upload`: files and directories through tus, several at once, resumable across
//! runs.
//!
//! Each local file gets a fingerprint (its canonical path, size, modification time and target);
//! before creating an upload, the server's unfinished uploads with that fingerprint are looked up
//! (`GET /v1/uploads?fingerprint=`), so a run that was interrupted (Ctrl-C, a lost connection, a
//! killed process) continues from the offset the server holds when run again. A PATCH that fails
//! on the way is retried from the server's offset.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{StreamExt, TryStreamExt};
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{Api, Failure, Outcome, print_json};

/// Tries of one PATCH before the file is given up on.
const ATTEMPTS: u32 = 5;

#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    /// Files, and directories (uploaded recursively; symbolic links are not followed).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long)]
    bucket: Option<String>,
    #[arg(long)]
    category: Option<String>,
    /// Make the files public (a permanent public URL).
    #[arg(long)]
    public: bool,
    /// A JSON object stored with each file.
    #[arg(long)]
    metadata: Option<String>,
    /// Relate each file to an object of the application, as `entity:reference`; repeatable.
    #[arg(long = "associate", value_name = "ENTITY:REF")]
    associate: Vec<String>,
    /// Files uploaded at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Bytes per PATCH request, such as 256KiB or 8MiB.
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    chunk_size: u64,
    /// The most bytes per second each file is sent at, such as 1MiB.
    #[arg(long, value_parser = parse_size)]
    limit_rate: Option<u64>,
    /// Print the File objects as JSON (an array) instead of one line per file.
    #[arg(long)]
    json: bool,
}

/// `262144`, `256K`, `256KiB`, `8M`, `8MiB`, `1G`: binary multiples.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a size such as 256KiB or 8MiB"))?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("'{s}' is not a size such as 256KiB or 8MiB")),
    };
    n.checked_mul(factor)
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("'{s}' is not a size above 0"))
}

/// One local file to send.
struct Job {
    path: PathBuf,
    size: u64,
    fingerprint: String,
}

pub async fn run(api: &Api, args: UploadArgs) -> Outcome<()> {
    let metadata = match &args.metadata {
        None => None,
        Some(m) => {
            let v: Value = serde_json::from_str(m)
                .map_err(|e| Failure::Other(format!("--metadata is not JSON: {e}")))?;
            if !v.is_object() {
                return Err(Failure::Other("--metadata must be a JSON object".into()));
            }
            Some(v)
        }
    };
    let associations = args
        .associate
        .iter()
        .map(|a| {
            let (entity, reference) = a
                .split_once(':')
                .filter(|(e, r)| !e.is_empty() && !r.is_empty())
                .ok_or_else(|| {
                    Failure::Other(format!("--associate '{a}' is not entity:reference"))
                })?;
            Ok(json!({"entityName": entity, "entityReference": reference}))
        })
        .collect::<Outcome<Vec<_>>>()?;
    let target = format!(
        "{}\0{}\0{}",
        api.base,
        args.bucket.as_deref().unwrap_or(""),
        args.category.as_deref().unwrap_or("")
    );
    let jobs = collect(&args.paths, &target)?;
    let total: u64 = jobs.iter().map(|j| j.size).sum();
    let bars = MultiProgress::new();
    let overall = bars.add(ProgressBar::new(total));
    overall.set_style(style(
        "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    ));
    overall.set_prefix(format!("{} files", jobs.len()));
    let shared = Arc::new(Shared {
        metadata: encode_metadata(&args, metadata.as_ref(), &associations),
        chunk: args.chunk_size,
        rate: args.limit_rate,
        bars,
        overall,
    });
    let results: Vec<(PathBuf, Outcome<Value>)> = futures_util::stream::iter(jobs)
        .map(|job| {
            let shared = shared.clone();
            async move {
                let path = job.path.clone();
                (path, send_file(api, &shared, job).await)
            }
        })
        .buffered(usize::from(args.parallel))
        .collect()
        .await;
    shared.overall.finish_and_clear();
    let mut failed = 0;
    let mut stored = Vec::new();
    for (path, result) in results {
        match result {
            Ok(file) => {
                if !args.json {
                    println!("{}\t{}", file["id"].as_str().unwrap_or(""), path.display());
                }
                stored.push(file);
            }
            Err(e) => {
                failed += 1;
                eprintln!("trove: {}: {e}", path.display());
            }
        }
    }
    if args.json {
        print_json(&Value::Array(stored));
    }
    match failed {
        0 => Ok(()),
        n => Err(Failure::Other(format!(
            "{n} of the files were not uploaded"
        ))),
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

/// The files under `paths`, in a stable order, each fingerprinted for `target`.
fn collect(paths: &[PathBuf], target: &str) -> Outcome<Vec<Job>> {
    let mut jobs = Vec::new();
    for root in paths {
        // An explicit stack: no recursion depth to bound, and links are not followed, so a cycle
        // cannot loop.
        let mut pending = vec![root.clone()];
        while let Some(path) = pending.pop() {
            let meta = std::fs::symlink_metadata(&path)
                .map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?;
            let meta = if meta.file_type().is_symlink() && path == *root {
                // A link named on the command line is what the user meant.
                std::fs::metadata(&path)
                    .map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?
            } else {
                meta
            };
            if meta.is_dir() {
                let mut entries = std::fs::read_dir(&path)
                    .and_then(|d| {
                        d.map(|e| e.map(|e| e.path()))
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?;
                entries.sort();
                pending.extend(entries.into_iter().rev());
            } else if meta.is_file() {
                jobs.push(Job {
                    fingerprint: fingerprint(&path, &meta, target)?,
                    size: meta.len(),
                    path,
                });
            }
        }
    }
    Ok(jobs)
}

fn fingerprint(path: &Path, meta: &std::fs::Metadata, target: &str) -> Outcome<String> {
    let canonical = std::fs::canonicalize(path)
        .map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let mut h = Sha256::new();
    h.update(canonical.as_os_str().as_encoded_bytes());
    h.update(format!("\0{}\0{modified}\0{target}", meta.len()));
    Ok(format!("trove-cli-{}", hex::encode(h.finalize())))
}

/// What every file's upload shares.
struct Shared {
    /// `Upload-Metadata` without the per-file keys.
    metadata: Vec<(String, String)>,
    chunk: u64,
    rate: Option<u64>,
    bars: MultiProgress,
    overall: ProgressBar,
}

fn encode_metadata(
    args: &UploadArgs,
    metadata: Option<&Value>,
    associations: &[Value],
) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if let Some(b) = &args.bucket {
        pairs.push(("bucketId".to_owned(), b.clone()));
    }
    if let Some(c) = &args.category {
        pairs.push(("category".to_owned(), c.clone()));
    }
    if args.public {
        pairs.push(("visibility".to_owned(), "public".to_owned()));
    }
    if let Some(m) = metadata {
        pairs.push(("metadata".to_owned(), m.to_string()));
    }
    if !associations.is_empty() {
        pairs.push((
            "associations".to_owned(),
            Value::from(associations.to_vec()).to_string(),
        ));
    }
    pairs
}

fn header_value(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k} {}",
                base64::engine::general_purpose::STANDARD.encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn tus(api: &Api, method: Method, url: &str) -> reqwest::RequestBuilder {
    api.request_url(method, url)
        .header("tus-resumable", "1.0.0")
}

fn header_u64(res: &reqwest::Response, name: &str) -> Outcome<u64> {
    res.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| Failure::Other(format!("the server's answer has no {name}")))
}

/// An upload this file began in an earlier run, with the offset the server holds.
async fn earlier_upload(api: &Api, job: &Job) -> Outcome<Option<(String, u64)>> {
    let listed = api
        .json(api.request(Method::GET, "/v1/uploads").query(&[
            ("protocol", "tus"),
            ("fingerprint", job.fingerprint.as_str()),
        ]))
        .await?;
    let Some(url) = listed["uploads"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(|u| u["url"].as_str())
    else {
        return Ok(None);
    };
    let res = api.send(tus(api, Method::HEAD, url)).await?;
    Ok(Some((url.to_owned(), header_u64(&res, "upload-offset")?)))
}

async fn create(api: &Api, shared: &Shared, job: &Job) -> Outcome<String> {
    let name = job
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    let mut pairs = shared.metadata.clone();
    pairs.push(("filename".to_owned(), name));
    pairs.push(("fingerprint".to_owned(), job.fingerprint.clone()));
    let res = api
        .send(
            tus(api, Method::POST, &api.url("/v1/tus"))
                .header("upload-length", job.size)
                .header("upload-metadata", header_value(&pairs)),
        )
        .await?;
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Failure::Other("the server's answer has no Location".into()))?;
    // Relative locations are resolved against the server's URL.
    Ok(reqwest::Url::parse(&api.base)
        .and_then(|b| b.join(location))
        .map_err(Failure::other)?
        .to_string())
}

async fn send_file(api: &Api, shared: &Shared, job: Job) -> Outcome<Value> {
    let bar = shared.bars.insert_from_back(1, ProgressBar::new(job.size));
    bar.set_style(style(
        "{prefix:>12!} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}",
    ));
    bar.set_prefix(
        job.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let result = send_bytes(api, shared, &job, &bar).await;
    bar.finish_and_clear();
    shared.bars.remove(&bar);
    let id = result?;
    api.json(api.request(Method::GET, &format!("/v1/files/{id}")))
        .await
}

/// Sends the file's bytes and returns the id of the file they became.
async fn send_bytes(api: &Api, shared: &Shared, job: &Job, bar: &ProgressBar) -> Outcome<String> {
    let (url, mut offset) = match earlier_upload(api, job).await? {
        Some((url, offset)) => {
            let line = format!(
                "resuming {} at byte {offset} of {} ({})",
                job.path.display(),
                job.size,
                super::human_bytes(offset),
            );
            // Above the bars on a terminal; on standard error as it is otherwise.
            if shared.bars.is_hidden() {
                eprintln!("{line}");
            } else {
                let _ = shared.bars.println(line);
            }
            (url, offset)
        }
        None => (create(api, shared, job).await?, 0),
    };
    bar.set_position(offset);
    shared.overall.inc(offset);
    let mut failures = 0;
    loop {
        let length = shared.chunk.min(job.size - offset);
        match patch(api, shared, job, &url, offset, length, bar).await {
            Ok(Patched::Done(id)) => return Ok(id),
            Ok(Patched::At(next)) => {
                failures = 0;
                offset = next;
            }
            Err(e) if failures + 1 < ATTEMPTS && transient(&e) => {
                failures += 1;
                // What the server kept decides where to go on from.
                tokio::time::sleep(Duration::from_millis(250 << failures)).await;
                let res = api.send(tus(api, Method::HEAD, &url)).await?;
                let held = header_u64(&res, "upload-offset")?;
                shared
                    .overall
                    .set_position(shared.overall.position().saturating_sub(bar.position()) + held);
                bar.set_position(held);
                offset = held;
            }
            Err(e) => return Err(e),
        }
    }
}

fn transient(e: &Failure) -> bool {
    match e {
        Failure::Server { status, .. } => *status >= 500 || *status == 409 || *status == 423,
        Failure::Other(_) => true,
    }
}

enum Patched {
    At(u64),
    Done(String),
}

async fn patch(
    api: &Api,
    shared: &Shared,
    job: &Job,
    url: &str,
    offset: u64,
    length: u64,
    bar: &ProgressBar,
) -> Outcome<Patched> {
    let mut file = tokio::fs::File::open(&job.path)
        .await
        .map_err(|e| Failure::Other(format!("{}: {e}", job.path.display())))?;
    file.seek(std::io::SeekFrom::Start(offset))
        .await
        .map_err(Failure::other)?;
    let reader = file.take(length);
    let bar = bar.clone();
    let overall = shared.overall.clone();
    let rate = shared.rate;
    let started = Instant::now();
    let mut sent = 0u64;
    let body = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024).and_then(
        move |chunk: bytes::Bytes| {
            sent += chunk.len() as u64;
            bar.inc(chunk.len() as u64);
            overall.inc(chunk.len() as u64);
            // Pacing: a chunk leaves no earlier than the rate allows for what went before it.
            let due = rate.map(|r| started + Duration::from_secs_f64(sent as f64 / r as f64));
            async move {
                if let Some(due) = due {
                    tokio::time::sleep_until(due.into()).await;
                }
                Ok(chunk)
            }
        },
    );
    let res = api
        .send(
            tus(api, Method::PATCH, url)
                .header("upload-offset", offset)
                .header("content-type", "application/offset+octet-stream")
                .header("content-length", length)
                .body(reqwest::Body::wrap_stream(body)),
        )
        .await?;
    if let Some(id) = res
        .headers()
        .get("trove-file-id")
        .and_then(|v| v.to_str().ok())
    {
        return Ok(Patched::Done(id.to_owned()));
    }
    let next = header_u64(&res, "upload-offset")?;
    if next >= job.size {
        return Err(Failure::Other(
            "the upload is complete but the server named no file".into(),
        ));
    }
    Ok(Patched::At(next))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_are_binary_multiples() {
        assert_eq!(parse_size("262144"), Ok(262_144));
        assert_eq!(parse_size("256KiB"), Ok(262_144));
        assert_eq!(parse_size("8M"), Ok(8 << 20));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        for bad in ["", "0", "8 MiB", "8XB", "-1", "99999999999999999999G"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
