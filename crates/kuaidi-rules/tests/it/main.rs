//! The integration tests of kuaidi-rules: one binary, modules only.

mod simulated;
