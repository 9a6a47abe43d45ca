//! Integration tests of the `kuaidi` binary: commands, exit codes, import, and durability under `kill -9`.

mod cli;
mod durability;
mod export;
mod import;
mod support;
