//! `GET /v1/me`: who the credentials belong to and what they may manage, as the access rules
//! decide it, so that a client (the console) offers only what will be allowed. The server's
//! backends are told to the admin key only.
//!
//! Errors: 401 `unauthorized` without credentials or with bad ones.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use trove_core::access::Principal;

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::state::AppState;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// `admin` (the admin key) or `user`.
    kind: &'static str,
    user_id: Option<String>,
    tenant_id: Option<String>,
    roles: Vec<String>,
    manage_buckets: bool,
    manage_categories: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<ServerInfo>,
}

#[derive(Debug, Serialize)]
pub struct ServerInfo {
    version: &'static str,
    /// `sqlite` or `postgres`.
    database: &'static str,
    /// `local`, `s3` or `memory`.
    storage: &'static str,
}

pub async fn handler(State(state): State<AppState>, Caller(p): Caller) -> ApiResult<Json<Me>> {
    p.require_authenticated()?;
    let manage = p.require_admin().is_ok();
    let (kind, user_id, tenant_id, roles) = match &p {
        Principal::User(u) => (
            "user",
            Some(u.user_id.0.clone()),
            u.tenant_id.as_ref().map(|t| t.0.clone()),
            u.roles.clone(),
        ),
        _ => ("admin", None, None, Vec::new()),
    };
    let server = manage.then(|| ServerInfo {
        version: env!("CARGO_PKG_VERSION"),
        database: if state.config.database_url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        },
        storage: state.blobs.kind(),
    });
    Ok(Json(Me {
        kind,
        user_id,
        tenant_id,
        roles,
        manage_buckets: manage,
        manage_categories: manage,
        server,
    }))
}
