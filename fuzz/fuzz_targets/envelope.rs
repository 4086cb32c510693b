//! cargo-fuzz target: the envelope and frame opener (the body is in ../targets.rs).
#![no_main]

#[allow(dead_code)]
#[path = "../targets.rs"]
mod targets;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    targets::envelope(data);
});
