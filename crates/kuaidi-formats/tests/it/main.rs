//! Integration tests of kuaidi-formats against shared conformance material.

mod epcis;
mod support;
