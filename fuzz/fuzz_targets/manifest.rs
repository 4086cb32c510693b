//! cargo-fuzz target: the manifest decoder (full and summary) and its paths and ids (the body is in ../targets.rs).
#![no_main]

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    targets::manifest(data);
});
