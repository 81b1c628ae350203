//! `trove files …`: upload, ls, get, rm, url.

use clap::Subcommand;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Api, Failure, Outcome, human_bytes, print_json};

#[derive(Debug, Subcommand)]
pub enum FilesAction {
    /// Upload files and directories (resumable: run it again to continue an interrupted upload).
    Upload(super::upload::UploadArgs),
    /// List files, newest first.
    Ls(ListArgs),
    /// Download a file's content (a partial download is resumed).
    Get(super::download::GetArgs),
    /// Delete files.
    Rm {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Print a signed URL that downloads the file without credentials until it expires.
    Url {
        id: String,
        /// Lifetime, such as 90s, 15m, 1h or 7d, up to the bucket's `downloadExpiration`
        /// (which is the default).
        #[arg(long)]
        expires: Option<String>,
    },
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[arg(long)]
    bucket: Option<String>,
    #[arg(long)]
    category: Option<String>,
    /// Files related to this object, as `entity:reference` (or only `entity`).
    #[arg(long, value_name = "ENTITY[:REF]")]
    associated: Option<String>,
    /// Any other filter of `GET /v1/files`, as `name=value` (for example `mimeType=image/*`);
    /// repeatable.
    #[arg(long = "filter", value_name = "NAME=VALUE")]
    filters: Vec<String>,
    /// The most files to list (every page is fetched until then).
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// Print the files as JSON (an array).
    #[arg(long)]
    json: bool,
}

pub async fn run(api: &Api, action: FilesAction) -> Outcome<()> {
    match action {
        FilesAction::Upload(args) => super::upload::run(api, args).await,
        FilesAction::Ls(args) => list(api, args).await,
        FilesAction::Get(args) => super::download::run(api, args).await,
        FilesAction::Rm { ids } => {
            for id in ids {
                api.send(api.request(Method::DELETE, &format!("/v1/files/{}", segment(&id)?)))
                    .await?;
                println!("{id}");
            }
            Ok(())
        }
        FilesAction::Url { id, expires } => {
            let body = match expires {
                None => json!({}),
                Some(e) => {
                    let ttl = trove_server::auth::token::parse_ttl(&e)
                        .map_err(|e| Failure::Other(format!("--expires: {e}")))?;
                    json!({"expiresIn": ttl.as_secs()})
                }
            };
            let path = format!("/v1/files/{}/signed-url", segment(&id)?);
            let signed = api
                .json(api.request(Method::POST, &path).json(&body))
                .await?;
            println!("{}", signed["url"].as_str().unwrap_or_default());
            Ok(())
        }
    }
}

/// An id placed in a path: only what an id may hold, so no argument can reach another route.
pub fn segment(id: &str) -> Outcome<&str> {
    if !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id)
    } else {
        Err(Failure::Other(format!("'{id}' is not an id")))
    }
}

async fn list(api: &Api, args: ListArgs) -> Outcome<()> {
    let mut query: Vec<(String, String)> = Vec::new();
    if let Some(b) = args.bucket {
        query.push(("bucketId".into(), b));
    }
    if let Some(c) = args.category {
        query.push(("category".into(), c));
    }
    if let Some(a) = args.associated {
        match a.split_once(':') {
            Some((entity, reference)) => {
                query.push(("entityName".into(), entity.into()));
                query.push(("entityReference".into(), reference.into()));
            }
            None => query.push(("entityName".into(), a)),
        }
    }
    for f in args.filters {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| Failure::Other(format!("--filter '{f}' is not name=value")))?;
        query.push((k.into(), v.into()));
    }
    let mut files: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    while files.len() < args.limit as usize {
        let mut q = query.clone();
        q.push((
            "limit".into(),
            (args.limit as usize - files.len()).min(1000).to_string(),
        ));
        if let Some(c) = &cursor {
            q.push(("cursor".into(), c.clone()));
        }
        let page = api
            .json(api.request(Method::GET, "/v1/files").query(&q))
            .await?;
        if let Some(list) = page["files"].as_array() {
            files.extend(list.iter().cloned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    if args.json {
        print_json(&Value::Array(files));
        return Ok(());
    }
    let rows: Vec<[String; 5]> = files
        .iter()
        .map(|f| {
            [
                f["id"].as_str().unwrap_or_default().to_owned(),
                f["name"].as_str().unwrap_or_default().to_owned(),
                human_bytes(f["size"].as_u64().unwrap_or(0)),
                f["mimeType"].as_str().unwrap_or_default().to_owned(),
                f["createdAt"].as_str().unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    print_table(&["ID", "NAME", "SIZE", "TYPE", "CREATED"], &rows);
    Ok(())
}

/// Columns padded to their widest cell.
pub fn print_table<const N: usize>(headers: &[&str; N], rows: &[[String; N]]) {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
