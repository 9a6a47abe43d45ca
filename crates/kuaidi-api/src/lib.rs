//! Kuaidi's HTTP API under `/v1`: ingest, trace, reverse trace, public tracking, reference data, audit, and
//! supervision (quality indicators, safety coverage, alerts).
//!
//! `app(state)` builds the router; `serve` runs it on an already-bound listener until a shutdown future resolves,
//! so tests can bind port 0, and runs the scheduled sweep beside it. Only this crate knows HTTP.

#![warn(missing_docs)]

pub mod auth;
pub mod error;
mod extract;
pub mod ingest;
mod params;
mod routes;
mod scope;
pub mod state;
pub mod sweep;
pub mod trace;
pub mod v1;

use std::future::Future;
use std::net::SocketAddr;

use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::trace::TraceLayer;

pub use error::{ApiError, Code};
pub use state::{ApiConfig, AppState, Clock};

/// The whole application: `/v1` routes, the OpenAPI document at `/v1/openapi.json`, error-shaped fallbacks, limits and
/// request logging.
pub fn app(state: AppState) -> Router {
    let (v1, openapi) = routes::v1();
    let max_body = state.config().max_body_bytes;
    let openapi_json = serde_json::to_value(&openapi).unwrap_or_default();
    v1.route("/v1/openapi.json", get(move || std::future::ready(Json(openapi_json.clone()))))
        .fallback(|| async {
            ApiError::new(Code::RouteNotFound, "No endpoint has this path. The API is described at `/v1/openapi.json`.")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                Code::MethodNotAllowed,
                "This endpoint does not take this HTTP method. See `/v1/openapi.json`.",
            )
        })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn(log_internal_errors))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The OpenAPI document of the whole API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes::v1().1
}

/// Logs the hidden cause of every 5xx response once, inside the request's span.
async fn log_internal_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    if let Some(cause) = response.extensions().get::<error::InternalCause>() {
        tracing::error!(%method, %uri, status = %response.status(), cause = %cause.0, "request failed");
    }
    response.into_response()
}

/// Serves the app on `listener` until `shutdown` resolves, then finishes the requests in flight. Beside it, a task
/// sweeps the store every `ApiConfig::sweep_interval` (see [`sweep::run`]); it stops with the server.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_sweeps, sweeps_stopped) = tokio::sync::watch::channel(false);
    let sweeper = tokio::spawn(sweep::run(state.clone(), state.config().sweep_interval, sweeps_stopped));
    let shutdown = async move {
        shutdown.await;
        let _ = stop_sweeps.send(true);
    };
    let served = axum::serve(listener, app(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await;
    // Also when serving failed: the sweeper must not outlive the server.
    sweeper.abort();
    let _ = sweeper.await;
    served
}
