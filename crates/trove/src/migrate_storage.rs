//! `trove migrate-storage --from URL --to URL`: copies every stored content from one blob store to
//! another (local folder ↔ S3, S3 → S3, or a folder onto itself to move blobs to the fanned-out key
//! layout), verifying each copy by its SHA-256. Nothing is switched: the operator points
//! `TROVE_STORAGE_URL` at the new store once this has finished without errors. A copy already in
//! place and verified is skipped, so an interrupted run is simply run again.

use futures_util::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use trove_blob::{BlobError, BlobStore};
use trove_core::FileRecord;
use trove_server::config::Config;
use trove_server::service::audit::{ReadyFiles, is_inline};

/// What one run did.
#[derive(Debug, Default)]
struct Tally {
    copied: u64,
    already: u64,
    bytes: u64,
    failed: Vec<String>,
}

pub fn run(config: Config, from: &str, to: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let s3 = config.s3.clone();
        let source = BlobStore::open(from, &s3)
            .await
            .map_err(|e| anyhow::anyhow!("--from: {e}"))?;
        let dest = BlobStore::open(to, &s3)
            .await
            .map_err(|e| anyhow::anyhow!("--to: {e}"))?;
        let same_store = from == to;
        let state = trove_server::server::build_state(config).await?;
        // One pass for the total the progress bar needs, one to copy: a page in memory at a time.
        let (mut count, mut total) = (0u64, 0u64);
        let mut ready = ReadyFiles::default();
        while let Some(page) = ready.next_page(&state).await.map_err(api)? {
            for f in stored(&state, page).await? {
                count += 1;
                total += f.size;
            }
        }
        let bar = ProgressBar::new(total).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
            )
            .map_err(|e| anyhow::anyhow!(e))?,
        );
        let mut tally = Tally::default();
        let mut ready = ReadyFiles::default();
        while let Some(page) = ready.next_page(&state).await.map_err(api)? {
            for file in stored(&state, page).await? {
                match copy(&source, &dest, &file, same_store).await {
                    Ok(true) => tally.copied += 1,
                    Ok(false) => tally.already += 1,
                    Err(e) => tally.failed.push(format!("{}: {e}", file.id)),
                }
                tally.bytes += file.size;
                bar.set_position(tally.bytes);
                bar.set_message(format!("{} copied", tally.copied));
            }
        }
        bar.finish_and_clear();
        println!(
            "{} files: {} copied and verified, {} already in place and verified, {} failed",
            count,
            tally.copied,
            tally.already,
            tally.failed.len()
        );
        for failure in &tally.failed {
            println!("failed: {failure}");
        }
        if !tally.failed.is_empty() {
            anyhow::bail!("some files were not copied; run again to retry them");
        }
        if !same_store {
            println!("every content is in {to}: set TROVE_STORAGE_URL={to} and restart");
        }
        Ok(())
    })
}

fn api(e: trove_server::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}: {}", e.code, e.message)
}

/// The files of a page whose content is in the blob store (not inline in the database).
async fn stored(
    state: &trove_server::state::AppState,
    page: Vec<FileRecord>,
) -> anyhow::Result<Vec<FileRecord>> {
    let mut kept = Vec::with_capacity(page.len());
    for f in page {
        if f.revision.is_some() && !is_inline(state, &f).await.map_err(api)? {
            kept.push(f);
        }
    }
    Ok(kept)
}

/// SHA-256 (hex) and length of a stored blob, read as a stream.
async fn hash_of(store: &BlobStore, key: &str) -> Result<(String, u64), BlobError> {
    let mut stream = store.read(key, None).await?;
    let mut hasher = Sha256::new();
    let mut len = 0u64;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| BlobError::Io(e.to_string()))?
    {
        hasher.update(&chunk);
        len += chunk.len() as u64;
    }
    Ok((hex::encode(hasher.finalize()), len))
}

/// Copies one file's content unless a verified copy is there already; `Ok(true)` when copied.
async fn copy(
    source: &BlobStore,
    dest: &BlobStore,
    file: &FileRecord,
    same_store: bool,
) -> anyhow::Result<bool> {
    let revision = file.revision.expect("stored files have a revision");
    let key = FileRecord::blob_key(&file.bucket_id, file.id, revision);
    let legacy = FileRecord::legacy_blob_key(&file.bucket_id, file.id, revision);
    // The content's own hash, or (for contents never hashed) the source's.
    let expected = |found: &str| file.checksum_sha256.as_deref().unwrap_or(found).to_owned();
    if dest.head(&key).await?.is_some_and(|i| i.size == file.size) {
        let (hash, len) = hash_of(dest, &key).await?;
        let reference = match &file.checksum_sha256 {
            Some(h) => h.clone(),
            None => {
                hash_of(source, source_key(source, &key, &legacy).await?)
                    .await?
                    .0
            }
        };
        if hash == reference && len == file.size {
            if same_store && key != legacy {
                dest.delete(&legacy).await?;
            }
            return Ok(false);
        }
    }
    let from_key = source_key(source, &key, &legacy).await?;
    if same_store && from_key == key {
        return Ok(false);
    }
    let mut stream = source.read(from_key, None).await?;
    let mut writer = dest.writer(&key).await?;
    let mut hasher = Sha256::new();
    while let Some(chunk) = stream.try_next().await? {
        hasher.update(&chunk);
        writer.write(chunk).await?;
    }
    let sent = hex::encode(hasher.finalize());
    if sent != expected(&sent) {
        writer.abort().await;
        anyhow::bail!("the source's bytes do not match the file's SHA-256");
    }
    writer.finish().await?;
    let (stored, len) = hash_of(dest, &key).await?;
    if stored != sent || len != file.size {
        anyhow::bail!("the copy does not match the source after writing");
    }
    if same_store && from_key == legacy {
        dest.delete(&legacy).await?;
    }
    Ok(true)
}

/// Where the source holds a content: under today's key, else the one before the fan-out.
async fn source_key<'a>(
    source: &BlobStore,
    key: &'a str,
    legacy: &'a str,
) -> anyhow::Result<&'a str> {
    if source.head(key).await?.is_some() {
        Ok(key)
    } else if source.head(legacy).await?.is_some() {
        Ok(legacy)
    } else {
        anyhow::bail!("its content is missing from the source")
    }
}
