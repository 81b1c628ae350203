//! Deciding a file's MIME type from its first bytes, what the client declared and its name.

/// How many leading bytes detection looks at.
pub const SNIFF_LEN: usize = 8192;

/// Decides the stored MIME type. Content detection wins over the declared type when they disagree;
/// the declared type (or, failing that, a guess from the name's extension) is used when detection
/// finds nothing.
pub fn decide(head: &[u8], declared: Option<&str>, name: &str) -> String {
    if let Some(detected) = detect(head) {
        return detected;
    }
    let declared = declared
        .map(normalize)
        .filter(|d| !d.is_empty() && d != "application/octet-stream" && valid(d));
    declared
        .or_else(|| {
            mime_guess::from_path(name)
                .first()
                .map(|m| m.essence_str().to_owned())
        })
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// Detects the type from content: text markers for HTML, SVG and XML first, then magic bytes.
pub fn detect(head: &[u8]) -> Option<String> {
    detect_markup(head)
        .map(str::to_owned)
        .or_else(|| infer::get(head).map(|t| t.mime_type().to_owned()))
}

fn detect_markup(head: &[u8]) -> Option<&'static str> {
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let body = &body[start..];
    let starts = |marker: &[u8]| {
        body.len() >= marker.len() && body[..marker.len()].eq_ignore_ascii_case(marker)
    };
    if starts(b"<!doctype html") || starts(b"<html") {
        Some("text/html")
    } else if starts(b"<svg") {
        Some("image/svg+xml")
    } else if starts(b"<?xml") {
        let lower = body.to_ascii_lowercase();
        if lower.windows(4).any(|w| w == b"<svg") {
            Some("image/svg+xml")
        } else {
            Some("application/xml")
        }
    } else {
        None
    }
}

/// Lower-cases a `Content-Type` value and drops its parameters.
pub fn normalize(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn valid(mime: &str) -> bool {
    crate::validate::mime_pattern(mime).is_ok() && !mime.contains('*')
}

/// Types a browser would run or render as a document: served sandboxed and as an attachment.
pub fn is_active_content(mime: &str) -> bool {
    let m = normalize(mime);
    matches!(
        m.as_str(),
        "text/html"
            | "application/xhtml+xml"
            | "image/svg+xml"
            | "application/xml"
            | "text/xml"
            | "text/javascript"
            | "application/javascript"
            | "application/x-javascript"
            | "application/ecmascript"
            | "text/ecmascript"
    ) || m.ends_with("+xml")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn markup_is_detected_after_bom_and_space() {
        assert_eq!(
            detect(b"\xEF\xBB\xBF  \n<!DOCTYPE HTML><p>").as_deref(),
            Some("text/html")
        );
        assert_eq!(detect(b"<Html>").as_deref(), Some("text/html"));
        assert_eq!(detect(b"<svg xmlns=").as_deref(), Some("image/svg+xml"));
        assert_eq!(
            detect(b"<?xml version='1.0'?><svg/>").as_deref(),
            Some("image/svg+xml")
        );
        assert_eq!(
            detect(b"<?xml version='1.0'?><a/>").as_deref(),
            Some("application/xml")
        );
        assert_eq!(detect(b"hello"), None);
    }

    #[test]
    fn detected_type_wins_over_declared() {
        assert_eq!(decide(PNG, Some("text/plain"), "x.txt"), "image/png");
        assert_eq!(decide(b"<html>", Some("image/png"), "x.png"), "text/html");
    }

    #[test]
    fn declared_then_extension_then_octet_stream() {
        assert_eq!(
            decide(b"hello", Some("Text/Plain; charset=utf-8"), "x"),
            "text/plain"
        );
        assert_eq!(
            decide(b"hello", Some("application/octet-stream"), "a.csv"),
            "text/csv"
        );
        assert_eq!(decide(b"hello", None, "a.json"), "application/json");
        assert_eq!(decide(b"hello", None, "noext"), "application/octet-stream");
        assert_eq!(
            decide(b"hello", Some("garbage"), "noext"),
            "application/octet-stream"
        );
    }

    #[test]
    fn active_content() {
        assert!(is_active_content("text/html; charset=utf-8"));
        assert!(is_active_content("image/svg+xml"));
        assert!(is_active_content("application/javascript"));
        assert!(!is_active_content("image/png"));
        assert!(!is_active_content("text/plain"));
    }
}
