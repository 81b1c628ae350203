//! `TROVE_JWT_SECRET` in either form: a raw HS256 secret, or the JSON that Nhost and Hasura use
//! (`{"type":"HS256","key":"…"}`, or `RS256`/`ES256` with `key` a PEM public key, optionally with
//! `claims_namespace`), so that an Nhost project's secret can be pasted as it is.

use serde::Deserialize;

use super::{ConfigError, bad};

const VAR: &str = "TROVE_JWT_SECRET";

/// The keys a `TROVE_JWT_SECRET` value gives.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct SecretSetting {
    pub hs256: Option<String>,
    pub public_key_pem: Option<String>,
    pub claims_namespace: Option<String>,
}

#[derive(Deserialize)]
struct HasuraSecret {
    #[serde(rename = "type")]
    kind: String,
    key: String,
    claims_namespace: Option<String>,
}

pub(super) fn secret_setting(value: Option<String>) -> Result<SecretSetting, ConfigError> {
    let Some(value) = value else {
        return Ok(SecretSetting::default());
    };
    if !value.trim_start().starts_with('{') {
        check_hs256(&value)?;
        return Ok(SecretSetting {
            hs256: Some(value),
            ..SecretSetting::default()
        });
    }
    let parsed: HasuraSecret = serde_json::from_str(&value).map_err(|e| {
        bad(
            VAR,
            format!("looks like JSON but is not {{\"type\", \"key\"}}: {e}"),
        )
    })?;
    let mut setting = SecretSetting {
        claims_namespace: parsed.claims_namespace,
        ..SecretSetting::default()
    };
    match parsed.kind.as_str() {
        "HS256" => {
            check_hs256(&parsed.key)?;
            setting.hs256 = Some(parsed.key);
        }
        "RS256" | "ES256" if parsed.key.trim_start().starts_with("-----BEGIN") => {
            setting.public_key_pem = Some(parsed.key);
        }
        "RS256" | "ES256" => {
            return Err(bad(
                VAR,
                "the key of an RS256 or ES256 secret must be a PEM public key",
            ));
        }
        other => {
            return Err(bad(
                VAR,
                format!("type {other} is not supported (HS256, RS256 or ES256)"),
            ));
        }
    }
    Ok(setting)
}

fn check_hs256(secret: &str) -> Result<(), ConfigError> {
    if secret.len() < 32 {
        return Err(bad(
            VAR,
            format!(
                "is {} bytes; an HS256 secret must be at least 32 bytes (e.g. openssl rand -hex 32)",
                secret.len()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_raw_secret_is_hs256() {
        let s = secret_setting(Some(LONG.into())).unwrap();
        assert_eq!(s.hs256.as_deref(), Some(LONG));
        assert!(secret_setting(Some("short".into())).is_err());
        assert_eq!(secret_setting(None).unwrap(), SecretSetting::default());
    }

    #[test]
    fn nhost_json_secrets() {
        let hs = secret_setting(Some(format!(r#"{{"type":"HS256","key":"{LONG}"}}"#))).unwrap();
        assert_eq!(hs.hs256.as_deref(), Some(LONG));
        let rs = secret_setting(Some(
            r#"{"type":"RS256","key":"-----BEGIN PUBLIC KEY-----\nAA\n-----END PUBLIC KEY-----","claims_namespace":"https://example.com/claims"}"#.into(),
        ))
        .unwrap();
        assert!(rs.public_key_pem.unwrap().starts_with("-----BEGIN"));
        assert_eq!(
            rs.claims_namespace.as_deref(),
            Some("https://example.com/claims")
        );
        for bad in [
            r#"{"type":"HS256","key":"short"}"#,
            r#"{"type":"HS512","key":"0123456789abcdef0123456789abcdef"}"#,
            r#"{"type":"RS256","key":"not a pem"}"#,
            r#"{"key":"x"}"#,
        ] {
            let e = secret_setting(Some(bad.into())).unwrap_err();
            assert_eq!(e.var, VAR, "{bad}");
        }
    }
}
