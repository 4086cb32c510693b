//! Retention planning: which backups a cleanup keeps and which it removes, and why (pure; no I/O:
//! the caller loads the catalog). `cleanup` applies the plan; the posture evidence reads it.
//!
//! Retention is per backup type (seed: incremental 7 days, full 4 weeks, archival 12 calendar
//! months). A backup is within retention when `now - finished` is at most its type's window; months
//! are calendar months (`chrono::Months`: 12 months before 2026-03-31 is 2025-03-31, one month
//! before 2026-03-31 is 2026-02-28). A type with no window is kept forever.
//!
//! Always kept: the newest backup, the newest full backup (the newest archival when there is no
//! full), and every backup within retention. Then the kept set is closed over `depends_on`: a
//! backup that a kept backup needs is kept too, transitively, so a cleanup removes whole dependency
//! closures only. Everything else is removed. Every decision carries a sentence a dry run prints.
//!
//! Retention is per host: "newest" and "last full" are each host's own, and a plan limited to
//! one host (a cleanup without `--all-hosts`) keeps every backup of the other hosts.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Months, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::Result;
use crate::repo::BackupType;
use crate::repo::catalog::Catalog;
use crate::settings::BackupSettings;

/// One backup as retention sees it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RetentionCandidate {
    pub backup_id: String,
    /// The host that made it.
    pub host: String,
    pub backup_type: BackupType,
    pub finished: DateTime<Utc>,
    /// Backups whose volumes this one reads (its chain ancestors).
    pub depends_on: Vec<String>,
}

/// How long backups of one type are kept, in the unit the settings gave. Serialized as
/// `{"days": 7}`, `{"weeks": 4}` or `{"months": 12}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetentionWindow {
    Days(u32),
    Weeks(u32),
    /// Calendar months.
    Months(u32),
}

/// Average Gregorian month (365.2425 / 12 days), used only to compare windows of different units.
const AVERAGE_MONTH_SECONDS: u64 = 2_629_746;

impl RetentionWindow {
    /// The oldest `finished` still within this window at `now`; None when the window reaches past
    /// the start of representable time (everything is within it).
    pub fn cutoff(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            RetentionWindow::Days(n) => now.checked_sub_signed(TimeDelta::try_days(i64::from(n))?),
            RetentionWindow::Weeks(n) => {
                now.checked_sub_signed(TimeDelta::try_weeks(i64::from(n))?)
            }
            RetentionWindow::Months(n) => now.checked_sub_months(Months::new(n)),
        }
    }

    /// When a backup finished at `finished` leaves this window (`None`: past representable time).
    pub fn end(self, finished: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            RetentionWindow::Days(n) => {
                finished.checked_add_signed(TimeDelta::try_days(i64::from(n))?)
            }
            RetentionWindow::Weeks(n) => {
                finished.checked_add_signed(TimeDelta::try_weeks(i64::from(n))?)
            }
            RetentionWindow::Months(n) => finished.checked_add_months(Months::new(n)),
        }
    }

    /// Whether a backup finished at `finished` is within this window at `now`
    /// (`now - finished <= window`; a backup dated after `now` is within).
    pub fn contains(self, finished: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        match self.cutoff(now) {
            Some(cutoff) => finished >= cutoff,
            None => true,
        }
    }

    /// The window's nominal length in seconds (a month counts as an average month); only for
    /// deciding which of two windows is longer.
    pub fn nominal_seconds(self) -> u64 {
        match self {
            RetentionWindow::Days(n) => u64::from(n) * 86_400,
            RetentionWindow::Weeks(n) => u64::from(n) * 7 * 86_400,
            RetentionWindow::Months(n) => u64::from(n) * AVERAGE_MONTH_SECONDS,
        }
    }

    /// The longer of two windows; on a tie, `self`.
    fn longer(self, other: RetentionWindow) -> RetentionWindow {
        if other.nominal_seconds() > self.nominal_seconds() {
            other
        } else {
            self
        }
    }
}

impl fmt::Display for RetentionWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            RetentionWindow::Days(n) => (n, "day"),
            RetentionWindow::Weeks(n) => (n, "week"),
            RetentionWindow::Months(n) => (n, "month"),
        };
        write!(f, "{}", plural(i64::from(n), unit))
    }
}

/// How long each backup type is kept. None keeps that type forever.
///
/// Windows keep the unit the settings gave, so the seed's policy is exactly incremental 7 days,
/// full 4 weeks, archival 12 calendar months.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RetentionPolicy {
    pub incremental: Option<RetentionWindow>,
    pub full: Option<RetentionWindow>,
    pub archival: Option<RetentionWindow>,
}

impl RetentionPolicy {
    /// The policy that `backup.schedules` expresses. Each schedule's type is its resolved
    /// `backup_type` (the setting, or else its name's ending); its window is its
    /// `retention_days`, `retention_weeks` or `retention_months` (any unit for any type; if one
    /// schedule gives several, the longest counts). When several schedules run the same type, the
    /// longest window wins. Disabled schedules still define retention; a schedule without a
    /// retention key says nothing about its type. A type no schedule gives a window is kept
    /// forever.
    pub fn from_settings(b: &BackupSettings) -> RetentionPolicy {
        let mut policy = RetentionPolicy::default();
        for s in b.schedules.values() {
            let backup_type = BackupType::from(s.backup_type);
            let window = [
                s.retention_days.map(RetentionWindow::Days),
                s.retention_weeks.map(RetentionWindow::Weeks),
                s.retention_months.map(RetentionWindow::Months),
            ]
            .into_iter()
            .flatten()
            .reduce(RetentionWindow::longer);
            if let Some(w) = window {
                let slot = policy.slot_mut(backup_type);
                *slot = Some(match *slot {
                    Some(old) => old.longer(w),
                    None => w,
                });
            }
        }
        policy
    }

