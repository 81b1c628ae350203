//! Named profiles in `{config dir}/trove/cli.toml`, so that a terminal need not repeat the URL and
//! credentials:
//!
//! ```toml
//! [profiles.default]
//! url = "http://127.0.0.1:8080"
//! admin_key = "…"
//!
//! [profiles.staging]
//! url = "https://files.staging.example.com"
//! token = "…"
//! ```
//!
//! The config directory is `$XDG_CONFIG_HOME`, else `$HOME/.config`; `TROVE_CLI_CONFIG` names
//! another file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::{Failure, Outcome};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub url: Option<String>,
    pub token: Option<String>,
    pub admin_key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("TROVE_CLI_CONFIG") {
        return Some(PathBuf::from(p));
    }
    let dir = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(dir.join("trove").join("cli.toml"))
}

/// The profile `name`: empty when there is no file; an error when the file is broken, or when a
/// profile other than `default` is asked for and missing.
pub fn load(name: &str) -> Outcome<Profile> {
    let Some(path) = path() else {
        return Ok(Profile::default());
    };
    if !path.exists() {
        return missing(name, &path, Profile::default());
    }
    // The same TOML reader as the server's configuration file.
    use figment::providers::Format;
    let mut file: File = figment::Figment::from(figment::providers::Toml::file_exact(&path))
        .extract()
        .map_err(|e| Failure::Other(format!("{}: {e}", path.display())))?;
    match file.profiles.remove(name) {
        Some(p) => Ok(p),
        None => missing(name, &path, Profile::default()),
    }
}

fn missing(name: &str, path: &std::path::Path, empty: Profile) -> Outcome<Profile> {
    if name == "default" {
        Ok(empty)
    } else {
        Err(Failure::Other(format!(
            "no profile '{name}' in {}",
            path.display()
        )))
    }
}
