//! Input validation shared by every entry point: file names, metadata, MIME patterns, cache control.

use crate::error::{ErrorCode, TroveError};

/// Largest serialized `metadata` object accepted.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Deepest nesting of arrays and objects inside `metadata`.
pub const MAX_METADATA_DEPTH: usize = 16;
/// Longest file name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 255;

/// Cleans a client-supplied file name: drops any path component (both `/` and `\`), keeps Unicode,
/// refuses control characters, empty names, `.`/`..` and names over 255 bytes.
pub fn file_name(raw: &str) -> Result<String, TroveError> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let invalid = |why: &str| Err(TroveError::new(ErrorCode::InvalidName, why.to_owned()));
    if base.chars().any(char::is_control) {
        return invalid("file name must not contain control characters");
    }
    if base.chars().any(is_bidi_control) {
        // U+202E turns "harmless\u{202E}txt.exe" into what reads as "harmlessexe.txt".
        return invalid("file name must not contain bidirectional control characters");
    }
    if base.trim().is_empty() || base == "." || base == ".." {
        return invalid("file name must not be empty");
    }
    if base.len() > MAX_NAME_BYTES {
        return invalid("file name must be at most 255 bytes");
    }
    Ok(base.to_owned())
}

/// The embeddings and overrides of Unicode's bidirectional algorithm (U+202A–U+202E) and its
/// isolates (U+2066–U+2069), which can make a name display in another order than it is.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// How deeply a JSON value nests (a scalar is 0), measured without recursion.
pub fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
            serde_json::Value::Array(items) => Box::new(items.iter()),
            serde_json::Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        deepest = deepest.max(d + 1);
        stack.extend(children.map(|c| (c, d + 1)));
    }
    deepest
}

/// Checks that `metadata` is a JSON object of at most 64 KiB once serialized and at most 16 levels
/// deep.
pub fn metadata(value: &serde_json::Value) -> Result<(), TroveError> {
    if !value.is_object() {
        return Err(TroveError::invalid("metadata must be a JSON object"));
    }
    if json_depth(value) > MAX_METADATA_DEPTH {
        return Err(TroveError::invalid(
            "metadata must be nested at most 16 levels deep",
        ));
    }
    let len = serde_json::to_vec(value)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if len > MAX_METADATA_BYTES {
        return Err(TroveError::invalid("metadata must be at most 64 KiB"));
    }
    Ok(())
}

/// Checks an `allowedMimeTypes` entry: `type/subtype`, `type/*` or `*/*`.
pub fn mime_pattern(pattern: &str) -> Result<(), TroveError> {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-*".contains(&b))
    };
    match pattern.split_once('/') {
        Some((t, s)) if token(t) && token(s) && (t != "*" || s == "*") => Ok(()),
        _ => Err(TroveError::invalid(format!(
            "'{pattern}' is not a MIME type pattern such as image/* or application/pdf"
        ))),
    }
}

/// Whether `mime` matches one of `patterns`; an empty list allows everything.
pub fn mime_allowed(mime: &str, patterns: &[String]) -> bool {
    if patterns.is_empty() {
        return true;
    }
    let mime = mime.to_ascii_lowercase();
    let (ty, _) = mime.split_once('/').unwrap_or((&mime, ""));
    patterns.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        p == "*/*" || p == mime || p.strip_suffix("/*").is_some_and(|prefix| prefix == ty)
    })
}

/// Checks a `Cache-Control` value: visible ASCII and spaces, at most 1024 bytes.
pub fn cache_control(value: &str) -> Result<(), TroveError> {
    if value.len() > 1024 || !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(TroveError::invalid(
            "cacheControl must be printable ASCII of at most 1024 bytes",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_their_path_and_keep_unicode() {
        assert_eq!(file_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(file_name("C:\\Users\\x\\report.pdf").unwrap(), "report.pdf");
        assert_eq!(file_name("façade 日本.txt").unwrap(), "façade 日本.txt");
        assert_eq!(file_name("a/..").unwrap_err().code, ErrorCode::InvalidName);
        assert_eq!(file_name("dir/").unwrap_err().code, ErrorCode::InvalidName);
        assert_eq!(file_name("").unwrap_err().code, ErrorCode::InvalidName);
        assert_eq!(file_name("a\nb").unwrap_err().code, ErrorCode::InvalidName);
        assert_eq!(
            file_name("a\u{0}b").unwrap_err().code,
            ErrorCode::InvalidName
        );
        for bidi in ['\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}'] {
            assert_eq!(
                file_name(&format!("invoice{bidi}txt.exe"))
                    .unwrap_err()
                    .code,
                ErrorCode::InvalidName
            );
        }
        assert!(file_name(&"é".repeat(127)).is_ok());
        assert!(file_name(&"é".repeat(128)).is_err());
    }

    #[test]
    fn metadata_must_be_a_small_object() {
        assert!(metadata(&serde_json::json!({"a": 1})).is_ok());
        assert!(metadata(&serde_json::json!([1])).is_err());
        assert!(metadata(&serde_json::json!({"a": "x".repeat(70_000)})).is_err());
        let mut deep = serde_json::json!(1);
        for _ in 0..16 {
            deep = serde_json::json!([deep]);
        }
        assert_eq!(json_depth(&deep), 16);
        assert!(metadata(&serde_json::json!({ "a": deep })).is_err());
        assert!(metadata(&serde_json::json!({"a": [[{"b": 1}]]})).is_ok());
    }

    #[test]
    fn mime_patterns() {
        assert!(mime_pattern("image/*").is_ok());
        assert!(mime_pattern("application/pdf").is_ok());
        assert!(mime_pattern("*/*").is_ok());
        assert!(mime_pattern("*/png").is_err());
        assert!(mime_pattern("image").is_err());
        assert!(mime_pattern("image/").is_err());
        let allowed = vec!["image/*".to_owned(), "application/pdf".to_owned()];
        assert!(mime_allowed("image/png", &allowed));
        assert!(mime_allowed("Image/PNG", &allowed));
        assert!(mime_allowed("application/pdf", &allowed));
        assert!(!mime_allowed("application/zip", &allowed));
        assert!(!mime_allowed("imagex/png", &allowed));
        assert!(mime_allowed("anything/else", &[]));
    }
}
