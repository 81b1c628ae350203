//! How a file is shown to clients: its record plus the URLs that depend on the server's address.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;
use trove_core::{FileRecord, Principal, Visibility};

/// Characters escaped in a path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

/// A file as the API returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileView {
    #[serde(flatten)]
    pub file: FileRecord,
    /// The permanent public URL; null for private files.
    pub url: Option<String>,
}

/// The path of a public file's permanent URL: `/public/{id}/{urlencoded name}`.
pub fn public_path(file: &FileRecord) -> String {
    format!(
        "/public/{}/{}",
        file.id,
        utf8_percent_encode(&file.name, SEGMENT)
    )
}

/// `{TROVE_PUBLIC_URL}/public/{id}/{name}` for public files.
pub fn public_url(base: &str, file: &FileRecord) -> Option<String> {
    (file.visibility == Visibility::Public).then(|| format!("{base}{}", public_path(file)))
}

impl FileView {
    /// The file as `p` may see it: anonymous callers do not learn who uploaded it or in which
    /// tenant ([`Principal::sees_identities`]).
    pub fn new(base: &str, p: &Principal, mut file: FileRecord) -> Self {
        if !p.sees_identities() {
            file.uploaded_by_user_id = None;
            file.tenant_id = None;
        }
        Self {
            url: public_url(base, &file),
            file,
        }
    }

    pub fn list(base: &str, p: &Principal, files: Vec<FileRecord>) -> Vec<Self> {
        files.into_iter().map(|f| Self::new(base, p, f)).collect()
    }
}
