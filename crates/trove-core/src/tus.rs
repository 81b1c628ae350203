//! The pure parts of the tus 1.0 protocol: its header values, parsed and validated.
//!
//! Each parser bounds its input (the header size limit bounds it already; these bound the number
//! of items too) and refuses what the specification does not allow with `invalid_request`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::TroveError;

/// The protocol version this server speaks.
pub const VERSION: &str = "1.0.0";
/// The extensions announced in `Tus-Extension`.
pub const EXTENSIONS: &str = "creation,creation-with-upload,creation-defer-length,expiration,\
checksum,termination,concatenation,concatenation-unfinished";
/// The algorithms announced in `Tus-Checksum-Algorithm`.
pub const CHECKSUM_ALGORITHMS: &str = "sha1,sha256,md5";
/// The most keys an `Upload-Metadata` header may carry.
pub const MAX_METADATA_KEYS: usize = 64;
/// The most partial uploads one final upload may concatenate.
pub const MAX_PARTS: usize = 1000;

/// Parses `Upload-Metadata`: comma-separated `key base64value` pairs (the value may be absent).
/// Keys are unique, non-empty, without spaces or commas; values must be UTF-8 text here, because
/// every key Trove reads is text.
pub fn parse_metadata(header: &str) -> Result<Vec<(String, Option<String>)>, TroveError> {
    let mut pairs: Vec<(String, Option<String>)> = Vec::new();
    if header.trim().is_empty() {
        return Ok(pairs);
    }
    for item in header.split(',') {
        let item = item.trim();
        let mut parts = item.split(' ');
        let key = parts.next().unwrap_or_default();
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TroveError::invalid(format!(
                "Upload-Metadata has an invalid key '{key}'"
            )));
        }
        let value = match parts.next() {
            None | Some("") => None,
            Some(encoded) => {
                let bytes = STANDARD.decode(encoded).map_err(|_| {
                    TroveError::invalid(format!(
                        "Upload-Metadata: the value of '{key}' is not base64"
                    ))
                })?;
                Some(String::from_utf8(bytes).map_err(|_| {
                    TroveError::invalid(format!(
                        "Upload-Metadata: the value of '{key}' is not UTF-8 text"
                    ))
                })?)
            }
        };
        if parts.next().is_some() {
            return Err(TroveError::invalid(format!(
                "Upload-Metadata: '{key}' has more than one value"
            )));
        }
        if pairs.iter().any(|(k, _)| k == key) {
            return Err(TroveError::invalid(format!(
                "Upload-Metadata: '{key}' appears twice"
            )));
        }
        if pairs.len() == MAX_METADATA_KEYS {
            return Err(TroveError::invalid(format!(
                "Upload-Metadata has more than {MAX_METADATA_KEYS} keys"
            )));
        }
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

/// A checksum algorithm of the checksum extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumAlgorithm {
    Sha1,
    Sha256,
    Md5,
}

/// An `Upload-Checksum`: the algorithm and the expected digest of the request's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub digest: Vec<u8>,
}

/// Parses `Upload-Checksum: <algorithm> <base64 digest>`; an unknown algorithm or a digest of the
/// wrong length is `invalid_request` (400).
pub fn parse_checksum(header: &str) -> Result<Checksum, TroveError> {
    let (name, encoded) = header
        .trim()
        .split_once(' ')
        .ok_or_else(|| TroveError::invalid("Upload-Checksum must be '<algorithm> <base64>'"))?;
    let (algorithm, len) = match name {
        "sha1" => (ChecksumAlgorithm::Sha1, 20),
        "sha256" => (ChecksumAlgorithm::Sha256, 32),
        "md5" => (ChecksumAlgorithm::Md5, 16),
        other => {
            return Err(TroveError::invalid(format!(
                "unsupported checksum algorithm '{other}' (supported: {CHECKSUM_ALGORITHMS})"
            )));
        }
    };
    let digest = STANDARD
        .decode(encoded.trim())
        .ok()
        .filter(|d| d.len() == len)
        .ok_or_else(|| TroveError::invalid(format!("Upload-Checksum: not a {name} digest")))?;
    Ok(Checksum { algorithm, digest })
}

