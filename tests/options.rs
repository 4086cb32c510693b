//! Tests that each operation's options mean the same on every face: the command line (clap) and
//! a tool call or settings (serde) get the same defaults, and what only a person at the command
//! line may choose cannot be asked for over the wire.

use clap::{Args, FromArgMatches};
use serde::de::DeserializeOwned;

use mahavishnu_dr::BackupOptions;
use mahavishnu_dr::DecryptOptions;
use mahavishnu_dr::HistoryOptions;
use mahavishnu_dr::ListOptions;
use mahavishnu_dr::MeasureRpoOptions;
use mahavishnu_dr::MeasureRtoOptions;
use mahavishnu_dr::ReportOptions;
use mahavishnu_dr::RestoreTestOptions;
use mahavishnu_dr::StatusOptions;
use mahavishnu_dr::UnlockOptions;
use mahavishnu_dr::ValidateOptions;
use mahavishnu_dr::{Placement, RestoreOptions};

/// The options as the command line parses `argv` (after the command name).
fn cli<T: Args + FromArgMatches>(argv: &[&str]) -> T {
    let cmd = T::augment_args(clap::Command::new("t").no_binary_name(true));
    let m = cmd.try_get_matches_from(argv).expect("parses");
    T::from_arg_matches(&m).expect("builds")
}

fn wire<T: DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).expect("deserializes")
}

/// Same value on both faces, compared through their JSON.
fn same<T: serde::Serialize>(a: &T, b: &T, what: &str) {
    assert_eq!(
        serde_json::to_value(a).unwrap(),
        serde_json::to_value(b).unwrap(),
        "{what}: the command line and a tool call disagree on the defaults"
    );
}

#[test]
fn every_face_gets_the_same_defaults() {
    same(&cli::<BackupOptions>(&[]), &wire("{}"), "backup");
    same(
        &cli::<BackupOptions>(&[]),
        &BackupOptions::default(),
        "backup",
    );
    same(&cli::<ValidateOptions>(&[]), &wire("{}"), "validate");
    same(
        &cli::<ValidateOptions>(&[]),
        &ValidateOptions::default(),
        "validate",
    );
    same(&cli::<ListOptions>(&[]), &wire("{}"), "list");
    same(&cli::<StatusOptions>(&[]), &wire("{}"), "status");
    same(&cli::<RestoreTestOptions>(&[]), &wire("{}"), "restore test");
    same(&cli::<MeasureRtoOptions>(&[]), &wire("{}"), "measure rto");
    same(
        &cli::<MeasureRtoOptions>(&[]),
        &MeasureRtoOptions::default(),
        "measure rto",
    );
    same(&cli::<MeasureRpoOptions>(&[]), &wire("{}"), "measure rpo");
    same(
        &cli::<MeasureRpoOptions>(&[]),
        &MeasureRpoOptions::default(),
        "measure rpo",
    );
    same(&cli::<ReportOptions>(&[]), &wire("{}"), "report");
    same(&cli::<HistoryOptions>(&[]), &wire("{}"), "history");
    same(
        &cli::<HistoryOptions>(&[]),
        &HistoryOptions::default(),
        "history",
    );
    same(&cli::<UnlockOptions>(&[]), &wire("{}"), "unlock");
    same(&cli::<DecryptOptions>(&[]), &wire("{}"), "decrypt");
    // Confirmation is the one intended difference (checked below).
    let r: RestoreOptions = cli(&["--target", "x"]);
    let w: RestoreOptions = wire(r#"{"target_dir": "x"}"#);
    same(
        &RestoreOptions {
            confirm: false,
            ..r
        },
        &w,
        "restore",
    );
}

#[test]
fn a_tool_call_is_confined_and_unconfirmed_unless_it_says_so() {
    let r: RestoreOptions = wire(r#"{"target_dir": "x"}"#);
    assert_eq!(r.placement, Placement::InsideRestoreRoots);
    assert!(!r.confirm && !r.overwrite && !r.keep_special_bits);
    // The command line: a person chose the folder and typed the command.
    let c: RestoreOptions = cli(&["--target", "x"]);
    assert_eq!(c.placement, Placement::Anywhere);
    assert!(c.confirm);
    // What only the command line may choose is not an argument over the wire.
    for field in ["keep_special_bits", "placement"] {
        let e = serde_json::from_str::<RestoreOptions>(&format!(
            r#"{{"target_dir": "x", "{field}": true}}"#
        ))
        .unwrap_err();
        assert!(e.to_string().contains(field), "{field}: {e}");
    }
    let e = serde_json::from_str::<BackupOptions>(r#"{"scheduled": true}"#).unwrap_err();
    assert!(e.to_string().contains("scheduled"), "{e}");
}

#[test]
fn cleanup_plans_by_default_over_the_wire_and_applies_on_the_command_line() {
    let w: mahavishnu_dr::CleanupOptions = wire("{}");
    assert!(
        w.dry_run && !w.confirm,
        "a tool call only plans unless asked"
    );
    let c: mahavishnu_dr::CleanupOptions = cli(&[]);
    assert!(!c.dry_run && c.confirm, "the command applies the plan");
    let c: mahavishnu_dr::CleanupOptions = cli(&["--dry-run"]);
    assert!(c.dry_run);
}
