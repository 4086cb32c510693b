//! cargo-fuzz target: the history record decoder (the body is in ../targets.rs).
#![no_main]

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    targets::history(data);
});
