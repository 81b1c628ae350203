//! Associations between files and the application's objects. Whoever may change a file may change
//! its associations.

use serde::Serialize;
use trove_core::{Association, EntityRef, FilePermission, Principal, time};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::service::files;
use crate::state::AppState;

pub async fn list(state: &AppState, p: &Principal, file: &str) -> ApiResult<Vec<Association>> {
    Ok(files::readable(state, p, file).await?.associations)
}

/// Adds an association; the bool says whether it is new.
pub async fn add(
    state: &AppState,
    p: &Principal,
    file: &str,
    e: EntityRef,
) -> ApiResult<(Association, bool)> {
    let f = files::changeable(state, p, file).await?;
    e.validate()?;
    Ok(state.meta.add_association(f.id, &e, time::now()).await?)
}

pub async fn remove(state: &AppState, p: &Principal, file: &str, id: &str) -> ApiResult<()> {
    let f = files::changeable(state, p, file).await?;
    let id = Uuid::parse_str(id).map_err(|_| ApiError::not_found("association"))?;
    if state.meta.delete_association(f.id, id).await? {
        Ok(())
    } else {
        Err(ApiError::not_found("association"))
    }
}

/// What removing an object's associations did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unlinked {
    pub removed: u64,
    pub deleted_files: Vec<String>,
}

/// Files of one object read per round trip.
const ENTITY_PAGE: u32 = 500;

/// Removes the object's associations with every file the caller may change (the caller's change
/// scope is applied in the query, before any limit, and paged through to the end); with
/// `delete_files`, deletes those of them left with no association. Files the caller may not change
/// are neither touched nor counted, so nothing is learnt about them.
pub async fn unlink_entity(
    state: &AppState,
    p: &Principal,
    e: EntityRef,
    delete_files: bool,
) -> ApiResult<Unlinked> {
    let scope = p.change_scope()?;
    e.validate()?;
    let mut out = Unlinked::default();
    let mut after = None;
    loop {
        let page = state
            .meta
            .files_of_entity(&e, &scope, after, ENTITY_PAGE)
            .await?;
        let Some(last) = page.last() else {
            break;
        };
        after = Some(last.id);
        let files: Vec<_> = page
            .into_iter()
            .filter(|f| p.file_permission(f) == FilePermission::Change)
            .collect();
        let ids: Vec<_> = files.iter().map(|f| f.id).collect();
        out.removed += state.meta.unlink_entity(&e, &ids).await?;
        if delete_files {
            for f in &files {
                let others = f.associations.iter().any(|a| {
                    a.entity_name != e.entity_name || a.entity_reference != e.entity_reference
                });
                if !others && files::remove(state, f.id, None).await?.is_some() {
                    out.deleted_files.push(f.id.to_string());
                }
            }
        }
    }
    Ok(out)
}
