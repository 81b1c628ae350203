//! Signed URLs: HMAC-SHA256 over what the URL grants, with a key ring for rotation (the first key
//! signs, every key verifies). Used for download links and direct-upload links.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use trove_core::{ErrorCode, FileId, RevisionId};

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// The server's signing keys.
#[derive(Clone)]
pub struct Signer {
    keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signer({} keys)", self.keys.len())
    }
}

/// What a URL grants; each kind signs a different message, so one kind's token never serves another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Download a revision; `attachment` forces `Content-Disposition: attachment`.
    Download { attachment: bool },
    /// Upload the content of a pending file's revision.
    Upload,
}

/// A parsed, not yet verified token: `{expires}.{flags}.{signature hex}`. Only the canonical form is
/// accepted (decimal without sign or leading zero, flags `0` or `1`, 64 lower-case hex digits), and
/// the signature covers every part, so no two strings are the same token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub expires: i64,
    pub attachment: bool,
    signature: Vec<u8>,
}

/// 403 `invalid_signature`: what every forged, foreign or stale token gets.
pub fn invalid_signature() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidSignature,
        "the URL's signature is not valid",
    )
}

impl Token {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut parts = s.splitn(3, '.');
        let (Some(exp), Some(flags), Some(sig)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid_signature());
        };
        let canonical_number = !exp.is_empty()
            && exp.len() <= 18
            && exp.bytes().all(|b| b.is_ascii_digit())
            && (exp == "0" || !exp.starts_with('0'));
        let canonical_hex = sig.len() == 64
            && sig
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !canonical_number || !canonical_hex {
            return Err(invalid_signature());
        }
        Ok(Self {
            expires: exp.parse().map_err(|_| invalid_signature())?,
            attachment: match flags {
                "0" => false,
                "1" => true,
                _ => return Err(invalid_signature()),
            },
            signature: hex::decode(sig).map_err(|_| invalid_signature())?,
        })
    }
}

/// The flags field of a token: `1` for a download forced to be an attachment, else `0`.
fn flags(grant: Grant) -> &'static str {
    match grant {
        Grant::Download { attachment: true } => "1",
        _ => "0",
    }
}

/// What is signed: the grant's kind, the file, its revision, every field of the token, and for a
/// rendition the query that asks for it (so a link to a thumbnail is no link to the original, nor
/// to another rendition).
fn message(
    file: FileId,
    revision: RevisionId,
    grant: Grant,
    rendition: Option<&str>,
    expires: i64,
) -> String {
    let kind = match grant {
        Grant::Download { .. } => "download",
        Grant::Upload => "upload",
    };
    let mut msg = format!(
        "trove-token-v2\n{kind}\n{file}\n{revision}\n{expires}\n{}",
        flags(grant)
    );
    if let Some(query) = rendition {
        msg.push_str("\nrendition\n");
        msg.push_str(query);
    }
    msg
}

impl Signer {
    /// Keys of at least 32 bytes each.
    pub fn new(keys: Vec<Vec<u8>>) -> Result<Self, String> {
        if keys.is_empty() || keys.iter().any(|k| k.len() < 32) {
            return Err("TROVE_SIGNING_KEY: every key must be at least 32 bytes".into());
        }
        Ok(Self { keys })
    }

    fn mac(key: &[u8], msg: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(msg.as_bytes());
        mac
    }

    /// A token granting `grant` on this revision until `expires` (Unix seconds).
    pub fn sign(&self, file: FileId, revision: RevisionId, grant: Grant, expires: i64) -> String {
        self.sign_for(file, revision, grant, None, expires)
    }

    /// A token granting `grant` on the rendition `rendition` (its query) of this revision, or on
    /// the content itself for `None`.
    pub fn sign_for(
        &self,
        file: FileId,
        revision: RevisionId,
        grant: Grant,
        rendition: Option<&str>,
        expires: i64,
    ) -> String {
        let sig = Self::mac(
            &self.keys[0],
            &message(file, revision, grant, rendition, expires),
        )
        .finalize()
        .into_bytes();
        format!("{expires}.{}.{}", flags(grant), hex::encode(sig))
    }

