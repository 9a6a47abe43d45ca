//! Integration tests of the HTTP API, driven in process with `oneshot`, plus one smoke test on a real socket.

mod access;
mod docs;
mod epcis;
mod errors;
mod harness;
mod ingest;
mod openapi;
mod server;
mod trace;
mod track;
