//! Continuous points: the record a point keeps (what differs from its base backup), the state
//! at a point rebuilt from its base and that record, delta block maps, and which backup or
//! point holds the state at an instant (`docs/FORMAT.md`, "Continuous points").

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::error::{Error, Result};
use crate::repo::blockmap::{BlockMaps, DeltaMap, RECORD_LEN, block_count, block_len};
use crate::repo::catalog::{Catalog, committed_ids};
use crate::repo::keys::{POINTS_PREFIX, is_point_id, split_point_key};
use crate::repo::manifest::{Entry, Manifest, ManifestSummary};
use crate::repo::{ID_TIME_FORMAT, Repository, id_time};

/// What a continuous point builds on: its base backup and the state it compares with (the
/// previous point of that base, rebuilt, or the base itself).
pub(crate) struct PointBasis {
    pub base: Manifest,
    pub parent: Manifest,
    /// The stored names of the path sources the point reads (the others keep the parent's
    /// entries: command sources are never run for a point).
    pub covered: Vec<String>,
}

impl PointBasis {
    /// Whether `path` belongs to one of the sources a point reads.
    pub fn covers(&self, path: &str) -> bool {
        self.covered.iter().any(|c| {
            path == c
                || path
                    .strip_prefix(c.as_str())
                    .is_some_and(|r| r.starts_with('/'))
        })
    }
}

/// The newest point of `base` made by `host`, read from the store without loading every
/// point: `hint` (the point this process made last) when it is still that, else the point
/// folders newest first until one of `base` (or one older than `base`: there is none).
pub(crate) async fn previous_point(
    repo: &Repository,
    base: &ManifestSummary,
    hint: Option<&str>,
) -> Result<Option<Manifest>> {
    let mine = |s: &ManifestSummary| {
        s.base.as_deref() == Some(base.backup_id.as_str()) && s.host == base.host
    };
    let ids = committed_ids(repo.storage(), POINTS_PREFIX, split_point_key).await?;
    if let Some(h) = hint
        && ids.last().map(String::as_str) == Some(h)
    {
        let m = repo.read_manifest(h).await?;
        if mine(&m.summary) {
            return Ok(Some(m));
        }
    }
    for id in ids.iter().rev() {
        let s = match repo.read_summary(id).await {
            Ok(s) => s,
            // Another host's damaged point is not ours to judge here; validation reports it.
            Err(_) => continue,
        };
        if mine(&s) {
            return Ok(Some(repo.read_manifest(id).await?));
        }
        if s.started < base.started {
            break;
        }
    }
    Ok(None)
}

/// Put into `catalog` the summaries of the points whose block maps `state`'s entries read (a
/// point's writer does not load every point).
pub(crate) async fn add_point_summaries(
    repo: &Repository,
    catalog: &mut Catalog,
    state: &Manifest,
) -> Result<()> {
    let ids: BTreeSet<&str> = state
        .entries
        .iter()
        .filter_map(|e| e.blocks.as_ref())
        .map(|b| b.map_in.as_str())
        .filter(|id| is_point_id(id))
        .collect();
    for id in ids {
        if catalog.get(id).is_none() {
            catalog.points.push(repo.read_summary(id).await?);
        }
    }
    catalog.points.sort_by(|a, b| a.backup_id.cmp(&b.backup_id));
    Ok(())
}

/// The state at a point: its base's entries, with the point's entries put in place and the
/// paths it lists as deleted taken out. Refuses a point whose record does not belong to `base`.
pub(crate) fn state_at(base: &Manifest, point: Manifest) -> Result<Manifest> {
    let id = &point.summary.backup_id;
    if point.summary.base.as_deref() != Some(base.summary.backup_id.as_str())
        || point.summary.host != base.summary.host
    {
        return Err(Error::integrity(format!(
            "point {id} does not build on {} of host {:?} as its place says",
            base.summary.backup_id, base.summary.host
        )));
    }
    let gone: BTreeSet<&str> = point.deleted.iter().map(String::as_str).collect();
    let mut entries: BTreeMap<String, Entry> = base
        .entries
        .iter()
        .filter(|e| !gone.contains(e.path.as_str()))
        .map(|e| (e.path.clone(), e.clone()))
        .collect();
    for e in point.entries {
        entries.insert(e.path.clone(), e);
    }
    Ok(Manifest {
        summary: point.summary,
        entries: entries.into_values().collect(),
        deleted: point.deleted,
    })
}