    /// Checks a token against the file's current revision: 403 `invalid_signature` when no key
    /// verifies it (tampered, foreign, for replaced content, or whose flags do not belong to the
    /// grant), then 410 `url_expired`.
    pub fn verify(
        &self,
        token: &Token,
        file: FileId,
        revision: RevisionId,
        grant: Grant,
        now: i64,
    ) -> Result<(), ApiError> {
        self.verify_for(token, file, revision, grant, None, now)
    }

    /// [`Signer::verify`] for a token made by [`Signer::sign_for`].
    pub fn verify_for(
        &self,
        token: &Token,
        file: FileId,
        revision: RevisionId,
        grant: Grant,
        rendition: Option<&str>,
        now: i64,
    ) -> Result<(), ApiError> {
        let grant = match grant {
            // The flags in the token are what is checked against the signature.
            Grant::Upload if token.attachment => return Err(invalid_signature()),
            other => other,
        };
        let msg = message(file, revision, grant, rendition, token.expires);
        let ok = self
            .keys
            .iter()
            .any(|k| Self::mac(k, &msg).verify_slice(&token.signature).is_ok());
        if !ok {
            return Err(invalid_signature());
        }
        if now >= token.expires {
            return Err(ApiError::new(ErrorCode::UrlExpired, "the URL has expired"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_rotate_tamper_expire() {
        let old = Signer::new(vec![vec![1; 32]]).unwrap();
        let rotated = Signer::new(vec![vec![2; 32], vec![1; 32]]).unwrap();
        let (f, r) = (FileId::new(), RevisionId::new());
        let g = Grant::Download { attachment: false };
        let t = Token::parse(&old.sign(f, r, g, 1000)).unwrap();
        assert!(
            rotated.verify(&t, f, r, g, 999).is_ok(),
            "old keys still verify"
        );
        assert_eq!(
            rotated.verify(&t, f, r, g, 1000).unwrap_err().code,
            ErrorCode::UrlExpired
        );
        assert_eq!(
            rotated
                .verify(&t, f, RevisionId::new(), g, 0)
                .unwrap_err()
                .code,
            ErrorCode::InvalidSignature
        );
        assert_eq!(
            rotated.verify(&t, FileId::new(), r, g, 0).unwrap_err().code,
            ErrorCode::InvalidSignature
        );
        assert_eq!(
            rotated.verify(&t, f, r, Grant::Upload, 0).unwrap_err().code,
            ErrorCode::InvalidSignature
        );
        let longer = Token {
            expires: 2000,
            ..t.clone()
        };
        assert_eq!(
            rotated.verify(&longer, f, r, g, 0).unwrap_err().code,
            ErrorCode::InvalidSignature
        );
        assert!(Token::parse("garbage").is_err());
        assert!(Token::parse("1.2.zz").is_err());
        assert!(Signer::new(vec![vec![0; 31]]).is_err());
    }

    #[test]
    fn every_part_is_signed_and_only_the_canonical_form_parses() {
        let s = Signer::new(vec![vec![3; 32]]).unwrap();
        let (f, r) = (FileId::new(), RevisionId::new());
        let upload = s.sign(f, r, Grant::Upload, 1000);
        let t = Token::parse(&upload).unwrap();
        assert!(s.verify(&t, f, r, Grant::Upload, 0).is_ok());
        // The upload token with its flags flipped is not an upload token any more.
        let flipped = upload.replacen(".0.", ".1.", 1);
        let ft = Token::parse(&flipped).unwrap();
        assert!(s.verify(&ft, f, r, Grant::Upload, 0).is_err());
        let (exp, rest) = upload.split_once('.').unwrap();
        for variant in [
            format!("+{exp}.{rest}"),
            format!("0{exp}.{rest}"),
            upload.to_uppercase(),
            format!("{exp}.{}", rest.replacen('0', "00", 1)),
            format!("{upload}0"),
        ] {
            assert!(Token::parse(&variant).is_err(), "{variant}");
        }
        let download = s.sign(f, r, Grant::Download { attachment: true }, 1000);
        let dt = Token::parse(&download).unwrap();
        assert!(dt.attachment);
        let plain = Token::parse(&download.replacen(".1.", ".0.", 1)).unwrap();
        assert!(
            s.verify(&plain, f, r, Grant::Download { attachment: false }, 0)
                .is_err(),
            "the attachment flag cannot be removed"
        );
    }
}
