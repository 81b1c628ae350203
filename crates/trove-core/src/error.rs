//! Error codes: each is a stable snake_case string that clients match on, paired with its HTTP status.
//!
//! Policy: a [`TroveError`] carries a code and a message that is safe to show to the caller. Internal
//! failures use [`ErrorCode::Internal`]; their detail goes to the log, never into the message.

use std::fmt;

/// A stable, machine-readable error code with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotFound,
    InvalidRequest,
    InvalidName,
    FileTooLarge,
    FileTooSmall,
    PayloadTooLarge,
    MimeTypeNotAllowed,
    UnsupportedMediaType,
    PreconditionFailed,
    RangeNotSatisfiable,
    BucketNotEmpty,
    Conflict,
    UnknownCategory,
    CategoryInUse,
    PresignedUrlsDisabled,
    InvalidSignature,
    UrlExpired,
    MethodNotAllowed,
    HeadersTooLarge,
    RequestTimeout,
    UploadExpired,
    UploadLocked,
    ChecksumMismatch,
    UnsupportedVersion,
    NotAnImage,
    ImageTooLarge,
    Busy,
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The code as sent in `{"error":{"code":…}}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidName => "invalid_name",
            Self::FileTooLarge => "file_too_large",
            Self::FileTooSmall => "file_too_small",
            Self::PayloadTooLarge => "payload_too_large",
            Self::MimeTypeNotAllowed => "mime_type_not_allowed",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PreconditionFailed => "precondition_failed",
            Self::RangeNotSatisfiable => "range_not_satisfiable",
            Self::BucketNotEmpty => "bucket_not_empty",
            Self::Conflict => "conflict",
            Self::UrlExpired => "url_expired",
            Self::InvalidSignature => "invalid_signature",
            Self::PresignedUrlsDisabled => "presigned_urls_disabled",
            Self::CategoryInUse => "category_in_use",
            Self::UnknownCategory => "unknown_category",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::HeadersTooLarge => "headers_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::UploadExpired => "upload_expired",
            Self::UploadLocked => "upload_locked",
            Self::ChecksumMismatch => "checksum_mismatch",
            Self::UnsupportedVersion => "unsupported_version",
            Self::NotAnImage => "not_an_image",
            Self::ImageTooLarge => "image_too_large",
            Self::Busy => "busy",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::InvalidRequest | Self::InvalidName | Self::FileTooSmall => 400,
            Self::FileTooLarge | Self::PayloadTooLarge => 413,
            Self::MimeTypeNotAllowed | Self::UnsupportedMediaType => 415,
            Self::PreconditionFailed => 412,
            Self::RangeNotSatisfiable => 416,
            Self::BucketNotEmpty | Self::Conflict => 409,
            Self::UnknownCategory => 400,
            Self::CategoryInUse => 409,
            Self::PresignedUrlsDisabled => 403,
            Self::InvalidSignature => 403,
            Self::UrlExpired => 410,
            Self::MethodNotAllowed => 405,
            Self::HeadersTooLarge => 431,
            Self::RequestTimeout => 408,
            Self::UploadExpired => 410,
            Self::UploadLocked => 423,
            // The status the tus checksum extension fixes.
            Self::ChecksumMismatch => 460,
            Self::UnsupportedVersion => 412,
            Self::NotAnImage => 400,
            Self::ImageTooLarge => 422,
            Self::Busy => 503,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }
}

impl ErrorCode {
    /// The code for an error status produced outside Trove's handlers (a framework rejection), so
    /// that it too can be answered with Trove's error body.
    pub fn for_status(status: u16) -> Self {
        match status {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            408 => Self::RequestTimeout,
            423 => Self::UploadLocked,
            409 => Self::Conflict,
            412 => Self::PreconditionFailed,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            416 => Self::RangeNotSatisfiable,
            431 => Self::HeadersTooLarge,
            503 => Self::Unavailable,
            400..=499 => Self::InvalidRequest,
            _ => Self::Internal,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A domain error: a code and a message fit for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TroveError {
    pub code: ErrorCode,
    pub message: String,
}

impl TroveError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_statuses_are_errors() {
        for code in [
            ErrorCode::Unauthorized,
            ErrorCode::Forbidden,
            ErrorCode::NotFound,
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidName,
            ErrorCode::FileTooLarge,
            ErrorCode::FileTooSmall,
            ErrorCode::PayloadTooLarge,
            ErrorCode::MimeTypeNotAllowed,
            ErrorCode::UnsupportedMediaType,
            ErrorCode::PreconditionFailed,
            ErrorCode::RangeNotSatisfiable,
            ErrorCode::BucketNotEmpty,
            ErrorCode::Conflict,
            ErrorCode::UrlExpired,
            ErrorCode::InvalidSignature,
            ErrorCode::PresignedUrlsDisabled,
            ErrorCode::CategoryInUse,
            ErrorCode::UnknownCategory,
            ErrorCode::MethodNotAllowed,
            ErrorCode::HeadersTooLarge,
            ErrorCode::RequestTimeout,
            ErrorCode::UploadExpired,
            ErrorCode::UploadLocked,
            ErrorCode::ChecksumMismatch,
            ErrorCode::UnsupportedVersion,
            ErrorCode::NotAnImage,
            ErrorCode::ImageTooLarge,
            ErrorCode::Busy,
            ErrorCode::Unavailable,
            ErrorCode::Internal,
        ] {
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }
}
