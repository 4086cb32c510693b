//! Human-readable text for each response type (the `--json` form is the type itself).

use std::fmt::Write;

use crate::ops::backup::{BackupResponse, BackupStatus};
use crate::ops::cleanup::CleanupResponse;
use crate::ops::init::InitResponse;
use crate::ops::replicate::ReplicateResponse;
use crate::ops::replication::{ReplicaCopy, ReplicaLag};
use crate::ops::restore::RestoreResponse;
use crate::ops::status::{BackupItem, ListResponse, StatusResponse, UnreadableBackup};
use crate::ops::validate::ValidateResponse;
use crate::present;

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
        "{} in {}, {} volume(s), repository {}",
        present::bytes(r.totals.bytes_stored_content),
        present::duration(r.duration_seconds),
        r.volumes,
        r.repository
    );
    replication_lines(&mut s, &r.replication);
    s
}

/// One line per replica copy: what was copied, or what went wrong and what to do.
fn replication_lines(s: &mut String, copies: &[ReplicaCopy]) {
    for c in copies {
        if c.ok {
            let _ = writeln!(
                s,
                "replica {} ({}): {}",
                c.name,
                c.location,
                if c.copied.is_empty() {
                    "up to date".to_string()
                } else {
                    format!(
                        "copied {} backup(s), {} in {} object(s), verified",
                        c.copied.len(),
                        present::bytes(c.bytes),
                        c.objects
                    )
                }
            );
        } else {
            let _ = writeln!(
                s,
                "replica {} ({}): FAILED, {} backup(s) missing there: {}",
                c.name,
                c.location,
                c.missing,
                c.error.as_deref().unwrap_or("unknown error")
            );
            if let Some(g) = &c.guidance {
                let _ = writeln!(s, "  {g}");
            }
        }
    }
}

pub fn replicate(r: &ReplicateResponse) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} replicating from {} ({})",
        if r.ok { "ok:" } else { "FAILED:" },
        r.source,
        r.location
    );
    if r.replicas.is_empty() {
        let _ = writeln!(s, "no replica is configured (backup.storage.replicas)");
    }
    replication_lines(&mut s, &r.replicas);
    s
}

fn replica_lag_lines(s: &mut String, lags: &[ReplicaLag]) {
    for l in lags {
        let state = match (&l.error, &l.newest_missing) {
            (Some(e), _) => format!("UNREADABLE: {e}"),
            (None, None) => "holds every backup".to_string(),
            (None, Some(n)) => format!(
                "lacks {} backup(s) (newest {}), {} behind",
                l.missing,
                n.backup_id,
                present::age(l.lag_seconds.unwrap_or(0))
            ),
        };
        let _ = writeln!(s, "  {:<12} {:<40} {state}", l.name, l.location);
    }
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
        "read {} in {}",
        present::bytes(r.bytes_read),
        present::duration(r.duration_seconds)
    );
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

fn row(b: &BackupItem) -> String {
    format!(
        "{:<42} {:<11} {:<23} {:>10} {:>8}  {:<42} {}",
        b.backup_id,
        b.backup_type.as_str(),
        present::timestamp(b.finished),
        present::bytes(b.stored_bytes),
        b.files,
        b.parent.as_deref().unwrap_or("-"),
        crate::ops::hosts::shown(&b.host)
    )
}

fn header() -> String {
    format!(
        "{:<42} {:<11} {:<23} {:>10} {:>8}  {:<42} {}",
        "BACKUP", "TYPE", "FINISHED", "STORED", "FILES", "PARENT", "HOST"
    )
}

/// Each host's newest backup, one line per host.
fn host_lines(s: &mut String, hosts: &[crate::ops::hosts::HostNewest]) {
    for h in hosts {
        let _ = writeln!(
            s,
            "  {:<24} {} ({}, {} ago; RPO target {}), {} backup(s){}",
            crate::ops::hosts::shown(&h.host),
            h.newest_backup_id,
            h.newest_backup_type.as_str(),
            h.age,
            if h.rpo_met { "met" } else { "MISSED" },
            h.backups,
            if h.this_host { "  <- this host" } else { "" }
        );
    }
}

