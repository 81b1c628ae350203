//! `trove buckets …` and `trove categories …`: the same four actions on both, with the settings
//! given as a JSON object of the API's field names (`--set '{"maxUploadFileSize": 1000000}'`).

use clap::Subcommand;
use reqwest::Method;
use serde_json::Value;

use super::files::{print_table, segment};
use super::{Api, Failure, Outcome, print_json};

#[derive(Debug, Subcommand)]
pub enum BucketsAction {
    /// List the buckets.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Create a bucket.
    Create {
        id: String,
        /// Its settings, as a JSON object (`maxUploadFileSize`, `allowedMimeTypes`, …).
        #[arg(long)]
        set: Option<String>,
    },
    /// Change a bucket's settings.
    Update {
        id: String,
        #[arg(long, required = true)]
        set: String,
    },
    /// Delete a bucket (`--force`: with its files).
    Rm {
        id: String,
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CategoriesAction {
    /// List the categories.
    Ls {
        #[arg(long)]
        json: bool,
    },
    /// Create a category.
    Create {
        key: String,
        /// Its settings, as a JSON object (`name`, `maxSize`, `allowedMimeTypes`, …).
        #[arg(long)]
        set: Option<String>,
    },
    /// Change a category's settings.
    Update {
        key: String,
        #[arg(long, required = true)]
        set: String,
    },
    /// Delete a category.
    Rm { key: String },
}

fn settings(set: Option<&str>, id_field: &str, id: &str) -> Outcome<Value> {
    let mut body: Value = match set {
        None => Value::Object(Default::default()),
        Some(s) => serde_json::from_str(s)
            .map_err(|e| Failure::Other(format!("--set is not JSON: {e}")))?,
    };
    let object = body
        .as_object_mut()
        .ok_or_else(|| Failure::Other("--set must be a JSON object".into()))?;
    if !id_field.is_empty() {
        object.insert(id_field.to_owned(), Value::String(id.to_owned()));
    }
    Ok(body)
}

pub async fn buckets(api: &Api, action: BucketsAction) -> Outcome<()> {
    match action {
        BucketsAction::Ls { json } => {
            let listed = api.json(api.request(Method::GET, "/v1/buckets")).await?;
            let list = items(&listed, "buckets");
            if json {
                print_json(&Value::Array(list));
                return Ok(());
            }
            let rows: Vec<[String; 3]> = list
                .iter()
                .map(|b| {
                    [
                        text(&b["id"]),
                        text(&b["maxUploadFileSize"]),
                        text(&b["allowedMimeTypes"]),
                    ]
                })
                .collect();
            print_table(&["ID", "MAX SIZE", "ALLOWED TYPES"], &rows);
            Ok(())
        }
        BucketsAction::Create { id, set } => {
            let body = settings(set.as_deref(), "id", &id)?;
            print_json(
                &api.json(api.request(Method::POST, "/v1/buckets").json(&body))
                    .await?,
            );
            Ok(())
        }
        BucketsAction::Update { id, set } => {
            let body = settings(Some(&set), "", &id)?;
            let path = format!("/v1/buckets/{}", segment(&id)?);
            print_json(
                &api.json(api.request(Method::PATCH, &path).json(&body))
                    .await?,
            );
            Ok(())
        }
        BucketsAction::Rm { id, force } => {
            let path = format!("/v1/buckets/{}", segment(&id)?);
            let req = api.request(Method::DELETE, &path);
            let req = if force {
                req.query(&[("force", "true")])
            } else {
                req
            };
            api.send(req).await?;
            println!("{id}");
            Ok(())
        }
    }
}

pub async fn categories(api: &Api, action: CategoriesAction) -> Outcome<()> {
    match action {
        CategoriesAction::Ls { json } => {
            let listed = api.json(api.request(Method::GET, "/v1/categories")).await?;
            let list = items(&listed, "categories");
            if json {
                print_json(&Value::Array(list));
                return Ok(());
            }
            let rows: Vec<[String; 4]> = list
                .iter()
                .map(|c| {
                    [
                        text(&c["key"]),
                        text(&c["name"]),
                        text(&c["maxSize"]),
                        text(&c["allowedMimeTypes"]),
                    ]
                })
                .collect();
            print_table(&["KEY", "NAME", "MAX SIZE", "ALLOWED TYPES"], &rows);
            Ok(())
        }
        CategoriesAction::Create { key, set } => {
            let body = settings(set.as_deref(), "key", &key)?;
            print_json(
                &api.json(api.request(Method::POST, "/v1/categories").json(&body))
                    .await?,
            );
            Ok(())
        }
        CategoriesAction::Update { key, set } => {
            let body = settings(Some(&set), "", &key)?;
            let path = format!("/v1/categories/{}", segment(&key)?);
            print_json(
                &api.json(api.request(Method::PATCH, &path).json(&body))
                    .await?,
            );
            Ok(())
        }
        CategoriesAction::Rm { key } => {
            let path = format!("/v1/categories/{}", segment(&key)?);
            api.send(api.request(Method::DELETE, &path)).await?;
            println!("{key}");
            Ok(())
        }
    }
}

/// The list of an answer: the array itself, or the array under `field`.
fn items(answer: &Value, field: &str) -> Vec<Value> {
    answer
        .as_array()
        .or_else(|| answer[field].as_array())
        .cloned()
        .unwrap_or_default()
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}
