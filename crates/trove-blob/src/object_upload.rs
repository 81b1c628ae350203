//! The bytes of unfinished resumable uploads on object storage.
//!
//! An upload is a multipart upload into its target key (the file's blob for a single upload, the
//! upload's own `.uploads/{id}/data` for a partial one that a final upload will concatenate).
//! Bytes arrive in a buffer; every [`PART_SIZE`] of them go to the store as the next part. When a
//! request's bytes must become durable ([`ObjectUpload::sync`]), what is below a whole part goes to
//! a staging object (`.uploads/{id}/tail-{offset}`), and the state (multipart id, part ids, tail)
//! to `.uploads/{id}/state-{offset}`. The durable offset the metadata store records names the
//! state to resume from, so a request on any node continues where the last one stopped; a state
//! that no offset names (a request that failed before recording it) is never read. The buffer
//! holds at most one part and a chunk: memory stays flat whatever the upload's size.
//!
//! Within a process one request at a time holds an upload ([`BlobError::Locked`] for the
//! others); across nodes the server takes the upload's lease in the metadata store before it
//! opens the upload here. Should two writers still overlap (one stalled past its lease), they
//! cannot both record their offset (the metadata store compares and sets it); should the loser
//! have replaced a part the winner recorded, completing the upload fails (the part's id no longer
//! matches) rather than storing other bytes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::multipart::STAGING_PREFIX;
use crate::object::{ObjectBackend, PART_SIZE};
use crate::{BlobError, BlobStore};

/// Uploads held by a request of this process.
pub(crate) type Held = Arc<Mutex<HashSet<String>>>;

/// What a durable offset of an upload consists of.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
struct State {
    target: String,
    multipart: Option<String>,
    parts: Vec<String>,
    /// The staging object holding the bytes after the last whole part.
    tail: Option<String>,
}

fn state_key(id: &str, offset: u64) -> String {
    BlobStore::staging_key(id, &format!("state-{offset:020}"))
}

fn tail_key(id: &str, offset: u64) -> String {
    BlobStore::staging_key(id, &format!("tail-{offset:020}"))
}

/// Where a partial upload's bytes end up once all have arrived.
pub(crate) fn data_key(id: &str) -> String {
    BlobStore::staging_key(id, "data")
}

/// An upload's bytes on object storage, held by one request until dropped.
pub struct ObjectUpload {
    backend: Arc<ObjectBackend>,
    held: Held,
    id: String,
    state: State,
    /// Bytes after the last whole part, not yet in the store.
    buffer: BytesMut,
    len: u64,
    synced: u64,
    /// Every durable state this request knows, to cut back to.
    known: Vec<(u64, State, Bytes)>,
    sealed: bool,
}

impl Drop for ObjectUpload {
    fn drop(&mut self) {
        if let Ok(mut held) = self.held.lock() {
            held.remove(&self.id);
        }
    }
}

async fn read_all(backend: &ObjectBackend, key: &str) -> Result<Bytes, BlobError> {
    let chunks: Vec<Bytes> = backend
        .read(key, None)
        .await?
        .try_collect()
        .await
        .map_err(|e| BlobError::Unavailable(e.to_string()))?;
    Ok(chunks.concat().into())
}

impl ObjectUpload {
    /// Takes the upload and loads its state at the durable offset `committed`.
    pub(crate) async fn open(
        backend: Arc<ObjectBackend>,
        held: Held,
        id: &str,
        committed: u64,
        target: &str,
    ) -> Result<Self, BlobError> {
        if !held
            .lock()
            .map_err(|_| BlobError::Locked)?
            .insert(id.to_owned())
        {
            return Err(BlobError::Locked);
        }
        let mut upload = Self {
            backend,
            held,
            id: id.to_owned(),
            state: State {
                target: target.to_owned(),
                ..State::default()
            },
            buffer: BytesMut::new(),
            len: committed,
            synced: committed,
            known: Vec::new(),
            sealed: false,
        };
        if committed > 0 {
            let state: State = match read_all(&upload.backend, &state_key(id, committed)).await {
                Ok(raw) => serde_json::from_slice(&raw)
                    .map_err(|e| BlobError::Io(format!("upload state of {id}: {e}")))?,
                Err(BlobError::NotFound) => {
                    // No state: every byte went to the target already (the upload was sealed).
                    return Err(BlobError::NotFound);
                }
                Err(e) => return Err(e),
            };
            if let Some(tail) = &state.tail {
                upload.buffer = BytesMut::from(&read_all(&upload.backend, tail).await?[..]);
            }
            upload.state = state;
        }
        upload.known.push((
            committed,
            upload.state.clone(),
            upload.buffer.clone().freeze(),
        ));
        Ok(upload)
    }

