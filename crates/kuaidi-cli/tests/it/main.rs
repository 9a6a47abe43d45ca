//! Integration tests of the `kuaidi` binary: commands, exit codes, import, durability under `kill -9`, and several
//! servers on one PostgreSQL database.

mod alerts;
mod cli;
mod durability;
mod export;
mod import;
mod postgres;
mod report;
mod support;
