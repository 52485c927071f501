//! upgrade-pilot as a library: the engine and its front ends, so that tests and
//! benchmarks drive exactly what the binary runs.

pub mod campaign;
pub mod cli;
pub mod config;
pub mod demo;
pub mod engine;
pub mod odoo;
pub mod pg;
pub mod text;
pub mod tui;
