//! The integration tests of kuaidi-rules: one binary, one module per subject.

mod dataco;
mod golden;
mod olist;
mod simulated;
mod simulator;
mod support;