pub fn list(r: &ListResponse) -> String {
    let mut s = String::new();
    if r.backups.is_empty() {
        s.push_str("no backups yet\n");
    } else {
        s.push_str(&header());
        s.push('\n');
        for b in &r.backups {
            s.push_str(&row(b));
            s.push('\n');
        }
        let _ = writeln!(s, "{} backup(s)", r.total_count);
    }
    if !r.covered.is_empty() {
        s.push_str("\ncontinuous protection (restore --at any instant in a window):\n");
        for w in &r.covered {
            let _ = writeln!(
                s,
                "  {} .. {}  host {}  {} point(s) on {}, {} stored",
                w.from.format("%Y-%m-%d %H:%M:%S"),
                w.to.format("%Y-%m-%d %H:%M:%S"),
                w.host,
                w.points,
                w.base,
                present::bytes(w.stored_bytes)
            );
        }
    }
    for p in &r.points {
        let _ = writeln!(
            s,
            "  {}  {}  {} file(s) stored, {}",
            p.point_id,
            p.started.format("%Y-%m-%d %H:%M:%S%.3f"),
            p.files_stored,
            present::bytes(p.stored_bytes)
        );
    }
    unreadable_lines(&mut s, &r.unreadable);
    s.trim_end().to_string()
}

fn unreadable_lines(s: &mut String, unreadable: &[UnreadableBackup]) {
    for u in unreadable {
        let _ = writeln!(
            s,
            "UNREADABLE: {} ({}); run `backup validate`",
            u.backup_id, u.reason
        );
    }
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
        present::bytes(r.total_stored_bytes),
        if r.backups_enabled {
            ""
        } else {
            ", backups DISABLED in settings"
        }
    );
    if !r.hosts.is_empty() {
        let _ = writeln!(s, "\nnewest backup per host:");
        host_lines(&mut s, &r.hosts);
    }
    if !r.replicas.is_empty() {
        let _ = writeln!(s, "\nreplicas (against {}):", r.store);
        replica_lag_lines(&mut s, &r.replicas);
    }
    for i in &r.immutable_stores {
        let _ = writeln!(s, "immutable: {} ({}): {}", i.store, i.location, i.detail);
    }
    if let Some(h) = &r.host_filter {
        let _ = writeln!(s, "\nbelow: host {h} only");
    }
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
                present::bytes(c.stored_bytes)
            );
        }
    }
    if !r.schedules.is_empty() {
        let _ = writeln!(s, "\nschedules:");
        for n in &r.schedules {
            let next = match n.next_run {
                Some(t) => format!(
                    "next {} (in {})",
                    present::timestamp(t),
                    present::age((t - chrono::Utc::now()).num_seconds())
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
    unreadable_lines(&mut s, &r.unreadable);
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
            "  keep   {} ({}, host {}): {}",
            k.backup_id,
            k.backup_type.as_str(),
            crate::ops::hosts::shown(&k.host),
            k.reason
        );
    }
    for k in &r.plan.remove {
        let _ = writeln!(
            s,
            "  remove {} ({}, host {}): {}",
            k.backup_id,
            k.backup_type.as_str(),
            crate::ops::hosts::shown(&k.host),
            k.reason
        );
    }
    for g in &r.points {
        let _ = writeln!(
            s,
            "  {} {} continuous point(s) on {} (host {}, {}): {}",
            if g.remove { "remove" } else { "keep  " },
            g.points,
            g.base,
            crate::ops::hosts::shown(&g.host),
            present::bytes(g.stored_bytes),
            g.reason
        );
    }
    for o in &r.orphans {
        let _ = writeln!(
            s,
            "  remove {} ({} object(s), {}): {}",
            o.backup_id,
            o.objects,
            present::bytes(o.bytes),
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

/// `diff`, grouped like `git status`: added (+), changed (~), removed (-), each path with its
/// kind, size and modification time (a changed one: the backup's, then the live one's).
pub fn diff(r: &crate::ops::diff::DiffResponse) -> String {
    use crate::ops::diff::{ChangeCount, DiffEntry, EntryState};
    use crate::repo::manifest::EntryKind;
    fn name(e: &DiffEntry) -> String {
        match e.kind {
            EntryKind::Dir => format!("{}/", e.path),
            _ => e.path.clone(),
        }
    }
    fn state(st: &EntryState) -> String {
        match (st.kind, &st.target) {
            (EntryKind::Symlink, Some(t)) => format!("-> {t}, {}", present::timestamp(st.modified)),
            (EntryKind::File, _) => format!(
                "{}, {}",
                present::bytes(st.size),
                present::timestamp(st.modified)
            ),
            (EntryKind::Dir, _) => format!("folder, {}", present::timestamp(st.modified)),
            (EntryKind::Symlink, None) => format!("symlink, {}", present::timestamp(st.modified)),
        }
    }
    fn group(s: &mut String, title: &str, mark: char, list: &[DiffEntry], count: &ChangeCount) {
        if count.total == 0 {
            return;
        }
        let _ = writeln!(
            s,
            "\n{title} ({}, {}):",
            count.total,
            present::bytes(count.bytes)
        );
        for e in list {
            let detail = match (&e.backup, &e.live) {
                (Some(b), Some(l)) => {
                    let what: Vec<String> = e
                        .differs
                        .iter()
                        .map(|d| format!("{d:?}").to_lowercase())
                        .collect();
                    format!("{} -> {} [{}]", state(b), state(l), what.join(", "))
                }
                (Some(st), None) | (None, Some(st)) => state(st),
                (None, None) => String::new(),
            };
            let _ = writeln!(s, "  {mark} {}  ({detail})", name(e));
        }
        let more = count.total.saturating_sub(list.len() as u64);
        if more > 0 {
            let _ = writeln!(s, "  ... and {more} more (--limit N, 0 for all)");
        }
    }
    let mut s = format!("{}\n", r.message);
    group(&mut s, "Added", '+', &r.added, &r.counts.added);
    group(&mut s, "Changed", '~', &r.changed, &r.counts.changed);
    group(&mut s, "Removed", '-', &r.removed, &r.counts.removed);
    if r.counts.changed.total + r.counts.removed.total > 0 {
        let _ = writeln!(
            s,
            "\nrestore the changed and removed paths with: restore --backup-id {} --target DIR --path P ...",
            r.backup_id
        );
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}

pub fn check(r: &crate::ops::check::DrCheckResponse) -> String {
    let c = &r.results.checks;
    let rows = [
        (
            "backups_available",
            c.backups_available.level,
            &c.backups_available.detail,
            &c.backups_available.action,
        ),
        (
            "backup_integrity",
            c.backup_integrity.level,
            &c.backup_integrity.detail,
            &c.backup_integrity.action,
        ),
        (
            "recent_backup",
            c.recent_backup.level,
            &c.recent_backup.detail,
            &c.recent_backup.action,
        ),
        (
            "schedule_rpo",
            c.schedule_rpo.level,
            &c.schedule_rpo.detail,
            &c.schedule_rpo.action,
        ),
        (
            "last_validation",
            c.last_validation.level,
            &c.last_validation.detail,
            &c.last_validation.action,
        ),
        (
            "last_restore_test",
            c.last_restore_test.level,
            &c.last_restore_test.detail,
            &c.last_restore_test.action,
        ),
        (
            "retention_compliance",
            c.retention_compliance.level,
            &c.retention_compliance.detail,
            &c.retention_compliance.action,
        ),
        (
            "key_age",
            c.key_age.level,
            &c.key_age.detail,
            &c.key_age.action,
        ),
        (
            "replicas",
            c.replicas.level,
            &c.replicas.detail,
            &c.replicas.action,
        ),
        ("drills", c.drills.level, &c.drills.detail, &c.drills.action),
    ];
    let mut out = format!("{}\n", r.message);
    for (name, level, detail, action) in rows {
        let _ = writeln!(out, "  {name:<21} {}  {detail}", level_mark(level));
        if let Some(a) = action {
            let _ = writeln!(out, "  {:<21}       -> {a}", "");
        }
    }
    out
}

fn level_mark(l: crate::ops::report::Level) -> &'static str {
    match l {
        crate::ops::report::Level::Pass => "pass",
        crate::ops::report::Level::Warn => "WARN",
        crate::ops::report::Level::Fail => "FAIL",
    }
}

/// The DR report for a terminal.
pub fn report(r: &crate::ops::report::ReportResponse) -> String {
    let mut out = format!(
        "DR posture: {} ({})\n  generated {} on {}, repository {}\n\n",
        r.verdict.to_string().to_uppercase(),
        r.summary,
        present::timestamp(r.generated),
        r.host,
        r.repository
    );
    for c in &r.checks {
        let _ = writeln!(
            out,
            "  {:<34} {}  {}",
            c.title,
            level_mark(c.status),
            c.detail
        );
    }
    let b = &r.backups;
    let _ = writeln!(
        out,
        "\nbackups: {} ({} full, {} incremental, {} archival), {} stored{}",
        b.count,
        b.full,
        b.incremental,
        b.archival,
        present::bytes(b.stored_bytes),
        match (&b.newest_backup_id, b.newest_age_seconds) {
            (Some(id), Some(a)) => format!("; newest {id}, {} old", present::age(a)),
            _ => String::new(),
        }
    );
    if !r.hosts.is_empty() {
        let _ = writeln!(out, "newest backup per host:");
        host_lines(&mut out, &r.hosts);
    }
    if !r.replicas.is_empty() {
        let _ = writeln!(out, "replicas:");
        replica_lag_lines(&mut out, &r.replicas);
    }
    let _ = writeln!(
        out,
        "resilience score: {:.0}/100 (kept drills of the last {} days)",
        r.resilience.overall, r.resilience.window_days
    );
    for x in &r.resilience.scenarios {
        let _ = writeln!(
            out,
            "  {:<22} {:>5.1}  {}",
            x.scenario.id(),
            x.score,
            x.note
        );
    }
    let t = &r.history.trend;
    let dir = |d: crate::ops::history::Direction| {
        serde_json::to_value(d)
            .ok()
            .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
            .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "RTO: target {}, {} measurement(s), last {}, trend {}",
        present::duration(r.rto_target_seconds),
        r.rto_trend.len(),
        r.rto_trend
            .last()
            .map_or("-".into(), |p| present::duration(p.seconds)),
        dir(t.rto)
    );
    let _ = writeln!(
        out,
        "RPO: target {}, {}",
        present::duration(r.rpo_target_seconds),
        r.rpo
            .as_ref()
            .map_or("no backups yet".to_string(), |a| a.statement.clone())
    );
    if !r.recommendations.is_empty() {
        out.push_str("\nrecommendations:\n");
        for (i, rec) in r.recommendations.iter().enumerate() {
            let _ = writeln!(out, "  {}. {rec}", i + 1);
        }
    }
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// The per-stage times of a restore, one line.
fn stages(t: &crate::repo::timing::StageSeconds) -> String {
    format!(
        "  stages      read {}, decrypt {}, decompress {}, write {}, verify {} (summed over workers)\n",
        present::duration(t.read),
        present::duration(t.decrypt),
        present::duration(t.decompress),
        present::duration(t.write),
        present::duration(t.verify)
    )
}

pub fn restore_test(r: &crate::ops::restore_test::RestoreTestResponse) -> String {
    let mut out = format!("{}\n", r.message);
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    out.push_str(&format!(
        "  backup      {} ({}, chain of {})\n  restored    {} files, {} in {} ({})\n",
        r.backup_id,
        r.backup_type.map(|t| t.to_string()).unwrap_or_default(),
        r.chain_length,
        r.files,
        present::bytes(r.bytes),
        present::duration(r.restore_seconds),
        present::throughput(r.throughput_mib_s)
    ));
    out.push_str(&stages(&r.stages));
    out.push_str(&format!(
        "  RTO         {} achieved, target {}: {}\n",
        present::duration(r.rto_seconds),
        present::duration(r.rto_target_seconds),
        mark(r.rto_met)
    ));
    if let Some(rpo) = r.rpo_seconds {
        out.push_str(&format!(
            "  RPO         {} at test time, target {}: {}\n",
            present::age(rpo.round() as i64),
            present::duration(r.rpo_target_seconds),
            mark(r.rpo_met)
        ));
    }
    for d in &r.databases {
        out.push_str(&format!("  database    {}: {}\n", d.path, d.result));
    }
    if r.drift.compared {
        out.push_str(&format!(
            "  drift       {} added, {} changed, {} removed since the backup ({} at risk)\n",
            r.drift.added,
            r.drift.changed,
            r.drift.removed,
            present::bytes(r.drift.bytes_at_risk)
        ));
    }
    for reason in &r.reasons {
        out.push_str(&format!("  FAILED: {reason}\n"));
    }
    if r.kept {
        out.push_str(&format!("  kept        {}\n", r.scratch_dir));
    }
    out
}

pub fn history(r: &crate::ops::history::HistoryResponse) -> String {
    if r.records.is_empty() {
        return "no history yet: run `mahavishnu-dr restore-test run`".to_string();
    }
    let mut out = format!(
        "{} of {} record(s), oldest first\n",
        r.records.len(),
        r.total
    );
    for i in &r.records {
        let kind = serde_json::to_value(i.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let rto = i.rto_seconds.map_or("-".into(), present::duration);
        let rpo = i
            .rpo_seconds
            .map_or("-".into(), |s| crate::present::age(s.round() as i64));
        out.push_str(&format!(
            "  {}  {:<16} {:<6} RTO {:>10}  RPO {:>10}  {}\n",
            present::timestamp(i.at),
            kind,
            if i.passed { "pass" } else { "FAIL" },
            rto,
            rpo,
            i.host
        ));
    }
    let dir = |d: crate::ops::history::Direction| {
        serde_json::to_value(d)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
            .replace('_', " ")
    };
    out.push_str(&format!(
        "trend: RTO {}, RPO {}, pass rate {}\n",
        dir(r.trend.rto),
        dir(r.trend.rpo),
        r.trend.pass_rate.map_or("-".into(), present::percent)
    ));
    for u in &r.unreadable {
        out.push_str(&format!("unreadable: {u}\n"));
    }
    out
}

pub fn rpo(r: &crate::ops::rpo::MeasureRpoResponse) -> String {
    let a = &r.analysis;
    let mut text = format!("{}\n", a.statement);
    for reason in &a.reasons {
        text.push_str(&format!("  {reason}\n"));
    }
    for rec in &a.recommendations {
        text.push_str(&format!("  recommendation: {rec}\n"));
    }
    text
}

pub fn rto(r: &crate::ops::rto::MeasureRtoResponse) -> String {
    let mut out = format!("{}\n", r.message);
    out.push_str(&format!(
        "  backup      {} ({}, chain of {})\n  restored    {} files, {} in {} ({}){}\n",
        r.backup_id,
        r.backup_type,
        r.chain_length,
        r.files,
        present::bytes(r.bytes),
        present::duration(r.rto_seconds),
        present::throughput(r.throughput_mib_s),
        if r.verified {
            ", every file's SHA-256 checked"
        } else {
            ""
        }
    ));
    out.push_str(&stages(&r.stages));
    out.push_str(&format!(
        "  RTO         {} measured, target {}: {}\n",
        present::duration(r.rto_seconds),
        present::duration(r.rto_target_seconds),
        if r.rto_met { "met" } else { "MISSED" }
    ));
    let e = &r.estimate;
    out.push_str(&format!(
        "  full set    {} estimated ({}): {}\n",
        present::duration(e.estimated_rto_seconds),
        if e.estimated_rto_met {
            "within the target"
        } else {
            "OVER the target"
        },
        e.method
    ));
    for reason in &r.reasons {
        out.push_str(&format!("  FAILED: {reason}\n"));
    }
    out
}

/// `unlock`: every lock removed or kept, with who held it and why.
pub fn unlock(r: &crate::ops::unlock::UnlockResponse) -> String {
    let mut s = format!("{}\n", r.message);
    let line = |verb: &str, i: &crate::ops::unlock::UnlockItem| match (&i.mode, &i.operation) {
        (Some(mode), Some(op)) => format!(
            "  {verb} {} lock of `{op}` held by {} pid {}, {}: {}\n",
            mode.as_str(),
            i.host.as_deref().unwrap_or("?"),
            i.pid.map_or("?".into(), |p| p.to_string()),
            match i.age_seconds.unwrap_or(0) {
                a if a < 0 => format!("dated {} in the future", present::age(-a)),
                a => format!("age {}", present::age(a)),
            },
            i.reason
        ),
        _ => format!("  {verb} {}: {}\n", i.object, i.reason),
    };
    for i in &r.removed {
        s.push_str(&line("removed", i));
    }
    for i in &r.kept {
        s.push_str(&line("kept   ", i));
    }
    s
}
