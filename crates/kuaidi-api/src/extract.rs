//! Wrapper extractors that turn axum's rejections into `ApiError`, so bad JSON, queries and paths answer in the one
//! error shape.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};

use crate::error::{ApiError, Code};

/// `axum::Json` with `ApiError` rejections.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

/// A JSON body read as a [`serde_json::Value`], parsed straight from its bytes. [`AppJson`] (axum's `Json`) tracks the
/// path of every value it reads, for error messages a `Value` never needs; on a large EPCIS document that tracking
/// cost as much as the parse. Same checks and errors as [`AppJson`]: the content type, the body limit, the syntax.
#[derive(Debug)]
pub struct JsonValue(pub serde_json::Value);

impl<S: Send + Sync> FromRequest<S> for JsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<JsonValue, ApiError> {
        let JsonBytes(bytes) = JsonBytes::from_request(req, state).await?;
        parse_json(&bytes).map(JsonValue)
    }
}

/// A body sent as JSON, not yet parsed: the content type and the body limit are checked as for [`AppJson`], and
/// [`parse_json`] gives its syntax errors. For a handler that parses the body its own way.
#[derive(Debug)]
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<JsonBytes, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                "The body must be sent with `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                Code::PayloadTooLarge,
                "The request body is larger than the limit.\nHint: send large volumes as NDJSON to `/v1/ingest`.",
            ),
            _ => ApiError::new(Code::InvalidJson, format!("The body could not be read: {}.", rejection.body_text())),
        })?;
        Ok(JsonBytes(bytes))
    }
}

/// Parses a JSON body, with the error [`AppJson`] gives for bad syntax.
pub fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| {
        ApiError::new(
            Code::InvalidJson,
            format!("The body is not valid JSON: Failed to parse the request body as JSON: {err}."),
        )
    })
}

/// `application/json`, or any `application/…+json` (such as EPCIS's `application/ld+json`), as axum's `Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(Ok(value)) = headers.get(header::CONTENT_TYPE).map(|value| value.to_str()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `axum::extract::Query` with `ApiError` rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct AppQuery<T>(pub T);

/// `axum::extract::Path` with `ApiError` rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct AppPath<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
                Code::PayloadTooLarge,
                "The request body is larger than the limit.\nHint: send large volumes as NDJSON to `/v1/ingest`.",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
                Code::UnsupportedMediaType,
                "The body must be sent with `Content-Type: application/json`.",
            ),
            _ => ApiError::new(Code::InvalidJson, format!("The body is not valid JSON: {}.", rejection.body_text())),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> ApiError {
        ApiError::new(Code::InvalidQuery, format!("The query string is not valid: {}.", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> ApiError {
        ApiError::new(Code::InvalidPath, format!("The path is not valid: {}.", rejection.body_text()))
    }
}

/// The client's address, or `0.0.0.0` when the server was not started with connection info (in-process tests).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ClientAddr, Self::Rejection> {
        let addr = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        Ok(ClientAddr(addr.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
}
