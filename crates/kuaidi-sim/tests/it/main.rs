//! The simulator's integration tests; this file only declares the modules.

mod config;
mod determinism;
mod faults;
mod geography;
mod network;
mod stream;
mod support;
mod time_limits;
mod validation;
