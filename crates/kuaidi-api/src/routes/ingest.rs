//! `POST /v1/ingest`: an NDJSON stream of records, read and stored chunk by chunk while it arrives.
//!
//! Each chunk of `ingest_chunk` lines is one transaction; while one chunk is being stored, the next is read from the
//! network. If the stream breaks off or a later chunk fails, the chunks before it stay stored: re-sending the whole
//! stream is safe, because ingest is idempotent.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::task::JoinHandle;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiError, Code, ErrorBody};
use crate::extract::AppQuery;
use crate::ingest::{decode_lines, ingest_chunk, ItemResult, ItemStatus, Summary};
use crate::v1::StreamResponse;
use crate::AppState;

/// Options of a stream.
#[derive(Debug, Deserialize, IntoParams)]
pub struct IngestQuery {
    /// `all` to answer every line; by default only lines not accepted are listed.
    results: Option<String>,
}

type Pending = JoinHandle<Result<Vec<ItemResult>, ApiError>>;

struct Collector {
    summary: Summary,
    items: Vec<ItemResult>,
    all: bool,
}

impl Collector {
    async fn finish(&mut self, pending: Option<Pending>) -> Result<(), ApiError> {
        if let Some(handle) = pending {
            for result in handle.await?? {
                self.summary.add(result.status);
                if self.all || result.status != ItemStatus::Accepted {
                    self.items.push(result);
                }
            }
        }
        Ok(())
    }
}

/// Ingests an NDJSON stream (`Content-Type: application/x-ndjson`) of any records, one per line.
#[utoipa::path(post, path = "/v1/ingest", tag = "ingest", params(IngestQuery), security(("api_key" = [])),
    request_body(content = String, content_type = "application/x-ndjson", description = "One record per line"),
    responses(
        (status = 200, description = "Every line answered", body = StreamResponse),
        (status = 415, description = "Not NDJSON", body = ErrorBody),
        (status = 413, description = "Stream over the limit", body = ErrorBody),
    ))]
pub async fn post_ingest(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<IngestQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<StreamResponse>, ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(media, "application/x-ndjson" | "application/jsonl" | "application/ndjson") {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!("The stream's Content-Type is `{content_type}`.\nHint: send `Content-Type: application/x-ndjson`."),
        ));
    }
    let chunk_size = state.config().ingest_chunk.max(1);
    let max_bytes = state.config().max_stream_bytes;
    let mut collector =
        Collector { summary: Summary::default(), items: Vec::new(), all: query.results.as_deref() == Some("all") };
    let mut pending: Option<Pending> = None;
    let mut lines: Vec<(u64, Vec<u8>)> = Vec::with_capacity(chunk_size);
    let mut partial: Vec<u8> = Vec::new();
    let mut n_lines = 0u64;
    let mut n_bytes = 0u64;
    let mut stream = body.into_data_stream();

    let dispatch = |lines: Vec<(u64, Vec<u8>)>| -> Pending {
        let (state, role) = (state.clone(), caller.role.clone());
        tokio::task::spawn_blocking(move || ingest_chunk(&state, &role, decode_lines(lines)))
    };

    loop {
        let frame = stream.next().await;
        let bytes = match frame {
            Some(Ok(bytes)) => bytes,
            Some(Err(err)) => {
                collector.finish(pending.take()).await?;
                return Err(ApiError::new(
                    Code::InvalidJson,
                    format!("The stream broke off after line {n_lines}: {err}. Lines stored so far stay stored; re-send the stream."),
                ));
            }
            None => break,
        };
        n_bytes += bytes.len() as u64;
        if n_bytes > max_bytes {
            collector.finish(pending.take()).await?;
            return Err(ApiError::new(
                Code::PayloadTooLarge,
                format!("The stream is longer than {max_bytes} bytes; it was cut after line {n_lines}, and the lines before were stored.\nHint: split the stream."),
            ));
        }
        let mut rest: &[u8] = &bytes;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            partial.extend_from_slice(&rest[..pos]);
            rest = &rest[pos + 1..];
            n_lines += 1;
            let line = std::mem::take(&mut partial);
            if !line.iter().all(u8::is_ascii_whitespace) {
                lines.push((n_lines, line));
            }
            if lines.len() >= chunk_size {
                collector.finish(pending.take()).await?;
                pending = Some(dispatch(std::mem::replace(&mut lines, Vec::with_capacity(chunk_size))));
            }
        }
        partial.extend_from_slice(rest);
    }
    if !partial.iter().all(u8::is_ascii_whitespace) {
        n_lines += 1;
        lines.push((n_lines, partial));
    }
    collector.finish(pending.take()).await?;
    if !lines.is_empty() {
        collector.finish(Some(dispatch(lines))).await?;
    }
    Ok(Json(StreamResponse { summary: collector.summary, lines: n_lines, items: collector.items }))
}
