//! Integration tests of the `kuaidi` binary: commands, exit codes, import, and durability under `kill -9`.

mod alerts;
mod cli;
mod durability;
mod export;
mod import;
mod report;
mod support;
