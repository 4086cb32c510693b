//! Human-readable text for each response type (the `--json` form is the type itself).

use std::fmt::Write;

use crate::ops::backup::{BackupResponse, BackupStatus};
use crate::ops::cleanup::CleanupResponse;
use crate::ops::init::InitResponse;
use crate::ops::restore::RestoreResponse;
use crate::ops::status::{BackupItem, ListResponse, StatusResponse};
use crate::ops::validate::ValidateResponse;
use crate::ops::{human_age, human_bytes};

pub fn init(r: &InitResponse) -> String {
    let mut s = format!(
        "created repository {} (id {}), {}\n",
        r.repository,
        r.repository_id,
        if r.encrypted {
            "encrypted with AES-256-GCM"
        } else {
            "NOT encrypted"
        }
    );
    if let Some(k) = &r.key_path {
        let _ = writeln!(
            s,
            "key file: {k}{}",
            if r.key_generated { " (new)" } else { "" }
        );
    }
    s
}

pub fn backup(r: &BackupResponse) -> String {
    let mut s = String::new();
    if r.status == BackupStatus::Skipped {
        return r.message.clone();
    }
    let _ = writeln!(s, "{}", r.message);
    if let Some(why) = &r.type_reason {
        let _ = writeln!(s, "note: {why}");
    }
    if let Some(p) = &r.parent {
        let _ = writeln!(s, "parent: {p} (chain length {})", r.chain_length);
    }
    let _ = writeln!(
        s,
        "{} in {:.1} s, {} volume(s), repository {}",
        human_bytes(r.totals.bytes_stored_content),
        r.duration_seconds,
        r.volumes,
        r.repository
    );
    s
}

pub fn validate(r: &ValidateResponse) -> String {
    let mut s = format!("{}\n", r.message);
    for p in &r.problems {
        let _ = writeln!(
            s,
            "  PROBLEM {}{}{}: {}",
            p.backup_id,
            p.volume
                .as_ref()
                .map(|v| format!(" volume {v}"))
                .unwrap_or_default(),
            p.path
                .as_ref()
                .map(|v| format!(" file {v}"))
                .unwrap_or_default(),
            p.problem
        );
    }
    let _ = writeln!(
        s,
        "read {} in {:.1} s",
        human_bytes(r.bytes_read),
        r.duration_seconds
    );
    s
}

fn row(b: &BackupItem) -> String {
    format!(
        "{:<42} {:<11} {:<20} {:>10} {:>8}  {}",
        b.backup_id,
        b.backup_type.as_str(),
        b.finished.format("%Y-%m-%d %H:%M:%S"),
        human_bytes(b.stored_bytes),
        b.files,
        b.parent.as_deref().unwrap_or("-")
    )
}

fn header() -> String {
    format!(
        "{:<42} {:<11} {:<20} {:>10} {:>8}  {}",
        "BACKUP", "TYPE", "FINISHED (UTC)", "STORED", "FILES", "PARENT"
    )
}

pub fn list(r: &ListResponse) -> String {
    if r.backups.is_empty() {
        return "no backups yet".into();
    }
    let mut s = header();
    s.push('\n');
    for b in &r.backups {
        s.push_str(&row(b));
        s.push('\n');
    }
    let _ = writeln!(s, "{} backup(s)", r.total_count);
    s
}

pub fn status(r: &StatusResponse) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "repository {} ({}), {} backup(s), {} stored{}",
        r.repository,
        if r.encrypted {
            "encrypted"
        } else {
            "NOT encrypted"
        },
        r.backup_count,
        human_bytes(r.total_stored_bytes),
        if r.backups_enabled {
            ""
        } else {
            ", backups DISABLED in settings"
        }
    );
    let _ = writeln!(s, "\nlatest per type:");
    for t in &r.latest_per_type {
        match (&t.backup_id, &t.age) {
            (Some(id), Some(age)) => {
                let _ = writeln!(s, "  {:<12} {id} ({age} ago)", t.backup_type.as_str());
            }
            _ => {
                let _ = writeln!(s, "  {:<12} none", t.backup_type.as_str());
            }
        }
    }
    if !r.chains.is_empty() {
        let _ = writeln!(s, "\nchains:");
        for c in &r.chains {
            let _ = writeln!(
                s,
                "  {} ({}) + {} incremental(s), {}",
                c.root,
                c.root_type.as_str(),
                c.backups.len().saturating_sub(1),
                human_bytes(c.stored_bytes)
            );
        }
    }
    if !r.schedules.is_empty() {
        let _ = writeln!(s, "\nschedules:");
        for n in &r.schedules {
            let next = match n.next_run {
                Some(t) => format!(
                    "next {} (in {})",
                    t.format("%Y-%m-%d %H:%M UTC"),
                    human_age((t - chrono::Utc::now()).num_seconds())
                ),
                None => "disabled".into(),
            };
            let _ = writeln!(
                s,
                "  {:<20} {:<11} {}; {next}",
                n.schedule,
                n.backup_type.as_str(),
                n.cadence
            );
        }
    }
    if !r.backups.is_empty() {
        let _ = writeln!(s, "\n{}", header());
        for b in &r.backups {
            let _ = writeln!(s, "{}", row(b));
        }
    }
    for u in &r.unfinished {
        let _ = writeln!(
            s,
            "unfinished: {u} (running, or crashed: `backup cleanup` removes it)"
        );
    }
    for u in &r.unreadable {
        let _ = writeln!(s, "UNREADABLE: {u} (run `backup validate`)");
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

pub fn cleanup(r: &CleanupResponse) -> String {
    let mut s = String::new();
    if r.dry_run {
        let _ = writeln!(s, "DRY RUN: nothing is changed");
    }
    for k in &r.plan.keep {
        let _ = writeln!(
            s,
            "  keep   {} ({}): {}",
            k.backup_id,
            k.backup_type.as_str(),
            k.reason
        );
    }
    for k in &r.plan.remove {
        let _ = writeln!(
            s,
            "  remove {} ({}): {}",
            k.backup_id,
            k.backup_type.as_str(),
            k.reason
        );
    }
    for o in &r.orphans {
        let _ = writeln!(
            s,
            "  remove {} ({} object(s), {}): {}",
            o.backup_id,
            o.objects,
            human_bytes(o.bytes),
            o.reason
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    let _ = writeln!(s, "{}", r.message);
    s
}

pub fn restore(r: &RestoreResponse) -> String {
    let mut s = format!("{}\n", r.message);
    if r.chain.len() > 1 {
        let _ = writeln!(
            s,
            "read {} volume(s) from {}",
            r.volumes_read,
            r.chain.join(", ")
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

pub fn check(r: &crate::ops::check::DrCheckResponse) -> String {
    use crate::ops::check::CheckStatus;
    let mark = |s: CheckStatus| {
        if s == CheckStatus::Pass {
            "pass"
        } else {
            "FAIL"
        }
    };
    let c = &r.results.checks;
    format!(
        "{}\n  backups_available  {}  {}\n  backup_integrity   {}  {}\n  recent_backup      {}  {}\n",
        r.message,
        mark(c.backups_available.status),
        c.backups_available.detail,
        mark(c.backup_integrity.status),
        c.backup_integrity.detail,
        mark(c.recent_backup.status),
        c.recent_backup.detail,
    )
}
