//! How a node is operated: its shutdown (`TROVE_SHUTDOWN_GRACE`), its metrics (`TROVE_METRICS_*`)
//! and the format of its logs (`TROVE_LOG_FORMAT`).

use std::net::SocketAddr;

use super::{ConfigError, bad};

#[derive(Debug, Clone)]
pub struct Operations {
    /// Seconds requests in flight get to finish after SIGTERM or SIGINT (`TROVE_SHUTDOWN_GRACE`).
    pub shutdown_grace_secs: u64,
    /// A bearer token that may read `/metrics` besides the admin key (`TROVE_METRICS_TOKEN`).
    pub metrics_token: Option<String>,
    /// A second listener that serves `/metrics` to anyone who reaches it (`TROVE_METRICS_ADDR`).
    pub metrics_addr: Option<SocketAddr>,
    /// Seconds between two readings of the stored figures from the database
    /// (`TROVE_METRICS_REFRESH`).
    pub metrics_refresh_secs: u64,
    /// `text` or `json` (`TROVE_LOG_FORMAT`).
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// For people reading a terminal.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The shortest metrics token accepted: it is a password, and a short one is guessed.
pub const METRICS_TOKEN_MIN_CHARS: usize = 16;

/// Reads the settings through `get` (lower-case keys without `TROVE_`).
pub(super) fn operations(get: &dyn Fn(&str) -> Option<String>) -> Result<Operations, ConfigError> {
    let seconds = |key: &str, var: &str, default: u64, min: u64, max: u64| match get(key) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| {
                bad(
                    var,
                    format!("'{v}' is not a number of seconds from {min} to {max}"),
                )
            }),
    };
    let shutdown_grace_secs = seconds("shutdown_grace", "TROVE_SHUTDOWN_GRACE", 30, 0, 86_400)?;
    let metrics_refresh_secs = seconds("metrics_refresh", "TROVE_METRICS_REFRESH", 60, 1, 3_600)?;
    let metrics_token = match get("metrics_token") {
        None => None,
        Some(t)
            if t.chars().count() < METRICS_TOKEN_MIN_CHARS
                || t.chars().any(char::is_whitespace) =>
        {
            return Err(bad(
                "TROVE_METRICS_TOKEN",
                format!("must be at least {METRICS_TOKEN_MIN_CHARS} characters without spaces"),
            ));
        }
        Some(t) => Some(t),
    };
    let metrics_addr = match get("metrics_addr") {
        None => None,
        Some(v) => Some(v.parse::<SocketAddr>().map_err(|_| {
            bad(
                "TROVE_METRICS_ADDR",
                format!("'{v}' is not an address such as 127.0.0.1:9090"),
            )
        })?),
    };
    let log_format = match get("log_format").as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(bad(
                "TROVE_LOG_FORMAT",
                format!("'{other}' is not text or json"),
            ));
        }
    };
    Ok(Operations {
        shutdown_grace_secs,
        metrics_token,
        metrics_addr,
        metrics_refresh_secs,
        log_format,
    })
}
