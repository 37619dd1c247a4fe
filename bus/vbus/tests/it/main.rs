//! Integration tests of the vbus library (one binary: see STYLE "build time").

mod child;
mod cross_process;
mod dynamic;
mod fixtures;
mod harness;
mod in_process;
mod security;
