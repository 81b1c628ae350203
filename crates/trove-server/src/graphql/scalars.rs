//! Scalars named as Hasura (and so Nhost and Rolebase) name them, so their queries run unchanged:
//! `uuid`, `jsonb`, `bigint` (a 64-bit JSON number, for sizes) and `timestamptz`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{DateTime, SecondsFormat, Utc};

/// A UUID as a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uuid(pub uuid::Uuid);

#[Scalar(name = "uuid")]
impl ScalarType for Uuid {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => uuid::Uuid::parse_str(s)
                .map(Uuid)
                .map_err(|_| InputValueError::custom("not a UUID")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// Any JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct Jsonb(pub serde_json::Value);

#[Scalar(name = "jsonb")]
impl ScalarType for Jsonb {
    fn parse(value: Value) -> InputValueResult<Self> {
        value
            .into_json()
            .map(Jsonb)
            .map_err(|_| InputValueError::custom("not JSON"))
    }

    fn to_value(&self) -> Value {
        Value::from_json(self.0.clone()).unwrap_or(Value::Null)
    }
}

/// A non-negative 64-bit integer, sent as a JSON number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bigint(pub u64);

#[Scalar(name = "bigint")]
impl ScalarType for Bigint {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_u64()
                .map(Bigint)
                .ok_or_else(|| InputValueError::custom("not a non-negative integer")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// An RFC 3339 timestamp in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamptz(pub DateTime<Utc>);

#[Scalar(name = "timestamptz")]
impl ScalarType for Timestamptz {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| Timestamptz(t.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("not an RFC 3339 timestamp")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Millis, true))
    }
}
