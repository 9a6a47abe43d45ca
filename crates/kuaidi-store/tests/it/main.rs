//! Integration tests of the embedded store: the shared contract, and what only SQLite files do.

mod derived;
mod sqlite;
