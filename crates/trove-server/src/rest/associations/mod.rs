//! `/v1/files/{id}/associations` and `/v1/associations`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use trove_core::{Association, EntityRef};

use crate::auth::Caller;
use crate::error::ApiResult;
use crate::rest::Query;
use crate::service::associations::{self, Unlinked};
use crate::state::AppState;

#[derive(Debug, Serialize)]
pub struct AssociationList {
    associations: Vec<Association>,
}

/// `GET /v1/files/{id}/associations`.
pub async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<AssociationList>> {
    Ok(Json(AssociationList {
        associations: associations::list(&state, &p, &id).await?,
    }))
}

/// `POST /v1/files/{id}/associations` → 201 when new, 200 with the existing one otherwise.
pub async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    crate::rest::Json(e): crate::rest::Json<EntityRef>,
) -> ApiResult<(StatusCode, Json<Association>)> {
    let (a, new) = associations::add(&state, &p, &id, e).await?;
    Ok((
        if new {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        Json(a),
    ))
}

/// `DELETE /v1/files/{id}/associations/{associationId}` → 204.
pub async fn delete(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path((id, association)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    associations::remove(&state, &p, &id, &association).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityQuery {
    entity_name: String,
    entity_reference: String,
    #[serde(default)]
    delete_files: bool,
}

/// `DELETE /v1/associations?entityName=&entityReference=[&deleteFiles=true]`.
pub async fn delete_entity(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(q): Query<EntityQuery>,
) -> ApiResult<Json<Unlinked>> {
    let e = EntityRef {
        entity_name: q.entity_name,
        entity_reference: q.entity_reference,
    };
    Ok(Json(
        associations::unlink_entity(&state, &p, e, q.delete_files).await?,
    ))
}
