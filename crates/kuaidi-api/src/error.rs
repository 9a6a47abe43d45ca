//! `ApiError`, the one error every handler returns, and its JSON body `{"code","message","type","link"}`.
//!
//! Messages of 4xx errors are full sentences for the caller, with the offending value in backticks. 5xx errors carry a
//! generic message; the real cause goes into a response extension, which the logging middleware writes to the log
//! inside the request's span. SQL, paths and stack traces never reach a response.

pub mod codes;

use axum::response::{IntoResponse, Response};
use kuaidi_formats::DecodeError;
use kuaidi_model::ValidationError;
use kuaidi_store::{ErrorKind, StoreError};
use serde::Serialize;
use utoipa::ToSchema;

pub use codes::{Code, ErrorType};

/// An error answered to a caller.
#[derive(Debug)]
pub struct ApiError {
    /// The stable code.
    pub code: Code,
    /// The message for the caller.
    pub message: String,
    /// For 5xx errors: the cause, logged and never sent.
    internal: Option<String>,
}

/// The cause of a 5xx response, carried to the logging middleware as a response extension.
#[derive(Debug, Clone)]
pub struct InternalCause(pub String);

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable snake_case code; see `docs/errors.md`.
    #[schema(example = "invalid_field")]
    pub code: &'static str,
    /// What went wrong, and how to fix it when there is a fix.
    pub message: String,
    /// `invalid_request`, `auth`, `internal` or `system`.
    #[serde(rename = "type")]
    pub err_type: &'static str,
    /// Where the code is documented.
    pub link: String,
}

impl ApiError {
    /// A new error with a caller-facing message.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError { code, message: message.into(), internal: None }
    }

    /// An internal error: the caller sees a generic message, the log sees `cause`.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            code: Code::Internal,
            message: "The hub failed to answer this request. The cause is in its log.".into(),
            internal: Some(cause.to_string()),
        }
    }

    /// The link to the code's documentation.
    pub fn link(code: Code) -> String {
        format!("docs/errors.md#{}", code.name())
    }

    /// The body as it is sent.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.name(),
            message: self.message.clone(),
            err_type: self.code.err_type().as_str(),
            link: ApiError::link(self.code),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.name(), self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.code.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

/// The API code of a validation error.
pub fn validation_code(err: &ValidationError) -> Code {
    match err {
        ValidationError::Missing { .. } => Code::MissingField,
        ValidationError::UnknownCarrier { .. } => Code::UnknownCarrier,
        ValidationError::UnknownFacility { .. } => Code::UnknownFacility,
        ValidationError::UnknownDivision { .. } => Code::UnknownDivision,
        ValidationError::TimeInFuture { .. } => Code::TimeInFuture,
        ValidationError::CarrierMismatch { .. } => Code::CarrierMismatch,
        _ => Code::InvalidField,
    }
}

/// The API code of a decode error.
pub fn decode_code(err: &DecodeError) -> Code {
    match err {
        DecodeError::Syntax(_) => Code::InvalidJson,
        DecodeError::Field(err) => validation_code(err),
        _ => Code::InvalidField,
    }
}

fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

impl From<ValidationError> for ApiError {
    fn from(err: ValidationError) -> ApiError {
        ApiError::new(validation_code(&err), sentence(&err.to_string()))
    }
}

impl From<DecodeError> for ApiError {
    fn from(err: DecodeError) -> ApiError {
        ApiError::new(decode_code(&err), sentence(&err.to_string()))
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err.kind() {
            ErrorKind::Unavailable => ApiError {
                code: Code::Unavailable,
                message: "The hub's database is busy or unreachable. Retry in a few seconds.".into(),
                internal: Some(err.to_string()),
            },
            _ => ApiError::internal(err),
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(err: tokio::task::JoinError) -> ApiError {
        ApiError::internal(format!("a blocking task failed: {err}"))
    }
}
