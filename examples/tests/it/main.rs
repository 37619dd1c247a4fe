//! Integration tests of vbus-examples (one binary, see ARCHITECTURE "Tests"): the demo run
//! headless (`demo`), and every example binary run to its OK line (`examples`).

mod demo;
mod examples;
