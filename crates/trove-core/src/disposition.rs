//! `Content-Disposition` (RFC 6266) with an ASCII `filename` fallback and `filename*` for Unicode.

/// Builds `inline` or `attachment` with the file's name.
pub fn content_disposition(name: &str, attachment: bool) -> String {
    let kind = if attachment { "attachment" } else { "inline" };
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' && c != '%' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if fallback == name {
        format!("{kind}; filename=\"{name}\"")
    } else {
        format!(
            "{kind}; filename=\"{fallback}\"; filename*=UTF-8''{}",
            encode_rfc5987(name)
        )
    }
}

/// Percent-encodes everything outside RFC 5987's `attr-char`.
fn encode_rfc5987(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_names_are_quoted() {
        assert_eq!(
            content_disposition("a b.pdf", false),
            "inline; filename=\"a b.pdf\""
        );
        assert_eq!(
            content_disposition("a.pdf", true),
            "attachment; filename=\"a.pdf\""
        );
    }

    #[test]
    fn unicode_and_quotes_use_filename_star() {
        assert_eq!(
            content_disposition("résumé \"1\".pdf", false),
            "inline; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
    }
}
