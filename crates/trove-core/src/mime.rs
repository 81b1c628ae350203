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

/// Whether a browser may show content of this type inline on the API's origin. An allow-list: types
/// that browsers display without running anything (raster images, audio, video, PDF, plain text and
/// data). Everything else, including types no list of dangerous ones anticipated (`text/xsl`,
/// `text/jscript`, `multipart/x-mixed-replace`, `message/rfc822`…), is served as an attachment
/// under `Content-Security-Policy: sandbox`.
pub fn is_safe_inline(mime: &str) -> bool {
    let m = normalize(mime);
    if m.ends_with("+xml") || m.contains("xml") || m.contains("script") {
        return false;
    }
    matches!(
        m.as_str(),
        "image/png"
            | "image/apng"
            | "image/jpeg"
            | "image/gif"
            | "image/webp"
            | "image/avif"
            | "image/bmp"
            | "image/x-icon"
            | "image/vnd.microsoft.icon"
            | "application/pdf"
            | "text/plain"
            | "text/csv"
            | "text/markdown"
            | "application/json"
    ) || ((m.starts_with("audio/") || m.starts_with("video/")) && valid(&m))
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
    fn only_passive_types_are_inline() {
        for active in [
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/javascript",
            "text/xsl",
            "text/jscript",
            "multipart/x-mixed-replace",
            "message/rfc822",
            "application/xhtml+xml",
            "text/xml",
            "application/octet-stream",
            "video/x-something+xml",
            "text/vtt",
        ] {
            assert!(!is_safe_inline(active), "{active}");
        }
        for passive in [
            "image/png",
            "IMAGE/JPEG",
            "text/plain; charset=utf-8",
            "application/pdf",
            "audio/mpeg",
            "video/mp4",
            "application/json",
        ] {
            assert!(is_safe_inline(passive), "{passive}");
        }
    }
}
