//! How a node is operated: its shutdown (`TROVE_SHUTDOWN_GRACE`).

use super::{ConfigError, bad};

#[derive(Debug, Clone)]
pub struct Operations {
    /// Seconds requests in flight get to finish after SIGTERM or SIGINT (`TROVE_SHUTDOWN_GRACE`).
    pub shutdown_grace_secs: u64,
}

/// Reads the settings through `get` (lower-case keys without `TROVE_`).
pub(super) fn operations(get: &dyn Fn(&str) -> Option<String>) -> Result<Operations, ConfigError> {
    let shutdown_grace_secs = match get("shutdown_grace") {
        None => 30,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= 24 * 3600)
            .ok_or_else(|| {
                bad(
                    "TROVE_SHUTDOWN_GRACE",
                    format!("'{v}' is not a number of seconds from 0 to 86400"),
                )
            })?,
    };
    Ok(Operations {
        shutdown_grace_secs,
    })
}