/// An `Upload-Concat` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Concat {
    Partial,
    /// The upload ids of the parts, in order (taken from the URLs' last path segment).
    Final(Vec<String>),
}

/// Parses `Upload-Concat: partial` or `final;<url> <url> …` (URLs absolute or path-only).
pub fn parse_concat(header: &str) -> Result<Concat, TroveError> {
    let header = header.trim();
    if header == "partial" {
        return Ok(Concat::Partial);
    }
    let Some(urls) = header.strip_prefix("final;") else {
        return Err(TroveError::invalid(
            "Upload-Concat must be 'partial' or 'final;<urls>'",
        ));
    };
    let ids: Vec<String> = urls
        .split(' ')
        .filter(|u| !u.is_empty())
        .map(|u| {
            let path = u.split(['?', '#']).next().unwrap_or_default();
            path.trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    if ids.is_empty() || ids.iter().any(String::is_empty) {
        return Err(TroveError::invalid(
            "Upload-Concat: a final upload names its partial uploads' URLs",
        ));
    }
    if ids.len() > MAX_PARTS {
        return Err(TroveError::invalid(format!(
            "Upload-Concat: at most {MAX_PARTS} partial uploads"
        )));
    }
    Ok(Concat::Final(ids))
}

/// Parses an `Upload-Offset` or `Upload-Length` value: a non-negative decimal integer.
pub fn parse_size(name: &str, value: &str) -> Result<u64, TroveError> {
    let ok = !value.is_empty() && value.len() <= 19 && value.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| value.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| TroveError::invalid(format!("{name} must be a non-negative integer")))
}

/// Encodes metadata pairs the way `Upload-Metadata` carries them.
pub fn encode_metadata(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k} {}", STANDARD.encode(v)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_and_refuses_malformed_pairs() {
        let header =
            encode_metadata(&[("filename", "ré sumé.pdf"), ("filetype", "application/pdf")]);
        let parsed = parse_metadata(&format!("{header},is_confidential")).unwrap();
        assert_eq!(
            parsed,
            vec![
                ("filename".into(), Some("ré sumé.pdf".into())),
                ("filetype".into(), Some("application/pdf".into())),
                ("is_confidential".into(), None),
            ]
        );
        assert!(parse_metadata("").unwrap().is_empty());
        for bad in [
            "a !!!",
            "a YQ==,a YQ==",
            "a YQ==,,b",
            "a YQ== YQ==",
            "a /w==",
        ] {
            assert!(parse_metadata(bad).is_err(), "{bad}");
        }
        let many = (0..=MAX_METADATA_KEYS)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_metadata(&many).is_err(), "bounded");
    }

    #[test]
    fn checksums_name_a_known_algorithm_and_a_digest_of_its_length() {
        let sha1 = parse_checksum("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=").unwrap();
        assert_eq!(sha1.algorithm, ChecksumAlgorithm::Sha1);
        assert_eq!(sha1.digest.len(), 20);
        assert!(parse_checksum("crc32 AAAA").is_err());
        assert!(
            parse_checksum("sha256 Kq5sNclPz7QV2+lfQIuc6R7oRu0=").is_err(),
            "wrong length"
        );
        assert!(parse_checksum("md5").is_err());
    }

    #[test]
    fn concat_names_partial_uploads_by_url() {
        assert_eq!(parse_concat("partial").unwrap(), Concat::Partial);
        assert_eq!(
            parse_concat("final;https://h/v1/tus/a /v1/tus/b/ c").unwrap(),
            Concat::Final(vec!["a".into(), "b".into(), "c".into()])
        );
        for bad in ["final;", "final", "whole", "final; "] {
            assert!(parse_concat(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes_are_plain_decimal() {
        assert_eq!(parse_size("Upload-Offset", "0").unwrap(), 0);
        assert_eq!(parse_size("Upload-Length", "1073741824").unwrap(), 1 << 30);
        for bad in ["", "-1", "+1", "1e3", " 1", "99999999999999999999"] {
            assert!(parse_size("Upload-Offset", bad).is_err(), "{bad}");
        }
    }
}
