//! Integration tests of the `kuaidi` binary: commands, exit codes, import, durability under `kill -9`, and several
//! servers on one PostgreSQL database.

mod cli;
mod durability;
mod import;
mod postgres;
mod support;