    /// The window for one backup type; None keeps it forever.
    pub fn window(&self, t: BackupType) -> Option<RetentionWindow> {
        match t {
            BackupType::Incremental => self.incremental,
            BackupType::Full => self.full,
            BackupType::Archival => self.archival,
        }
    }

    fn slot_mut(&mut self, t: BackupType) -> &mut Option<RetentionWindow> {
        match t {
            BackupType::Incremental => &mut self.incremental,
            BackupType::Full => &mut self.full,
            BackupType::Archival => &mut self.archival,
        }
    }
}

/// One decision of a plan.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlanItem {
    pub backup_id: String,
    /// The host that made it.
    pub host: String,
    pub backup_type: BackupType,
    pub finished: DateTime<Utc>,
    /// Why: "newest backup", "last full backup: never removed", "within retention: 3 days old,
    /// incremental keeps 7 days", "needed by kept backup_X (its chain)", "expired: 40 days old,
    /// full keeps 4 weeks". Several reasons to keep are joined with "; ".
    pub reason: String,
}

/// What a cleanup keeps and removes; both lists newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RetentionPlan {
    pub keep: Vec<PlanItem>,
    pub remove: Vec<PlanItem>,
}

/// Newest first: later `finished` first, then the larger id (ids sort by creation time).
fn newest_first(a: &RetentionCandidate, b: &RetentionCandidate) -> Ordering {
    b.finished
        .cmp(&a.finished)
        .then_with(|| b.backup_id.cmp(&a.backup_id))
}

/// Decide which of `candidates` to keep and which to remove under `policy` at `now`, every
/// host's backups under its own retention. `depends_on` ids that are not among the candidates
/// are ignored.
#[cfg(test)]
pub fn plan_retention(
    candidates: &[RetentionCandidate],
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> RetentionPlan {
    plan_retention_of(candidates, policy, now, None)
}

/// [`plan_retention`] limited to the backups of `only_host` (all hosts' with `None`): the
/// other hosts' backups are kept, and say so.
pub fn plan_retention_of(
    candidates: &[RetentionCandidate],
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    only_host: Option<&str>,
) -> RetentionPlan {
    let n = candidates.len();
    let several_hosts = candidates.iter().any(|c| c.host != candidates[0].host);
    let of_host = |host: &str| {
        if several_hosts {
            format!(" of host {}", super::hosts::shown(host))
        } else {
            String::new()
        }
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| newest_first(&candidates[a], &candidates[b]));

    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        by_id.entry(c.backup_id.as_str()).or_default().push(i);
    }

    // Reasons a backup is kept on its own account.
    let mut reasons: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut hosts: Vec<&str> = candidates.iter().map(|c| c.host.as_str()).collect();
    hosts.sort_unstable();
    hosts.dedup();
    for host in hosts {
        if only_host.is_some_and(|h| h != host) {
            for i in (0..n).filter(|&i| candidates[i].host == host) {
                reasons[i].push(format!(
                    "backup of another host ({}): a cleanup on this host never removes it \
                     (--all-hosts applies retention to every host)",
                    super::hosts::shown(host)
                ));
            }
            continue;
        }
        let mine = || {
            order
                .iter()
                .copied()
                .filter(|&i| candidates[i].host == host)
        };
        if let Some(newest) = mine().next() {
            reasons[newest].push(format!("newest backup{}", of_host(host)));
        }
        let newest_of = |t: BackupType| mine().find(|&i| candidates[i].backup_type == t);
        if let Some(i) = newest_of(BackupType::Full) {
            reasons[i].push(format!("last full backup{}: never removed", of_host(host)));
        } else if let Some(i) = newest_of(BackupType::Archival) {
            reasons[i].push(format!(
                "last full backup{} (archival; there is no full backup): never removed",
                of_host(host)
            ));
        }
    }
    for (i, c) in candidates.iter().enumerate() {
        if only_host.is_some_and(|h| h != c.host) {
            continue;
        }
        match policy.window(c.backup_type) {
            None => reasons[i].push(format!(
                "within retention: {} backups are kept forever (no retention set)",
                c.backup_type
            )),
            Some(w) if w.contains(c.finished, now) => reasons[i].push(format!(
                "within retention: {} old, {} keeps {w}",
                describe_age(now - c.finished),
                c.backup_type
            )),
            Some(_) => {}
        }
    }

    // Close over dependencies.
    let mut kept: Vec<bool> = reasons.iter().map(|r| !r.is_empty()).collect();
    let mut work: Vec<usize> = (0..n).filter(|&i| kept[i]).collect();
    while let Some(k) = work.pop() {
        for dep in &candidates[k].depends_on {
            for &j in by_id
                .get(dep.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if !kept[j] {
                    kept[j] = true;
                    work.push(j);
                }
            }
        }
    }

    // Who needs each backup: kept dependents, newest first.
    let mut needed_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &k in order.iter().filter(|&&k| kept[k]) {
        for dep in &candidates[k].depends_on {
            for &j in by_id
                .get(dep.as_str())
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if j != k && needed_by[j].last() != Some(&k) {
                    needed_by[j].push(k);
                }
            }
        }
    }

    let mut plan = RetentionPlan {
        keep: Vec::new(),
        remove: Vec::new(),
    };
    for &i in &order {
        let c = &candidates[i];
        let item = |reason: String| PlanItem {
            backup_id: c.backup_id.clone(),
            host: c.host.clone(),
            backup_type: c.backup_type,
            finished: c.finished,
            reason,
        };
        if !reasons[i].is_empty() {
            plan.keep.push(item(reasons[i].join("; ")));
        } else if kept[i] {
            let ids: Vec<&str> = needed_by[i]
                .iter()
                .map(|&k| candidates[k].backup_id.as_str())
                .collect();
            plan.keep.push(item(describe_needed_by(&ids)));
        } else {
            let keeps = match policy.window(c.backup_type) {
                Some(w) => w.to_string(),
                None => "them forever".to_string(),
            };
            plan.remove.push(item(format!(
                "expired: {} old, {} keeps {keeps}",
                describe_age(now - c.finished),
                c.backup_type
            )));
        }
    }
    plan
}