/// Cut a point's full snapshot down to its record: the entries that differ from the base's,
/// and the base's paths that are gone.
pub(crate) fn record_of(base: &Manifest, mut full: Manifest) -> Manifest {
    let before: HashMap<&str, &Entry> = base.entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let now: BTreeSet<&str> = full.entries.iter().map(|e| e.path.as_str()).collect();
    let deleted: Vec<String> = base
        .entries
        .iter()
        .filter(|e| !now.contains(e.path.as_str()))
        .map(|e| e.path.clone())
        .collect();
    full.entries
        .retain(|e| before.get(e.path.as_str()).is_none_or(|b| *b != e));
    full.deleted = deleted;
    full
}

/// Replace, in a point's maps, every file map that the base backup's entry also maps (same
/// block size) by the records that differ from that map (the one its `blocks.map_in` holds),
/// when that is smaller. Returns the backups the deltas are based on (the point depends on
/// them).
pub(crate) async fn delta_maps(
    repo: &Repository,
    catalog: &Catalog,
    base: &Manifest,
    maps: &mut BlockMaps,
) -> Result<BTreeSet<String>> {
    let base_entries = base.entry_map();
    let mut loaded: HashMap<String, BlockMaps> = HashMap::new();
    let mut based_on = BTreeSet::new();
    let mut keep = Vec::new();
    for f in std::mem::take(&mut maps.files) {
        let Some(bl) = base_entries
            .get(f.path.as_str())
            .and_then(|e| e.blocks.as_ref())
            .filter(|bl| bl.block_size == f.block_size)
        else {
            keep.push(f);
            continue;
        };
        if !loaded.contains_key(&bl.map_in) {
            let m = super::assemble::load_map(repo, catalog, &bl.map_in)
                .await
                .map_err(|e| e.context(format!("{}: reading its base's block map", f.path)))?;
            loaded.insert(bl.map_in.clone(), m);
        }
        let holder = &loaded[&bl.map_in];
        let Some(old) = holder.file(&f.path) else {
            keep.push(f);
            continue;
        };
        let old_count = block_count(old.size, old.block_size);
        let mut changed = Vec::new();
        for (i, r) in f.blocks.iter().enumerate() {
            let i = i as u64;
            let same = i < old_count
                && old.blocks.get(i as usize).is_some_and(|o| {
                    o.sha256 == r.sha256
                        && o.volume == r.volume
                        && o.offset == r.offset
                        && o.length == r.length
                        && holder.backup_of(o) == maps.backup_of(r)
                })
                && block_len(old.size, old.block_size, i) == block_len(f.size, f.block_size, i);
            if !same {
                changed.push((i, *r));
            }
        }
        if changed.len() * (RECORD_LEN + 8) >= f.blocks.len() * RECORD_LEN {
            keep.push(f);
            continue;
        }
        let base_index = maps.intern(&bl.map_in)?;
        based_on.insert(bl.map_in.clone());
        maps.deltas.push(DeltaMap {
            path: f.path,
            size: f.size,
            block_size: f.block_size,
            base: base_index,
            changed,
        });
    }
    maps.files = keep;
    Ok(based_on)
}

/// The snapshot of a backup (its manifest) or of a point (its base's, with the point's record
/// put in place).
pub(crate) async fn snapshot_of(repo: &Repository, s: &ManifestSummary) -> Result<Manifest> {
    let m = repo.read_manifest(&s.backup_id).await?;
    match &m.summary.base {
        None if is_point_id(&s.backup_id) => Err(Error::integrity(format!(
            "point {} names no base backup",
            s.backup_id
        ))),
        None => Ok(m),
        Some(base) => {
            let base = repo
                .read_manifest(base)
                .await
                .map_err(|e| e.context(format!("reading the base of point {}", s.backup_id)))?;
            state_at(&base, m)
        }
    }
}

/// The newest state of `host` in the repository, with its snapshot: its newest continuous
/// point when one is newer than its newest backup (and built on a backup still there), else
/// its newest backup (refused as `latest` is when a newer backup is unreadable). Loads the
/// catalog's points.
pub(crate) async fn newest_state(
    repo: &Repository,
    catalog: &mut Catalog,
    host: &str,
) -> Result<(ManifestSummary, Manifest)> {
    catalog.resolve_latest_of(host)?;
    catalog.load_points(repo).await?;
    let chosen = holding_at(catalog, host, Utc::now())?.clone();
    let snapshot = snapshot_of(repo, &chosen).await?;
    Ok((chosen, snapshot))
}