    /// Bytes written so far, durable or not.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a chunk; whole parts go to the store as they fill.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), BlobError> {
        if self.sealed {
            return Err(BlobError::Io("the upload is complete".into()));
        }
        self.buffer.extend_from_slice(chunk);
        self.len += chunk.len() as u64;
        while self.buffer.len() >= PART_SIZE {
            let part = self.buffer.split_to(PART_SIZE).freeze();
            self.send_part(part).await?;
        }
        Ok(())
    }

    async fn send_part(&mut self, part: Bytes) -> Result<(), BlobError> {
        let multipart = match &self.state.multipart {
            Some(m) => m.clone(),
            None => {
                let m = self.backend.start_multipart(&self.state.target).await?;
                self.state.multipart = Some(m.clone());
                m
            }
        };
        let index = self.state.parts.len();
        let part_id = self
            .backend
            .put_part(&self.state.target, &multipart, index, part)
            .await?;
        self.state.parts.push(part_id);
        Ok(())
    }

    /// Makes every byte written so far durable (tail and state in the store); returns the
    /// durable length, which the caller then records.
    pub async fn sync(&mut self) -> Result<u64, BlobError> {
        if self.sealed || self.synced == self.len {
            return Ok(self.synced);
        }
        let tail = self.buffer.clone().freeze();
        self.state.tail = if tail.is_empty() {
            None
        } else {
            let key = tail_key(&self.id, self.len);
            self.backend.put(&key, tail.clone()).await?;
            Some(key)
        };
        let raw = serde_json::to_vec(&self.state).map_err(|e| BlobError::Io(e.to_string()))?;
        self.backend
            .put(&state_key(&self.id, self.len), raw.into())
            .await?;
        self.synced = self.len;
        self.known.push((self.len, self.state.clone(), tail));
        Ok(self.synced)
    }

    /// Cuts the bytes back to `len`, a durable offset this request opened at or synced.
    pub async fn truncate(&mut self, len: u64) -> Result<(), BlobError> {
        let (_, state, tail) = self
            .known
            .iter()
            .rev()
            .find(|(at, _, _)| *at == len)
            .cloned()
            .ok_or_else(|| BlobError::Io(format!("no durable state at offset {len}")))?;
        // Parts sent since are left in the multipart upload: the same part numbers are sent
        // again, and only the ones a state names are ever completed.
        self.state = state;
        self.buffer = BytesMut::from(&tail[..]);
        self.len = len;
        self.synced = len;
        Ok(())
    }

    /// Completes the upload into its target: the last bytes become the last part. Staged tails
    /// and states are removed afterwards.
    pub async fn seal(&mut self) -> Result<(), BlobError> {
        if self.sealed {
            return Ok(());
        }
        let rest = std::mem::take(&mut self.buffer).freeze();
        if self.state.multipart.is_none() {
            // Below one part: a single PUT.
            self.backend.put(&self.state.target, rest).await?;
        } else {
            if !rest.is_empty() {
                self.send_part(rest).await?;
            }
            let multipart = self.state.multipart.clone().unwrap_or_default();
            self.backend
                .complete_multipart(&self.state.target, &multipart, self.state.parts.clone())
                .await?;
        }
        self.sealed = true;
        self.synced = self.len;
        remove_staged(&self.backend, &self.id, false).await;
        Ok(())
    }

    /// The key the bytes are completed into.
    pub fn target(&self) -> &str {
        &self.state.target
    }
}

/// Removes an upload's staged objects (its states, tails and, with `data`, its completed bytes),
/// aborting any multipart upload a state names. Failures are logged: clean-up retries.
pub(crate) async fn remove_staged(backend: &ObjectBackend, id: &str, data: bool) {
    let prefix = BlobStore::staging_key(id, "");
    let listed: Result<Vec<crate::BlobInfo>, BlobError> = backend.list(&prefix).try_collect().await;
    let Ok(listed) = listed else {
        tracing::warn!(upload = id, "listing an upload's staged objects failed");
        return;
    };
    let mut aborted = HashSet::new();
    for info in listed {
        let name = info.key.rsplit('/').next().unwrap_or_default().to_owned();
        if name.starts_with("state-")
            && data
            && let Ok(raw) = read_all(backend, &info.key).await
            && let Ok(state) = serde_json::from_slice::<State>(&raw)
            && let Some(m) = state.multipart
            && aborted.insert(m.clone())
            && let Err(e) = backend.abort_multipart(&state.target, &m).await
        {
            tracing::warn!(upload = id, error = %e, "aborting an upload's multipart upload failed");
        }
        if (name == "data" && !data) || !info.key.starts_with(STAGING_PREFIX) {
            continue;
        }
        if let Err(e) = backend.delete(&info.key).await {
            tracing::warn!(upload = id, error = %e, "removing a staged object failed");
        }
    }
}

/// The ids of the uploads with staged objects.
pub(crate) async fn staged_ids(backend: &ObjectBackend) -> Result<Vec<String>, BlobError> {
    let listed: Vec<crate::BlobInfo> = backend.list(STAGING_PREFIX).try_collect().await?;
    let mut ids: Vec<String> = listed
        .iter()
        .filter_map(|i| i.key.strip_prefix(STAGING_PREFIX)?.split('/').next())
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}