/// "needed by kept backup_X (its chain)", "needed by kept backup_X and backup_Y (their chains)",
/// "needed by kept backup_X, backup_Y, backup_Z and 4 others (their chains)".
fn describe_needed_by(ids: &[&str]) -> String {
    const LISTED: usize = 3;
    match ids {
        [] => "needed by a kept backup (its chain)".to_string(),
        [one] => format!("needed by kept {one} (its chain)"),
        _ if ids.len() <= LISTED => {
            let (last, rest) = match ids.split_last() {
                Some(split) => split,
                None => return String::new(),
            };
            format!(
                "needed by kept {} and {last} (their chains)",
                rest.join(", ")
            )
        }
        _ => format!(
            "needed by kept {} and {} (their chains)",
            ids[..LISTED].join(", "),
            if ids.len() - LISTED == 1 {
                "1 other".to_string()
            } else {
                format!("{} others", ids.len() - LISTED)
            }
        ),
    }
}

fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

/// An age in words, followed by " old" by the caller: "61 days" (from 60 days on, days only),
/// else the two largest non-zero of days, hours and minutes ("4 days 10 hours", "7 days 10 minutes",
/// "5 hours"), or "less than a minute". Precise enough that an age just past a window does not read
/// as equal to it.
fn describe_age(age: TimeDelta) -> String {
    if age < TimeDelta::zero() {
        return "0 minutes (dated in the future)".to_string();
    }
    let days = age.num_days();
    if days >= 60 {
        return plural(days, "day");
    }
    let parts: Vec<String> = [
        (days, "day"),
        (age.num_hours() % 24, "hour"),
        (age.num_minutes() % 60, "minute"),
    ]
    .into_iter()
    .filter(|(n, _)| *n > 0)
    .take(2)
    .map(|(n, unit)| plural(n, unit))
    .collect();
    if parts.is_empty() {
        "less than a minute".to_string()
    } else {
        parts.join(" ")
    }
}

