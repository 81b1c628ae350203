//! Development tokens: `trove token` signs HS256 tokens with the configured secret.

use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header, encode};
use serde_json::{Map, Value, json};

/// What a development token says.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub user: String,
    pub tenant: Option<String>,
    pub roles: Vec<String>,
    pub ttl: Duration,
}

/// Signs an HS256 token with `sub`, `exp`, `iat` and the configured tenant and roles claims.
pub fn issue(
    secret: &str,
    req: &TokenRequest,
    tenant_claim: &str,
    roles_claim: &str,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<String, String> {
    let now = chrono::Utc::now().timestamp();
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(req.user));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + req.ttl.as_secs() as i64));
    if let Some(t) = &req.tenant {
        claims.insert(tenant_claim.into(), json!(t));
    }
    claims.insert(roles_claim.into(), json!(req.roles));
    if let Some(iss) = issuer {
        claims.insert("iss".into(), json!(iss));
    }
    if let Some(aud) = audience {
        claims.insert("aud".into(), json!(aud));
    }
    encode(
        &Header::default(),
        &Value::Object(claims),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(|e| e.to_string())
}

/// Parses a duration such as `90s`, `15m`, `1h`, `7d` (a bare number is seconds).
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a duration such as 1h"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("'{s}' is not a duration such as 1h")),
    };
    if secs == 0 {
        return Err("the duration must be positive".into());
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("1h").unwrap().as_secs(), 3600);
        assert_eq!(parse_ttl("90").unwrap().as_secs(), 90);
        assert_eq!(parse_ttl("2d").unwrap().as_secs(), 172_800);
        assert!(parse_ttl("0").is_err());
        assert!(parse_ttl("1y").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
