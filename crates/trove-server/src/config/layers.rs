//! Where the values come from: the TOML file, then the `TROVE_*` environment variables, each
//! turned into text under its lower-case key for [`Config::from_values`] to parse.

use std::collections::BTreeMap;
use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Toml};
use figment::value::Value;

use super::settings::env_key;
use super::{Config, ConfigError, bad};

impl Config {
    /// Loads the layers: defaults, the TOML file (if given), then the process environment.
    pub fn load(toml_file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(path) = toml_file {
            if !path.exists() {
                return Err(bad(
                    "--config",
                    format!("{} does not exist", path.display()),
                ));
            }
            figment = figment.merge(Toml::file(path));
        }
        let dict: BTreeMap<String, Value> = figment
            .extract()
            .map_err(|e| bad("configuration", e.to_string().replace('\n', " ")))?;
        let mut values: BTreeMap<String, String> = dict
            .into_iter()
            .filter_map(|(k, v)| text(&v).map(|t| (k.to_ascii_lowercase(), t)))
            .collect();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| n.starts_with("TROVE_")) else {
                continue;
            };
            let value = value
                .into_string()
                .map_err(|_| bad(name, "is not valid UTF-8"))?;
            values.insert(env_key(name)?, value);
        }
        Self::from_values(&values)
    }
}

/// A scalar configuration value as text; tables and arrays are not configuration values here.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(_, s) => Some(s.clone()),
        Value::Char(_, c) => Some(c.to_string()),
        Value::Bool(_, b) => Some(b.to_string()),
        Value::Num(_, n) => n
            .to_u128()
            .map(|u| u.to_string())
            .or_else(|| n.to_i128().map(|i| i.to_string()))
            .or_else(|| n.to_f64().map(|f| f.to_string())),
        Value::Array(_, items) => Some(items.iter().filter_map(text).collect::<Vec<_>>().join(",")),
        _ => None,
    }
}
