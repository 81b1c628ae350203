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

/// A parsed, not yet verified token: `{expires}.{flags}.{signature hex}`.
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

fn message(file: FileId, revision: RevisionId, grant: Grant, expires: i64) -> String {
    match grant {
        Grant::Download { attachment } => {
            format!(
                "download\n{file}\n{revision}\n{expires}\n{}",
                u8::from(attachment)
            )
        }
        Grant::Upload => format!("upload\n{file}\n{revision}\n{expires}"),
    }
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
        let sig = Self::mac(&self.keys[0], &message(file, revision, grant, expires))
            .finalize()
            .into_bytes();
        let flags = match grant {
            Grant::Download { attachment: true } => "1",
            _ => "0",
        };
        format!("{expires}.{flags}.{}", hex::encode(sig))
    }

    /// Checks a token against the file's current revision: 403 `invalid_signature` when any key
    /// fails to verify it (tampered, foreign, or for replaced content), then 410 `url_expired`.
    pub fn verify(
        &self,
        token: &Token,
        file: FileId,
        revision: RevisionId,
        grant: Grant,
        now: i64,
    ) -> Result<(), ApiError> {
        let msg = message(file, revision, grant, token.expires);
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
}
