//! The one integration test binary (as ripgrep keeps it): a module per capability, driving the
//! real `mahavishnu-dr` binary over real files, and one shared harness (`common`, `dr_util`,
//! `tree_support`). One binary links the crate once instead of once per file.

mod common;
mod dr_util;
mod tree_support;

mod alerts;
mod bare_host;
mod blocks;
mod cleanup;
mod continuous;
mod crash;
mod daemon;
mod decrypt;
mod diff;
mod dr_check;
mod drills;
mod history_format;
mod hosts;
mod incremental;
mod keys;
mod locks;
mod mcp_conformance;
mod mcp_http;
mod mcp_inspector;
mod mcp_python_sdk;
mod mcp_stdio;
mod mcp_tools;
mod mcp_tools_export;
mod metrics;
mod observer;
mod options;
mod policy;
mod properties;
mod replicas;
mod report;
mod restore_test;
mod roundtrip;
mod runbook;
mod security;
mod settings_cli;
mod sqlite;
mod storage_faults;
mod storage_primary;
mod store_attacks;
mod validate;