impl Dr {
    /// The retention plan for `catalog` at `now`, for the backups of `only_host` (every host's
    /// with `None`). No lock: cleanup holds one; the report only reads the plan.
    pub(crate) fn retention_plan(
        &self,
        catalog: &Catalog,
        now: DateTime<Utc>,
        only_host: Option<&str>,
    ) -> Result<RetentionPlan> {
        let policy = RetentionPolicy::from_settings(&self.settings.settings.backup);
        let candidates: Vec<RetentionCandidate> = catalog
            .backups
            .iter()
            .map(|b| {
                // A backup needs the backups its files are in and its whole parent chain (so the
                // chain stays intact for validation and for the next incremental).
                let mut needs: std::collections::BTreeSet<String> =
                    b.depends_on.iter().cloned().collect();
                if let Some(p) = &b.parent {
                    needs.insert(p.clone());
                }
                RetentionCandidate {
                    backup_id: b.backup_id.clone(),
                    host: b.host.clone(),
                    backup_type: b.backup_type,
                    finished: b.finished,
                    depends_on: needs.into_iter().collect(),
                }
            })
            .collect();
        Ok(plan_retention_of(&candidates, &policy, now, only_host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{BackupSchedule, BackupTypeSetting};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn seed_settings() -> BackupSettings {
        crate::settings::test_support::seed_settings().backup
    }

    fn seed_policy() -> RetentionPolicy {
        RetentionPolicy::from_settings(&seed_settings())
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn cand(id: &str, t: BackupType, finished: &str, deps: &[&str]) -> RetentionCandidate {
        RetentionCandidate {
            backup_id: id.to_string(),
            host: "h".to_string(),
            backup_type: t,
            finished: utc(finished),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn ids(items: &[PlanItem]) -> Vec<&str> {
        items.iter().map(|i| i.backup_id.as_str()).collect()
    }

    fn reasons(plan: &RetentionPlan) -> BTreeMap<&str, &str> {
        plan.keep
            .iter()
            .chain(&plan.remove)
            .map(|i| (i.backup_id.as_str(), i.reason.as_str()))
            .collect()
    }

    #[test]
    fn seed_policy_from_real_settings() {
        let b = seed_settings();
        assert_eq!(b.schedules.len(), 3);
        assert_eq!(
            seed_policy(),
            RetentionPolicy {
                incremental: Some(RetentionWindow::Days(7)),
                full: Some(RetentionWindow::Weeks(4)),
                archival: Some(RetentionWindow::Months(12)),
            }
        );
        assert_eq!(
            serde_json::to_value(seed_policy()).unwrap(),
            serde_json::json!({
                "incremental": {"days": 7},
                "full": {"weeks": 4},
                "archival": {"months": 12},
            })
        );
    }

    fn schedule(
        t: BackupTypeSetting,
        days: Option<u32>,
        weeks: Option<u32>,
        months: Option<u32>,
    ) -> BackupSchedule {
        let mut s = seed_settings().schedules["daily_incremental"].clone();
        s.backup_type = t;
        s.retention_days = days;
        s.retention_weeks = weeks;
        s.retention_months = months;
        s
    }

    #[test]
    fn policy_rules_from_settings() {
        use BackupTypeSetting::{Archival, Full, Incremental};
        let mut b = seed_settings();
        // A second incremental schedule with a longer window wins; a disabled one still counts.
        let mut hourly = schedule(Incremental, None, Some(2), None);
        hourly.enabled = false;
        b.schedules.insert("hourly_incremental".into(), hourly);
        // A shorter full window loses.
        b.schedules
            .insert("extra_full".into(), schedule(Full, Some(3), None, None));
        // backup_type overrides the name; several units in one schedule: the longest counts.
        b.schedules.insert(
            "monthly_full_copy".into(),
            schedule(Archival, Some(400), None, Some(12)),
        );
        let p = RetentionPolicy::from_settings(&b);
        assert_eq!(p.incremental, Some(RetentionWindow::Weeks(2)));
        assert_eq!(p.full, Some(RetentionWindow::Weeks(4)));
        assert_eq!(p.archival, Some(RetentionWindow::Days(400)));

        // One month is longer than 30 days, shorter than 31.
        let mut b = BackupSettings::default();
        b.schedules
            .insert("a_full".into(), schedule(Full, Some(30), None, None));
        b.schedules
            .insert("b_full".into(), schedule(Full, None, None, Some(1)));
        b.schedules.insert(
            "a_archival".into(),
            schedule(Archival, Some(31), None, None),
        );
        b.schedules
            .insert("b_archival".into(), schedule(Archival, None, None, Some(1)));
        // Equal windows: the first (by name) stays.
        b.schedules.insert(
            "a_incremental".into(),
            schedule(Incremental, Some(7), None, None),
        );
        b.schedules.insert(
            "b_incremental".into(),
            schedule(Incremental, None, Some(1), None),
        );
        let p = RetentionPolicy::from_settings(&b);
        assert_eq!(p.full, Some(RetentionWindow::Months(1)));
        assert_eq!(p.archival, Some(RetentionWindow::Days(31)));
        assert_eq!(p.incremental, Some(RetentionWindow::Days(7)));

        // No retention keys: kept forever.
        let mut b = BackupSettings::default();
        b.schedules.insert(
            "daily_incremental".into(),
            schedule(Incremental, None, None, None),
        );
        assert_eq!(
            RetentionPolicy::from_settings(&b),
            RetentionPolicy::default()
        );
        // No schedules at all.
        assert_eq!(
            RetentionPolicy::from_settings(&BackupSettings::default()),
            RetentionPolicy::default()
        );
    }

    #[test]
    fn windows_are_inclusive_and_months_are_calendar_months() {
        let now = utc("2026-03-31T12:00:00Z");
        let m12 = RetentionWindow::Months(12);
        assert!(m12.contains(utc("2025-03-31T12:00:00Z"), now));
        assert!(!m12.contains(utc("2025-03-31T11:59:59Z"), now));
        let m1 = RetentionWindow::Months(1);
        assert_eq!(m1.cutoff(now), Some(utc("2026-02-28T12:00:00Z")));
        // 12 months back over a leap day is 366 days.
        let now = utc("2024-03-01T00:00:00Z");
        assert!(m12.contains(utc("2023-03-01T00:00:00Z"), now));
        assert!(!RetentionWindow::Days(365).contains(utc("2023-03-01T00:00:00Z"), now));
        let now = utc("2025-03-01T00:00:00Z");
        let d7 = RetentionWindow::Days(7);
        assert!(d7.contains(utc("2025-02-22T00:00:00Z"), now));
        assert!(!d7.contains(utc("2025-02-21T23:59:59Z"), now));
        assert!(RetentionWindow::Weeks(4).contains(utc("2025-02-01T00:00:00Z"), now));
        assert!(!RetentionWindow::Weeks(4).contains(utc("2025-01-31T23:59:59Z"), now));
        // Dated after now: within.
        assert!(d7.contains(utc("2025-03-02T00:00:00Z"), now));
        // Huge windows reach past representable time: everything is within.
        assert!(RetentionWindow::Days(u32::MAX).contains(DateTime::<Utc>::MIN_UTC, now));
        assert!(RetentionWindow::Months(u32::MAX).contains(DateTime::<Utc>::MIN_UTC, now));
        assert_eq!(RetentionWindow::Weeks(1).to_string(), "1 week");
        assert_eq!(RetentionWindow::Months(12).to_string(), "12 months");
    }

    #[test]
    fn hand_made_catalog_exact_plan_and_reasons() {
        let now = "2026-05-01T12:00:00Z";
        let cands = vec![
            cand("backup_a", BackupType::Full, "2026-03-01T03:00:00Z", &[]),
            cand(
                "backup_b",
                BackupType::Incremental,
                "2026-03-02T02:00:00Z",
                &["backup_a"],
            ),
            cand("backup_c", BackupType::Full, "2026-04-01T03:00:00Z", &[]),
            cand(
                "backup_d",
                BackupType::Incremental,
                "2026-04-20T02:00:00Z",
                &["backup_c"],
            ),
            cand(
                "backup_e",
                BackupType::Incremental,
                "2026-04-27T02:00:00Z",
                &["backup_c", "backup_d"],
            ),
            cand("backup_f", BackupType::Full, "2026-04-29T03:00:00Z", &[]),
            cand(
                "backup_g",
                BackupType::Incremental,
                "2026-04-30T02:00:00Z",
                &["backup_f"],
            ),
        ];
        let plan = plan_retention(&cands, &seed_policy(), utc(now));
        assert_eq!(
            ids(&plan.keep),
            ["backup_g", "backup_f", "backup_e", "backup_d", "backup_c"]
        );
        assert_eq!(ids(&plan.remove), ["backup_b", "backup_a"]);
        let r = reasons(&plan);
        assert_eq!(
            r["backup_g"],
            "newest backup; within retention: 1 day 10 hours old, incremental keeps 7 days"
        );
        assert_eq!(
            r["backup_f"],
            "last full backup: never removed; within retention: 2 days 9 hours old, full keeps 4 weeks"
        );
        assert_eq!(
            r["backup_e"],
            "within retention: 4 days 10 hours old, incremental keeps 7 days"
        );
        assert_eq!(r["backup_d"], "needed by kept backup_e (its chain)");
        assert_eq!(
            r["backup_c"],
            "needed by kept backup_e and backup_d (their chains)"
        );
        assert_eq!(
            r["backup_b"],
            "expired: 60 days old, incremental keeps 7 days"
        );
        assert_eq!(r["backup_a"], "expired: 61 days old, full keeps 4 weeks");
        // The plan serializes as the faces print it.
        let json = serde_json::to_value(&plan).unwrap();
        assert_eq!(json["remove"][1]["backup_type"], "full");
        assert_eq!(json["keep"][0]["backup_id"], "backup_g");
    }

    #[test]
    fn retention_is_per_host_and_a_plan_for_one_host_keeps_the_others() {
        use BackupType::Full;
        let now = utc("2026-03-01T00:00:00Z");
        let on = |host: &str, mut c: RetentionCandidate| {
            c.host = host.to_string();
            c
        };
        let c = vec![
            on("a", cand("a_old", Full, "2025-12-01T00:00:00Z", &[])),
            on("a", cand("a_new", Full, "2026-02-28T00:00:00Z", &[])),
            on("b", cand("b_old", Full, "2025-12-02T00:00:00Z", &[])),
            // Expired, but host b's last full: kept although host a has a newer full.
            on("b", cand("b_last", Full, "2026-01-01T00:00:00Z", &[])),
        ];
        let all = plan_retention(&c, &seed_policy(), now);
        assert_eq!(ids(&all.remove), ["b_old", "a_old"]);
        let r = reasons(&all);
        assert!(
            r["b_last"].contains("last full backup of host b"),
            "{}",
            r["b_last"]
        );
        assert!(
            r["a_new"].contains("newest backup of host a"),
            "{}",
            r["a_new"]
        );
        assert!(all.remove.iter().all(|i| i.host == i.backup_id[..1]));

        let only_a = plan_retention_of(&c, &seed_policy(), now, Some("a"));
        assert_eq!(ids(&only_a.remove), ["a_old"]);
        let r = reasons(&only_a);
        for b in ["b_old", "b_last"] {
            assert!(r[b].starts_with("backup of another host (b)"), "{}", r[b]);
        }
    }

    #[test]
    fn empty_catalog() {
        let plan = plan_retention(&[], &seed_policy(), utc("2026-01-01T00:00:00Z"));
        assert!(plan.keep.is_empty());
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn no_policy_keeps_everything() {
        let cands = synthetic_catalog(utc("2025-01-01T00:00:00Z"), 120);
        let plan = plan_retention(
            &cands,
            &RetentionPolicy::default(),
            utc("2030-01-01T00:00:00Z"),
        );
        assert_eq!(plan.keep.len(), cands.len());
        assert!(plan.remove.is_empty());
        let r = reasons(&plan);
        assert!(
            r["backup_001_incremental"]
                .starts_with("within retention: incremental backups are kept forever")
        );
    }

    #[test]
    fn dangling_and_self_dependencies_are_ignored() {
        let cands = vec![
            cand(
                "backup_a",
                BackupType::Incremental,
                "2020-01-01T00:00:00Z",
                &["backup_gone"],
            ),
            cand(
                "backup_b",
                BackupType::Incremental,
                "2020-01-02T00:00:00Z",
                &["backup_b", "backup_nowhere"],
            ),
        ];
        let plan = plan_retention(&cands, &seed_policy(), utc("2026-01-01T00:00:00Z"));
        assert_eq!(ids(&plan.keep), ["backup_b"]);
        assert_eq!(reasons(&plan)["backup_b"], "newest backup");
        assert_eq!(ids(&plan.remove), ["backup_a"]);
    }

    #[test]
    fn last_full_falls_back_to_the_newest_archival() {
        let cands = vec![
            cand(
                "backup_a",
                BackupType::Archival,
                "2020-01-01T04:00:00Z",
                &[],
            ),
            cand(
                "backup_b",
                BackupType::Archival,
                "2020-02-01T04:00:00Z",
                &[],
            ),
            cand(
                "backup_c",
                BackupType::Incremental,
                "2020-02-02T02:00:00Z",
                &["backup_b"],
            ),
        ];
        let plan = plan_retention(&cands, &seed_policy(), utc("2026-01-01T00:00:00Z"));
        assert_eq!(ids(&plan.keep), ["backup_c", "backup_b"]);
        let r = reasons(&plan);
        assert_eq!(r["backup_c"], "newest backup");
        assert!(r["backup_b"].starts_with("last full backup (archival"));
        assert!(r["backup_b"].ends_with("never removed"));
        assert!(r["backup_a"].starts_with("expired: "));
        assert!(r["backup_a"].ends_with("archival keeps 12 months"));

        // A full, however old, is preferred to a newer archival.
        let cands = vec![
            cand("backup_a", BackupType::Full, "2020-01-01T03:00:00Z", &[]),
            cand(
                "backup_b",
                BackupType::Archival,
                "2020-02-01T04:00:00Z",
                &[],
            ),
            cand(
                "backup_c",
                BackupType::Incremental,
                "2020-02-02T02:00:00Z",
                &["backup_b"],
            ),
        ];
        let plan = plan_retention(&cands, &seed_policy(), utc("2026-01-01T00:00:00Z"));
        assert_eq!(ids(&plan.keep), ["backup_c", "backup_b", "backup_a"]);
        let r = reasons(&plan);
        assert_eq!(r["backup_a"], "last full backup: never removed");
        assert_eq!(r["backup_b"], "needed by kept backup_c (its chain)");
    }

    /// `days` days of backups: an archival every 30th day, else a full every 7th day, else an
    /// incremental; every full and archival starts a chain, and each incremental depends on every
    /// backup of its chain so far.
    fn synthetic_catalog(start: DateTime<Utc>, days: i64) -> Vec<RetentionCandidate> {
        let mut out = Vec::new();
        let mut chain: Vec<String> = Vec::new();
        for d in 0..days {
            let (t, hour) = if d % 30 == 0 {
                (BackupType::Archival, 4)
            } else if d % 7 == 0 {
                (BackupType::Full, 3)
            } else {
                (BackupType::Incremental, 2)
            };
            let id = format!("backup_{d:03}_{t}");
            let finished = start + TimeDelta::days(d) + TimeDelta::hours(hour);
            let depends_on = if t == BackupType::Incremental {
                chain.clone()
            } else {
                chain.clear();
                Vec::new()
            };
            chain.push(id.clone());
            out.push(RetentionCandidate {
                host: "h".to_string(),
                backup_id: id,
                backup_type: t,
                finished,
                depends_on,
            });
        }
        out
    }

    /// The seed windows, computed independently of `RetentionWindow`.
    fn seed_within(c: &RetentionCandidate, now: DateTime<Utc>) -> bool {
        use chrono::Datelike;
        match c.backup_type {
            BackupType::Incremental => now - c.finished <= TimeDelta::days(7),
            BackupType::Full => now - c.finished <= TimeDelta::days(28),
            // `now` in these tests is never on 29 February, so "a year ago" is the same date.
            BackupType::Archival => {
                let year_ago = now.with_year(now.year() - 1).unwrap();
                c.finished >= year_ago
            }
        }
    }

    /// The expected kept set by fixpoint iteration: anchors, then add dependencies until stable.
    fn expected_keep(
        cands: &[RetentionCandidate],
        within: impl Fn(&RetentionCandidate) -> bool,
    ) -> BTreeSet<String> {
        let all: BTreeSet<&str> = cands.iter().map(|c| c.backup_id.as_str()).collect();
        let mut keep: BTreeSet<String> = BTreeSet::new();
        if let Some(newest) = cands.iter().max_by(|a, b| newest_first(b, a)) {
            keep.insert(newest.backup_id.clone());
        }
        let newest_of = |t| {
            cands
                .iter()
                .filter(|c| c.backup_type == t)
                .max_by_key(|c| (c.finished, c.backup_id.clone()))
        };
        if let Some(f) = newest_of(BackupType::Full).or_else(|| newest_of(BackupType::Archival)) {
            keep.insert(f.backup_id.clone());
        }
        keep.extend(
            cands
                .iter()
                .filter(|c| within(c))
                .map(|c| c.backup_id.clone()),
        );
        loop {
            let before = keep.len();
            for c in cands {
                if keep.contains(&c.backup_id) {
                    for d in &c.depends_on {
                        if all.contains(d.as_str()) {
                            keep.insert(d.clone());
                        }
                    }
                }
            }
            if keep.len() == before {
                return keep;
            }
        }
    }

    /// Checks every plan must pass, whatever the catalog.
    fn check_invariants(
        cands: &[RetentionCandidate],
        plan: &RetentionPlan,
        within: impl Fn(&RetentionCandidate) -> bool,
    ) {
        let by_id: HashMap<&str, &RetentionCandidate> =
            cands.iter().map(|c| (c.backup_id.as_str(), c)).collect();
        let kept: BTreeSet<&str> = plan.keep.iter().map(|i| i.backup_id.as_str()).collect();
        let removed: BTreeSet<&str> = plan.remove.iter().map(|i| i.backup_id.as_str()).collect();
        assert_eq!(plan.keep.len() + plan.remove.len(), cands.len());
        assert!(kept.is_disjoint(&removed));
        assert_eq!(kept.len() + removed.len(), by_id.len());
        for list in [&plan.keep, &plan.remove] {
            assert!(
                list.windows(2).all(|w| w[0].finished >= w[1].finished),
                "not newest first"
            );
        }
        for item in &plan.remove {
            let c = by_id[item.backup_id.as_str()];
            assert!(!within(c), "{} removed within retention", c.backup_id);
            assert!(item.reason.starts_with("expired: "), "{}", item.reason);
        }
        for item in &plan.keep {
            let c = by_id[item.backup_id.as_str()];
            for d in &c.depends_on {
                assert!(
                    !removed.contains(d.as_str()),
                    "kept {} needs removed {d}",
                    c.backup_id
                );
            }
            assert!(
                [
                    "newest backup",
                    "last full backup",
                    "within retention: ",
                    "needed by kept "
                ]
                .iter()
                .any(|p| item.reason.starts_with(p)),
                "{}",
                item.reason
            );
            if item.reason.starts_with("needed by kept ") {
                // Someone kept really needs it.
                assert!(plan.keep.iter().any(|k| {
                    by_id[k.backup_id.as_str()]
                        .depends_on
                        .contains(&item.backup_id)
                        && item.reason.contains(&k.backup_id)
                }));
            }
        }
        for c in cands {
            if within(c) {
                assert!(
                    kept.contains(c.backup_id.as_str()),
                    "{} within but removed",
                    c.backup_id
                );
            }
        }
        if let Some(newest) = cands.iter().max_by(|a, b| newest_first(b, a)) {
            assert_eq!(plan.keep[0].backup_id, newest.backup_id);
        }
        assert!(
            cands.is_empty()
                || plan
                    .keep
                    .iter()
                    .any(|i| i.backup_type != BackupType::Incremental)
                || cands
                    .iter()
                    .all(|c| c.backup_type == BackupType::Incremental),
            "no full or archival kept"
        );
        let expected = expected_keep(cands, within);
        let got: BTreeSet<String> = kept.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn synthetic_120_days_with_seed_policy() {
        let start = utc("2025-01-01T00:00:00Z");
        let cands = synthetic_catalog(start, 120);
        let policy = seed_policy();
        // At several points in (and after) the catalog's life.
        for offset_days in [30, 45, 60, 90, 119, 121, 130, 150, 200, 400, 800] {
            let now = start + TimeDelta::days(offset_days) + TimeDelta::hours(12);
            let visible: Vec<_> = cands
                .iter()
                .filter(|c| c.finished <= now)
                .cloned()
                .collect();
            let plan = plan_retention(&visible, &policy, now);
            check_invariants(&visible, &plan, |c| seed_within(c, now));
        }

        // Day 119 is 2025-04-30; at 12:00 that day, incrementals of days 113..=118 are within
        // 7 days, fulls of days 98..=119 within 4 weeks, every archival within 12 months.
        let now = utc("2025-04-30T12:00:00Z");
        let plan = plan_retention(&cands, &policy, now);
        let r = reasons(&plan);
        assert_eq!(
            r["backup_119_full"],
            "newest backup; last full backup: never removed; \
             within retention: 9 hours old, full keeps 4 weeks"
        );
        assert_eq!(
            r["backup_090_archival"],
            "within retention: 29 days 8 hours old, archival keeps 12 months"
        );
        assert_eq!(
            r["backup_000_archival"],
            "within retention: 119 days old, archival keeps 12 months"
        );
        assert_eq!(
            r["backup_112_full"],
            "within retention: 7 days 9 hours old, full keeps 4 weeks"
        );
        assert_eq!(
            r["backup_098_full"],
            "within retention: 21 days 9 hours old, full keeps 4 weeks"
        );
        assert_eq!(
            r["backup_091_full"],
            "expired: 28 days 9 hours old, full keeps 4 weeks"
        );
        assert_eq!(
            r["backup_113_incremental"],
            "within retention: 6 days 10 hours old, incremental keeps 7 days"
        );
        assert_eq!(
            r["backup_111_incremental"],
            "expired: 8 days 10 hours old, incremental keeps 7 days"
        );
        let expect_keep: BTreeSet<String> = (0..120)
            .filter_map(|d| {
                let t = if d % 30 == 0 {
                    "archival"
                } else if d % 7 == 0 {
                    "full"
                } else {
                    "incremental"
                };
                let keep = match t {
                    "archival" => true,
                    "full" => d >= 98,
                    _ => d >= 113,
                };
                keep.then(|| format!("backup_{d:03}_{t}"))
            })
            .collect();
        let got: BTreeSet<String> = plan.keep.iter().map(|i| i.backup_id.clone()).collect();
        assert_eq!(got, expect_keep);
    }

    #[test]
    fn everything_expired_keeps_newest_chain_and_last_full() {
        let start = utc("2025-01-01T00:00:00Z");
        // Days 0..=117: the newest is day 117's incremental, whose chain starts at day 112's full.
        let cands = synthetic_catalog(start, 118);
        let now = utc("2027-06-15T00:00:00Z");
        let plan = plan_retention(&cands, &seed_policy(), now);
        check_invariants(&cands, &plan, |c| seed_within(c, now));
        assert_eq!(
            ids(&plan.keep),
            [
                "backup_117_incremental",
                "backup_116_incremental",
                "backup_115_incremental",
                "backup_114_incremental",
                "backup_113_incremental",
                "backup_112_full",
            ]
        );
        let r = reasons(&plan);
        assert_eq!(r["backup_117_incremental"], "newest backup");
        assert_eq!(r["backup_112_full"], "last full backup: never removed");
        assert_eq!(
            r["backup_116_incremental"],
            "needed by kept backup_117_incremental (its chain)"
        );
        assert_eq!(plan.remove.len(), 118 - 6);

        // The newest is a full: only it is kept.
        let cands = synthetic_catalog(start, 120);
        let plan = plan_retention(&cands, &seed_policy(), now);
        assert_eq!(ids(&plan.keep), ["backup_119_full"]);
        assert_eq!(
            reasons(&plan)["backup_119_full"],
            "newest backup; last full backup: never removed"
        );
    }

    #[test]
    fn expired_full_needed_by_an_incremental_within_retention() {
        let cands = vec![
            cand("backup_full", BackupType::Full, "2026-01-01T03:00:00Z", &[]),
            cand(
                "backup_inc1",
                BackupType::Incremental,
                "2026-01-02T02:00:00Z",
                &["backup_full"],
            ),
            cand(
                "backup_new_full",
                BackupType::Full,
                "2026-01-20T03:00:00Z",
                &[],
            ),
            cand(
                "backup_inc2",
                BackupType::Incremental,
                "2026-02-10T02:00:00Z",
                &["backup_full", "backup_inc1"],
            ),
            cand(
                "backup_other",
                BackupType::Incremental,
                "2026-02-11T02:00:00Z",
                &["backup_new_full"],
            ),
        ];
        let now = utc("2026-02-12T00:00:00Z");
        let plan = plan_retention(&cands, &seed_policy(), now);
        check_invariants(&cands, &plan, |c| seed_within(c, now));
        let r = reasons(&plan);
        assert_eq!(plan.remove.len(), 0);
        assert_eq!(
            r["backup_full"],
            "needed by kept backup_inc2 and backup_inc1 (their chains)"
        );
        assert_eq!(r["backup_inc1"], "needed by kept backup_inc2 (its chain)");
        assert!(
            r["backup_new_full"]
                .starts_with("last full backup: never removed; within retention: 22 days")
        );
    }

    #[test]
    fn ages_read_naturally() {
        assert_eq!(describe_age(TimeDelta::seconds(20)), "less than a minute");
        assert_eq!(describe_age(TimeDelta::minutes(1)), "1 minute");
        assert_eq!(describe_age(TimeDelta::minutes(59)), "59 minutes");
        assert_eq!(describe_age(TimeDelta::hours(5)), "5 hours");
        assert_eq!(describe_age(TimeDelta::days(1)), "1 day");
        assert_eq!(describe_age(TimeDelta::hours(27)), "1 day 3 hours");
        assert_eq!(describe_age(TimeDelta::hours(3 * 24 + 1)), "3 days 1 hour");
        assert_eq!(
            describe_age(TimeDelta::hours(40 * 24 + 5)),
            "40 days 5 hours"
        );
        assert_eq!(describe_age(TimeDelta::hours(60 * 24 + 5)), "60 days");
        assert_eq!(
            describe_age(TimeDelta::hours(5) + TimeDelta::minutes(3)),
            "5 hours 3 minutes"
        );
        assert_eq!(
            describe_age(TimeDelta::days(7) + TimeDelta::minutes(10)),
            "7 days 10 minutes"
        );
        assert!(describe_age(TimeDelta::hours(-1)).contains("future"));
    }

    fn arb_window() -> impl Strategy<Value = Option<RetentionWindow>> {
        prop_oneof![
            1 => Just(None),
            3 => (0u32..40).prop_map(|n| Some(RetentionWindow::Days(n))),
            2 => (0u32..10).prop_map(|n| Some(RetentionWindow::Weeks(n))),
            2 => (0u32..14).prop_map(|n| Some(RetentionWindow::Months(n))),
        ]
    }

    /// Random catalogs: random types and times (ties included), each incremental depending on a
    /// random set of earlier backups and sometimes on a backup that is not in the catalog.
    fn arb_catalog() -> impl Strategy<Value = Vec<RetentionCandidate>> {
        prop::collection::vec((0u8..4, 0i64..400 * 24, any::<u64>(), any::<bool>()), 0..60)
            .prop_map(|raw| {
                let base = DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
                let mut items: Vec<_> = raw
                    .into_iter()
                    .map(|(k, hours, seed, dangling)| {
                        let t = match k {
                            0 => BackupType::Full,
                            1 => BackupType::Archival,
                            _ => BackupType::Incremental,
                        };
                        (t, base + TimeDelta::hours(hours), seed, dangling)
                    })
                    .collect();
                items.sort_by_key(|(_, at, _, _)| *at);
                let mut out: Vec<RetentionCandidate> = Vec::new();
                for (i, (t, finished, seed, dangling)) in items.into_iter().enumerate() {
                    let mut depends_on = Vec::new();
                    if t == BackupType::Incremental {
                        for (j, earlier) in out.iter().enumerate() {
                            if (seed >> (j % 64)) & 1 == 1 {
                                depends_on.push(earlier.backup_id.clone());
                            }
                        }
                        if dangling {
                            depends_on.push("backup_missing".to_string());
                        }
                    }
                    out.push(RetentionCandidate {
                        host: "h".to_string(),
                        backup_id: format!("backup_{i:03}"),
                        backup_type: t,
                        finished,
                        depends_on,
                    });
                }
                out
            })
    }

    proptest! {
        #[test]
        fn random_catalogs_keep_whole_closures(
            cands in arb_catalog(),
            incremental in arb_window(),
            full in arb_window(),
            archival in arb_window(),
            now_hours in 0i64..500 * 24,
        ) {
            let policy = RetentionPolicy { incremental, full, archival };
            let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap() + TimeDelta::hours(now_hours);
            let plan = plan_retention(&cands, &policy, now);
            check_invariants(&cands, &plan, |c| match policy.window(c.backup_type) {
                None => true,
                Some(w) => w.contains(c.finished, now),
            });
        }
    }
}