/// Of `host`'s backups and continuous points (the catalog's points loaded), the one holding
/// the state at `at`: the newest started at or before it. Refuses when none is, and when an
/// unreadable point or backup would be newer than the one chosen (never an older state in
/// silence).
pub(crate) fn holding_at<'a>(
    catalog: &'a Catalog,
    host: &str,
    at: DateTime<Utc>,
) -> Result<&'a ManifestSummary> {
    let chosen = catalog
        .backups
        .iter()
        .chain(catalog.points.iter())
        .filter(|s| s.host == host && s.started <= at)
        .filter(|s| s.base.as_deref().is_none_or(|b| catalog.get(b).is_some()))
        .max_by(|a, b| {
            a.started
                .cmp(&b.started)
                .then(a.backup_id.cmp(&b.backup_id))
        });
    let floor = chosen.map_or(String::new(), |c| {
        c.started.format(ID_TIME_FORMAT).to_string()
    });
    let limit = at.format(ID_TIME_FORMAT).to_string();
    if let Some(u) = catalog
        .unreadable
        .iter()
        .chain(catalog.unreadable_points.iter())
        .find(|u| {
            let t = id_time(&u.backup_id);
            t > floor.as_str() && t <= limit.as_str()
        })
    {
        return Err(Error::integrity(format!(
            "{} is unreadable ({}) and may hold the state at {at}; an older state is not \
             restored in silence",
            u.backup_id, u.error.message
        ))
        .with_guidance(
            "name an earlier time or a backup id, and validate to see what is damaged",
        ));
    }
    chosen.ok_or_else(|| {
        Error::not_found(format!(
            "no backup or continuous point of host {host} was started at or before {at}"
        ))
        .with_guidance("`backup list` shows the backups and the windows the points cover")
    })
}

/// An instant as a user writes it: RFC 3339 (`2026-12-05T10:15:00Z`, any offset), or a date
/// and time taken as UTC (`2026-12-05 10:15[:30]`, `T` or a space between).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    Err(Error::usage(format!("{s:?} is not a time")).with_guidance(
        "write it as RFC 3339 (2026-12-05T10:15:00Z, or with an offset) or as \
         2026-12-05 10:15:00 (UTC)",
    ))
}

/// A stretch of time whose every instant `restore --at` can bring back to within one point:
/// from a backup's start to the newest point built on it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct CoveredWindow {
    pub host: String,
    /// The backup the points build on.
    pub base: String,
    pub from: DateTime<Utc>,
    /// The newest point's instant.
    pub to: DateTime<Utc>,
    pub points: u64,
    /// What the points stored (volumes, maps and records).
    pub stored_bytes: u64,
}

/// One continuous point, as `backup list --points` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PointItem {
    pub point_id: String,
    pub base: String,
    pub host: String,
    /// The instant of its snapshot.
    pub started: DateTime<Utc>,
    /// When it was complete (visible).
    pub finished: DateTime<Utc>,
    pub files_stored: u64,
    pub stored_bytes: u64,
}

impl From<&ManifestSummary> for PointItem {
    fn from(s: &ManifestSummary) -> Self {
        PointItem {
            point_id: s.backup_id.clone(),
            base: s.base.clone().unwrap_or_default(),
            host: s.host.clone(),
            started: s.started,
            finished: s.finished,
            files_stored: s.totals.files_stored,
            stored_bytes: s.totals.stored_bytes,
        }
    }
}

/// The windows the catalog's points cover, oldest first: one per base backup that has points
/// (a point whose base is gone covers nothing).
pub(crate) fn covered_windows(catalog: &Catalog) -> Vec<CoveredWindow> {
    let mut out: BTreeMap<&str, CoveredWindow> = BTreeMap::new();
    for p in &catalog.points {
        let Some(base) = p.base.as_deref().and_then(|b| catalog.get(b)) else {
            continue;
        };
        let w = out
            .entry(base.backup_id.as_str())
            .or_insert_with(|| CoveredWindow {
                host: base.host.clone(),
                base: base.backup_id.clone(),
                from: base.started,
                to: p.started,
                points: 0,
                stored_bytes: 0,
            });
        w.to = w.to.max(p.started);
        w.points += 1;
        w.stored_bytes += p.totals.stored_bytes;
    }
    let mut v: Vec<CoveredWindow> = out.into_values().collect();
    v.sort_by_key(|w| w.from);
    v
}

/// What cleanup does with the points built on one backup: they go together (a point reads
/// the earlier points' blocks), or stay together.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PointGroupDecision {
    /// The backup the points build on.
    pub base: String,
    pub host: String,
    pub points: u64,
    pub newest: DateTime<Utc>,
    pub stored_bytes: u64,
    pub remove: bool,
    pub reason: String,
    /// The point ids (oldest first).
    #[serde(skip)]
    pub ids: Vec<String>,
}

