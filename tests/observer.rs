//! Operation events: a `Dr` with a recording observer sees exactly one typed event per
//! operation, with the operation's own response (or the error's kind) as payload: a backup, a
//! failed (cancelled) backup, a validation, a restore test, a cleanup and a drill run.

use crate::common;

use std::sync::{Arc, Mutex};

use common::Project;
use mahavishnu_dr::CleanupOptions;
use mahavishnu_dr::RestoreTestOptions;
use mahavishnu_dr::internals::BackupType;
use mahavishnu_dr::{BackupOptions, BackupStatus};
use mahavishnu_dr::{Cancel, NoProgress, Observer, OperationEvent};
use mahavishnu_dr::{Dr, ErrorKind};
use mahavishnu_dr::{ValidateOptions, ValidationLevel};

#[derive(Default)]
struct Recorder(Mutex<Vec<OperationEvent>>);

impl Observer for Recorder {
    fn event(&self, e: &OperationEvent) {
        self.0.lock().unwrap().push(e.clone());
    }
}

impl Recorder {
    /// The events since the last call (exactly one expected).
    fn take_one(&self) -> OperationEvent {
        let mut events = std::mem::take(&mut *self.0.lock().unwrap());
        assert_eq!(events.len(), 1, "{events:#?}");
        events.pop().unwrap()
    }
}

fn full() -> BackupOptions {
    BackupOptions {
        backup_type: BackupType::Full,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_operation_emits_exactly_one_typed_event() {
    let p = Project::new("");
    p.write("a.txt", "alpha\n");
    p.write("sub/b.bin", vec![7u8; 100_000]);
    let loaded = mahavishnu_dr::load_settings(Some(&p.config()), p.root(), &[]).unwrap();
    let recorder = Arc::new(Recorder::default());
    let dr = Dr::new(loaded).unwrap().with_observer(recorder.clone());
    // A Dr derived from it (as each command or tool call makes one) keeps the observer.
    let dr = dr.with_notes(mahavishnu_dr::Notes::new());

    // A backup.
    let made = dr
        .backup(&full(), Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap();
    let OperationEvent::BackupFinished(b) = recorder.take_one() else {
        panic!("not BackupFinished")
    };
    assert!(b.completed);
    assert_eq!(b.backup_id, made.backup_id);
    assert!(b.backup_id.is_some());
    assert_eq!(b.backup_type, Some(BackupType::Full));
    assert_eq!(b.bytes, made.totals.bytes);
    assert!(b.bytes >= 100_006, "{b:?}");
    assert!(b.duration_seconds >= 0.0);
    let json = serde_json::to_value(OperationEvent::BackupFinished(b.clone())).unwrap();
    assert_eq!(json["event"], "backup_finished");
    assert_eq!(
        json["payload"]["backup_id"],
        made.backup_id.clone().unwrap()
    );

    // A failed backup: cancelled through a child of an already cancelled token.
    let parent = Cancel::new();
    let child = parent.child_token();
    parent.cancel();
    let err = dr
        .backup(&full(), Arc::new(NoProgress), &child)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled);
    let OperationEvent::BackupFailed(f) = recorder.take_one() else {
        panic!("not BackupFailed")
    };
    assert_eq!(f.kind, ErrorKind::Cancelled);
    assert_eq!(f.message, err.to_string());

    // A validation.
    let req = ValidateOptions {
        level: ValidationLevel::Full,
        ..Default::default()
    };
    let v = dr
        .validate(&req, Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap();
    let OperationEvent::ValidationFinished(e) = recorder.take_one() else {
        panic!("not ValidationFinished")
    };
    assert!(e.ok && v.ok, "{e:?}");
    assert_eq!(e.level, ValidationLevel::Full);
    assert_eq!(e.backups_checked, 1);
    assert_eq!(e.files_checked, v.files_checked);
    assert!(e.files_checked >= 2 && e.bytes_read > 0, "{e:?}");
    assert_eq!(e.record_id, v.record_id, "the payload is the kept result");
    assert!(e.record_id.is_some());

    // A restore test.
    let t = dr
        .restore_test(
            &RestoreTestOptions::default(),
            Arc::new(NoProgress),
            &Cancel::new(),
        )
        .await
        .unwrap();
    let OperationEvent::RestoreTestFinished(e) = recorder.take_one() else {
        panic!("not RestoreTestFinished")
    };
    assert!(e.passed && t.passed, "{e:?}");
    assert_eq!(e.backup_id, made.backup_id.unwrap());
    assert_eq!(e.rto_seconds, t.rto_seconds);
    assert!(e.rto_seconds > 0.0 && e.rto_met);
    assert_eq!(e.rpo_seconds, t.rpo_seconds);
    assert!(e.rpo_seconds.is_some());

    // A cleanup (a dry run).
    dr.cleanup(&CleanupOptions::default(), Arc::new(NoProgress))
        .await
        .unwrap();
    let OperationEvent::CleanupFinished(e) = recorder.take_one() else {
        panic!("not CleanupFinished")
    };
    assert!(e.dry_run);

    // A failed validation run (no such backup): one ValidationFailed with the error's kind.
    let req = ValidateOptions {
        backup_id: "20000101T000000Z-full-0000".into(),
        ..Default::default()
    };
    let err = dr
        .validate(&req, Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap_err();
    let OperationEvent::ValidationFailed(f) = recorder.take_one() else {
        panic!("not ValidationFailed")
    };
    assert_eq!(f.kind, err.kind);

    // A drill: one event for the run, none for the scratch repositories' own backups.
    let drill = mahavishnu_dr::DrillRunOptions {
        scenario: Some("database_corruption".into()),
        dry_run: false,
        confirm: true,
        ..Default::default()
    };
    let r = dr
        .drill_run(&drill, "test", Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap();
    let OperationEvent::DrillFinished(e) = recorder.take_one() else {
        panic!("not DrillFinished")
    };
    assert!(!e.dry_run);
    assert_eq!(e.passed, r.passed);
    assert_eq!(e.drills.len(), 1);
    assert_eq!(e.drills[0].scenario, "database_corruption");
    assert_eq!(e.drills[0].rto_seconds, r.drills[0].rto_seconds);
    // Without confirmation it is refused: a DrillFailed event with that kind.
    let refused = mahavishnu_dr::DrillRunOptions {
        confirm: false,
        ..drill
    };
    let err = dr
        .drill_run(&refused, "test", Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap_err();
    let OperationEvent::DrillFailed(f) = recorder.take_one() else {
        panic!("not DrillFailed")
    };
    assert_eq!(f.kind, err.kind);
    assert_eq!(f.kind, ErrorKind::Refused);
}

#[tokio::test]
async fn without_an_observer_nothing_is_emitted_and_operations_run_as_before() {
    let p = Project::new("");
    p.write("a.txt", "alpha\n");
    let loaded = mahavishnu_dr::load_settings(Some(&p.config()), p.root(), &[]).unwrap();
    let dr = Dr::new(loaded).unwrap();
    let r = dr
        .backup(&full(), Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap();
    assert_eq!(r.status, BackupStatus::Completed);
}
