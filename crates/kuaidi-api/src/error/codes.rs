//! The table of error codes. Each row is `Code, name, type, HTTP status, meaning`; the rest (names, links, docs) is derived.
//!
//! **Invariant**: codes are never renamed or reused. Add rows; never edit a code's name.

use axum::http::StatusCode;

/// Who is at fault, as the `type` of the error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    /// The request was wrong; fix it and retry.
    InvalidRequest,
    /// The caller lacks a valid key or the right to act.
    Auth,
    /// The hub failed; retry later.
    Internal,
    /// The hub is overloaded or its database unreachable; retry later.
    System,
}

impl ErrorType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request",
            ErrorType::Auth => "auth",
            ErrorType::Internal => "internal",
            ErrorType::System => "system",
        }
    }
}

macro_rules! make_error_codes {
    ($($code:ident, $name:literal, $err_type:ident, $status:ident, $doc:literal;)*) => {
        /// Every error code the API answers with.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $(#[doc = $doc] $code,)*
        }

        impl Code {
            /// Every code, in table order.
            pub const ALL: &'static [Code] = &[$(Code::$code,)*];

            /// The snake_case name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Code::$code => $name,)*
                }
            }

            /// Who is at fault.
            pub fn err_type(self) -> ErrorType {
                match self {
                    $(Code::$code => ErrorType::$err_type,)*
                }
            }

            /// The HTTP status.
            pub fn status(self) -> StatusCode {
                match self {
                    $(Code::$code => StatusCode::$status,)*
                }
            }

            /// What the code means, for `docs/errors.md`.
            pub fn doc(self) -> &'static str {
                match self {
                    $(Code::$code => $doc,)*
                }
            }
        }
    };
}

make_error_codes! {
    InvalidJson, "invalid_json", InvalidRequest, BAD_REQUEST, "The body is not valid JSON (or a line of an NDJSON stream is not).";
    InvalidQuery, "invalid_query", InvalidRequest, BAD_REQUEST, "A query-string parameter is missing or malformed.";
    InvalidPath, "invalid_path", InvalidRequest, BAD_REQUEST, "A path segment is malformed, such as a waybill number with spaces.";
    MissingField, "missing_field", InvalidRequest, UNPROCESSABLE_ENTITY, "A required field of a record is absent or null.";
    InvalidField, "invalid_field", InvalidRequest, UNPROCESSABLE_ENTITY, "A field of a record is of the wrong type, malformed or out of range.";
    UnknownCarrier, "unknown_carrier", InvalidRequest, UNPROCESSABLE_ENTITY, "The record names a carrier that is not registered.";
    UnknownFacility, "unknown_facility", InvalidRequest, UNPROCESSABLE_ENTITY, "The record names a facility that is not registered.";
    UnknownDivision, "unknown_division", InvalidRequest, UNPROCESSABLE_ENTITY, "A division code is 6 digits but not a GB/T 2260 division.";
    TimeInFuture, "time_in_future", InvalidRequest, UNPROCESSABLE_ENTITY, "A time is later than the hub's clock plus the tolerance.";
    CarrierMismatch, "carrier_mismatch", Auth, FORBIDDEN, "The record belongs to a carrier this key may not write, or uses another carrier's facility.";
    EventConflict, "event_conflict", InvalidRequest, CONFLICT, "An event with this id is stored with different content; the stored one is kept.";
    WaybillConflict, "waybill_conflict", InvalidRequest, CONFLICT, "A waybill with this number is stored with different content; the stored one is kept.";
    BatchTooLarge, "batch_too_large", InvalidRequest, PAYLOAD_TOO_LARGE, "A JSON batch holds more records than the limit; send NDJSON to /v1/ingest instead.";
    PayloadTooLarge, "payload_too_large", InvalidRequest, PAYLOAD_TOO_LARGE, "The request body is larger than the limit.";
    UnsupportedMediaType, "unsupported_media_type", InvalidRequest, UNSUPPORTED_MEDIA_TYPE, "The body's Content-Type is not the one the endpoint reads.";
    WaybillNotFound, "waybill_not_found", InvalidRequest, NOT_FOUND, "No parcel with this number is visible to this key.";
    WaybillAmbiguous, "waybill_ambiguous", InvalidRequest, CONFLICT, "Several carriers use this waybill number; name one with `carrier`.";
    TrackingNotFound, "tracking_not_found", InvalidRequest, NOT_FOUND, "No parcel matches this waybill number and phone suffix.";
    RouteNotFound, "route_not_found", InvalidRequest, NOT_FOUND, "No endpoint has this path.";
    MethodNotAllowed, "method_not_allowed", InvalidRequest, METHOD_NOT_ALLOWED, "The endpoint does not take this HTTP method.";
    MissingApiKey, "missing_api_key", Auth, UNAUTHORIZED, "The endpoint needs an API key in `Authorization: Bearer <key>`.";
    InvalidApiKey, "invalid_api_key", Auth, UNAUTHORIZED, "The API key is unknown or revoked.";
    Forbidden, "forbidden", Auth, FORBIDDEN, "The key's role may not do this.";
    RateLimited, "rate_limited", System, TOO_MANY_REQUESTS, "Too many requests from this client address; slow down.";
    Unavailable, "unavailable", System, SERVICE_UNAVAILABLE, "The database is busy or unreachable; retry later.";
    Internal, "internal", Internal, INTERNAL_SERVER_ERROR, "The hub failed; the details are in its log.";
    InvalidEpcis, "invalid_epcis_document", InvalidRequest, BAD_REQUEST, "An EPCIS document or event breaks the EPCIS 2.0 or CBV rules; nothing of it was captured (GS1 `epcisException:ValidationException`).";
    CaptureJobNotFound, "capture_job_not_found", InvalidRequest, NOT_FOUND, "No EPCIS capture job has this id (GS1 `epcisException:NoSuchResourceException`).";
}
