//! Integration tests of the PostgreSQL store, each on a fresh database of the server named by
//! `KUAIDI_TEST_DATABASE_URL` (`scripts/with-pg` starts a throwaway one). Without it they say they skipped, except
//! under `CI=true`, where they fail.

mod catalogue;
mod contract;
mod ingest;
mod support;
