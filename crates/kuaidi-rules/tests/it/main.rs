//! The integration tests of kuaidi-rules: one binary, one module per subject.

mod dataco;
mod golden;
mod olist;
mod simulator;
mod support;
