//! cargo-fuzz target: the repository config and its key slots (the body is in ../targets.rs).
#![no_main]

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    targets::config(data);
});
