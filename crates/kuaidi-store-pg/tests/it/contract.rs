//! The shared store contract, run on PostgreSQL exactly as on the embedded store.

use crate::support::TestStore;

kuaidi_store::store_contract_tests!(optional TestStore::fresh);
