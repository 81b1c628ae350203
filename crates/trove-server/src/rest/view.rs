//! Turning service results into JSON bodies.

use axum::Json;
use serde::Serialize;
use trove_core::{FileRecord, Principal};

use crate::service::view::FileView;
use crate::state::AppState;

/// A file as JSON, with its URL, as `p` may see it.
pub fn file(state: &AppState, p: &Principal, f: FileRecord) -> Json<FileView> {
    Json(FileView::new(&state.config.public_url, p, f))
}

/// `{"files":[…]}`.
#[derive(Debug, Serialize)]
pub struct FileList {
    pub files: Vec<FileView>,
}

impl FileList {
    pub fn new(state: &AppState, p: &Principal, files: Vec<FileRecord>) -> Self {
        Self {
            files: FileView::list(&state.config.public_url, p, files),
        }
    }
}
