//! Ordering and keyset cursors: the position after which the next page starts.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::param;
use crate::error::TroveError;
use crate::ids::FileId;
use crate::model::FileRecord;

/// The field a listing is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderBy {
    #[serde(rename = "createdAt")]
    CreatedAt,
    #[serde(rename = "updatedAt")]
    UpdatedAt,
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "size")]
    Size,
}

impl OrderBy {
    pub fn parse(s: &str) -> Result<Self, TroveError> {
        match s {
            "createdAt" => Ok(Self::CreatedAt),
            "updatedAt" => Ok(Self::UpdatedAt),
            "name" => Ok(Self::Name),
            "size" => Ok(Self::Size),
            _ => Err(param(
                "orderBy",
                "must be one of createdAt, updatedAt, name, size",
            )),
        }
    }

    /// This field's value in `f`, as a cursor stores it.
    pub fn key_of(self, f: &FileRecord) -> CursorValue {
        match self {
            Self::CreatedAt => CursorValue::Int(f.created_at.timestamp_millis()),
            Self::UpdatedAt => CursorValue::Int(f.updated_at.timestamp_millis()),
            Self::Name => CursorValue::Text(f.name.clone()),
            Self::Size => CursorValue::Int(f.size as i64),
        }
    }
}

/// Ascending or descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// The value of the ordering field at a cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorValue {
    Int(i64),
    Text(String),
}

/// A position in a listing: the last row's ordering value and id. Opaque to clients.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "o")]
    pub order_by: OrderBy,
    #[serde(rename = "d")]
    pub descending: bool,
    #[serde(rename = "v")]
    pub value: CursorValue,
    #[serde(rename = "i")]
    pub id: FileId,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Result<Self, TroveError> {
        URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| param("cursor", "is not a cursor from this listing"))
    }
}