/// Fold points into backups: per base backup, remove its points when the base itself goes
/// (`removed`), when the base is gone, or when every point is older than `keep` and a newer
/// backup of the host holds a later state; keep them otherwise, saying why. Only `host`'s
/// points are considered when one is given.
pub(crate) fn fold_plan(
    catalog: &Catalog,
    removed: &BTreeSet<&str>,
    now: DateTime<Utc>,
    keep: chrono::TimeDelta,
    host: Option<&str>,
) -> Vec<PointGroupDecision> {
    let mut groups: BTreeMap<String, Vec<&ManifestSummary>> = BTreeMap::new();
    for p in catalog
        .points
        .iter()
        .filter(|p| host.is_none_or(|h| h == p.host))
    {
        groups
            .entry(p.base.clone().unwrap_or_default())
            .or_default()
            .push(p);
    }
    let hours = keep.num_hours();
    groups
        .into_iter()
        .map(|(base, pts)| {
            let newest = pts.iter().map(|p| p.started).max().unwrap_or(now);
            let host_name = pts[0].host.clone();
            let later = catalog
                .backups
                .iter()
                .filter(|b| b.host == host_name && b.started > newest && !removed.contains(b.backup_id.as_str()))
                .max_by(|a, b| a.started.cmp(&b.started));
            let (remove, reason) = if removed.contains(base.as_str()) {
                (true, format!("its base backup {base} is removed by this cleanup"))
            } else if catalog.get(&base).is_none()
                && !catalog.unreadable.iter().any(|u| u.backup_id == base)
            {
                (true, format!("its base backup {base} is gone: these points cannot be restored"))
            } else if now - newest < keep {
                (false, format!("within backup.continuous.keep_hours ({hours} h): the newest point is {} old", crate::present::age((now - newest).num_seconds())))
            } else if let Some(b) = later {
                (true, format!("folded into {}: every point is older than keep_hours ({hours} h) and that backup holds a later state", b.backup_id))
            } else {
                (false, "the newest state of the host: no backup holds it yet".to_string())
            };
            PointGroupDecision {
                base,
                host: host_name,
                points: pts.len() as u64,
                newest,
                stored_bytes: pts.iter().map(|p| p.totals.stored_bytes).sum(),
                remove,
                reason,
                ids: pts.iter().map(|p| p.backup_id.clone()).collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::manifest::EntryKind;

    fn entry(path: &str, stamp: &str) -> Entry {
        serde_json::from_value(serde_json::json!({
            "path": path, "kind": "file", "mode": 420, "mtime_ns": 0, "size": 1,
            "sha256": "00", "origin": "file", "ctime_ns": 0, "inode": 0, "dev": 0,
            "stamp": stamp,
            "location": {"backup_id": "backup_1", "volume": 0}
        }))
        .expect("an entry")
    }

    fn manifest(id: &str, base: Option<&str>, entries: Vec<Entry>, deleted: &[&str]) -> Manifest {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "format_version": 4, "backup_id": id, "backup_type": "incremental",
            "requested_type": "incremental", "parent": null, "chain_root": "backup_1",
            "chain_length": 1, "started": "2026-01-01T00:00:00Z",
            "finished": "2026-01-01T00:00:00Z", "host": "h", "tool_version": "0",
            "compression_level": 3, "encrypted": true, "sources": [], "volumes": [],
            "totals": {"files": 0, "dirs": 0, "symlinks": 0, "bytes": 0, "files_stored": 0,
                       "bytes_stored_content": 0, "files_unchanged": 0, "files_deleted": 0,
                       "stored_bytes": 0},
            "depends_on": [], "entries": [], "deleted": []
        }))
        .expect("a manifest");
        m.summary.base = base.map(str::to_string);
        m.entries = entries;
        m.deleted = deleted.iter().map(|d| d.to_string()).collect();
        m
    }

    /// A point's record holds only what differs from its base, and rebuilding the state from
    /// the base and the record gives the snapshot back.
    #[test]
    fn a_record_holds_only_the_difference_and_rebuilds_the_snapshot() {
        let base = manifest(
            "backup_1",
            None,
            vec![entry("a", "1"), entry("b", "1"), entry("c", "1")],
            &[],
        );
        let full = manifest(
            "point_1",
            Some("backup_1"),
            vec![entry("a", "1"), entry("c", "2"), entry("d", "1")],
            &[],
        );
        let record = record_of(&base, full.clone());
        let paths: Vec<&str> = record.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["c", "d"]);
        assert_eq!(record.deleted, ["b"]);
        let back = state_at(&base, record).unwrap();
        assert_eq!(back.entries, full.entries);
        assert!(back.entries.iter().all(|e| e.kind == EntryKind::File));
    }

    #[test]
    fn instants_parse_as_written_and_ids_give_their_time() {
        let t = parse_instant("2026-12-05T10:15:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-05T09:15:00+00:00");
        assert_eq!(parse_instant("2026-12-05 09:15").unwrap(), t);
        assert!(parse_instant("yesterday").is_err());
        assert_eq!(
            id_time("point_20261205T091500.000Z_0a1b2c3d"),
            "20261205T091500.000Z"
        );
        assert_eq!(
            t.format(ID_TIME_FORMAT).to_string().as_str(),
            id_time("backup_20261205T091500.000Z_0a1b2c3d")
        );
    }

    fn summary(id: &str, base: Option<&str>, host: &str, hours_ago: i64) -> ManifestSummary {
        let mut m = manifest(id, base, vec![], &[]).summary;
        m.host = host.to_string();
        m.started = chrono::Utc::now() - chrono::TimeDelta::hours(hours_ago);
        m.finished = m.started;
        m.totals.stored_bytes = 10;
        m
    }

    /// Cleanup folds the points of a base together: removed once all are older than
    /// keep_hours and a newer backup holds a later state, or with their base; kept while
    /// within keep_hours or while no backup holds a later state; another host's only with
    /// every host.
    #[test]
    fn points_fold_into_backups_by_group_with_reasons() {
        let now = chrono::Utc::now();
        let keep = chrono::TimeDelta::hours(24);
        let catalog = Catalog {
            backups: vec![
                summary("backup_a", None, "h", 80),
                summary("backup_b", None, "h", 40),
                summary("backup_c", None, "h", 2),
                summary("backup_x", None, "other", 50),
            ],
            points: vec![
                summary("point_a1", Some("backup_a"), "h", 79),
                summary("point_a2", Some("backup_a"), "h", 78),
                summary("point_b1", Some("backup_b"), "h", 39),
                summary("point_b2", Some("backup_b"), "h", 3),
                summary("point_c1", Some("backup_c"), "h", 30),
                summary("point_c2", Some("backup_c"), "h", 1),
                summary("point_g1", Some("backup_gone"), "h", 1),
                summary("point_x1", Some("backup_x"), "other", 49),
            ],
            ..Catalog::default()
        };
        let removed: BTreeSet<&str> = ["backup_a"].into_iter().collect();
        let plan = fold_plan(&catalog, &removed, now, keep, Some("h"));
        let by = |b: &str| plan.iter().find(|g| g.base == b).unwrap();
        assert!(by("backup_a").remove && by("backup_a").reason.contains("removed by this cleanup"));
        assert_eq!(by("backup_a").points, 2);
        assert_eq!(by("backup_a").ids, ["point_a1", "point_a2"]);
        // One point of b is 3 h old: the group stays.
        assert!(!by("backup_b").remove, "{:?}", by("backup_b"));
        assert!(by("backup_b").reason.contains("keep_hours"));
        assert!(!by("backup_c").remove);
        assert!(by("backup_gone").remove && by("backup_gone").reason.contains("gone"));
        assert!(
            plan.iter().all(|g| g.host == "h"),
            "another host's points are not planned"
        );
        // A day later b's points are all past keep_hours and backup_c holds a later state;
        // c's newest is still the host's newest state only if no backup is newer.
        let later = now + chrono::TimeDelta::hours(30);
        let plan = fold_plan(&catalog, &BTreeSet::new(), later, keep, None);
        let by = |b: &str| plan.iter().find(|g| g.base == b).unwrap();
        assert!(by("backup_b").remove && by("backup_b").reason.contains("folded into backup_c"));
        assert!(!by("backup_c").remove && by("backup_c").reason.contains("no backup holds it yet"));
        assert!(by("backup_x").reason.contains("no backup holds it yet"));
    }

    /// A point is refused over a base it does not name (a point moved between chains).
    #[test]
    fn a_point_of_another_base_is_refused() {
        let base = manifest("backup_1", None, vec![], &[]);
        let other = manifest("point_1", Some("backup_2"), vec![], &[]);
        let e = state_at(&base, other).unwrap_err();
        assert!(e.message.contains("does not build on"), "{e}");
    }
}
