//! Watching the path sources for continuous protection: the file system's change events
//! (inotify, through the notify crate) gathered into debounced change sets. Lost events (the
//! kernel's queue overflowed, this one's did, a watch failed) make the set a rescan, never a
//! silent miss.
//!
//! A set closes when no event came for `debounce`, or `max_delay` after its first event, so a
//! file written without pause still yields a set every `max_delay`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::error::{Error, Result};

/// How change events are gathered.
#[derive(Debug, Clone, Copy)]
pub struct WatchOptions {
    pub debounce: Duration,
    pub max_delay: Duration,
    /// Raw events queued between the watcher and the debouncer; more are lost (a rescan).
    pub queue: usize,
}

/// What changed since the previous set.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSet {
    /// The paths events named (files, or folders whose content changed).
    pub paths: BTreeSet<PathBuf>,
    /// Events were lost: every source must be scanned as a whole.
    pub rescan: bool,
    /// How many events the set gathers.
    pub events: u64,
    /// When its first event arrived.
    pub first_seen: Instant,
}

/// A running watch: change sets arrive on `changes`; dropping it stops watching.
pub struct Watch {
    _watcher: notify::RecommendedWatcher,
    pub changes: mpsc::Receiver<ChangeSet>,
}

/// Watch `roots` (recursively; each must exist).
pub fn watch(roots: &[PathBuf], opts: WatchOptions) -> Result<Watch> {
    let (raw_tx, raw_rx) = mpsc::channel::<notify::Event>(opts.queue.max(1));
    let lost = Arc::new(AtomicBool::new(false));
    let lost_in_handler = lost.clone();
    let mut watcher =
        notify::recommended_watcher(move |ev: notify::Result<notify::Event>| match ev {
            Ok(ev) if ev.need_rescan() => lost_in_handler.store(true, Ordering::SeqCst),
            Ok(ev) => {
                if raw_tx.try_send(ev).is_err() {
                    lost_in_handler.store(true, Ordering::SeqCst);
                }
            }
            Err(_) => lost_in_handler.store(true, Ordering::SeqCst),
        })
        .map_err(|e| Error::io(format!("cannot watch the sources for changes: {e}")))?;
    for root in roots {
        watcher.watch(root, RecursiveMode::Recursive).map_err(|e| {
            Error::io(format!("cannot watch {} for changes: {e}", root.display())).with_guidance(
                "check that the source exists; on Linux raise fs.inotify.max_user_watches \
                     when a source has very many folders",
            )
        })?;
    }
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(debounce(raw_rx, lost, tx, opts));
    Ok(Watch {
        _watcher: watcher,
        changes: rx,
    })
}

/// Whether an event says something about content (not a mere read or open).
fn is_change(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) | EventKind::Any
    ) || matches!(
        kind,
        EventKind::Access(notify::event::AccessKind::Close(
            notify::event::AccessMode::Write
        ))
    )
}

async fn debounce(
    mut raw: mpsc::Receiver<notify::Event>,
    lost: Arc<AtomicBool>,
    tx: mpsc::Sender<ChangeSet>,
    opts: WatchOptions,
) {
    let tick = opts.debounce.min(Duration::from_millis(200));
    loop {
        // Wait for the first event of a set (or a loss).
        let first = loop {
            if lost.load(Ordering::SeqCst) {
                break None;
            }
            tokio::select! {
                ev = raw.recv() => match ev {
                    Some(ev) if is_change(&ev.kind) => break Some(ev),
                    Some(_) => continue,
                    None => return,
                },
                () = tokio::time::sleep(tick) => continue,
            }
        };
        let first_seen = Instant::now();
        let mut set = ChangeSet {
            paths: BTreeSet::new(),
            rescan: false,
            events: 0,
            first_seen,
        };
        let add = |set: &mut ChangeSet, ev: notify::Event| {
            set.events += 1;
            set.paths.extend(ev.paths);
        };
        if let Some(ev) = first {
            add(&mut set, ev);
        }
        let mut last = Instant::now();
        loop {
            let now = Instant::now();
            let quiet_until = last + opts.debounce;
            let deadline = (first_seen + opts.max_delay).min(quiet_until);
            if now >= deadline {
                break;
            }
            tokio::select! {
                ev = raw.recv() => match ev {
                    Some(ev) if is_change(&ev.kind) => {
                        add(&mut set, ev);
                        last = Instant::now();
                    }
                    Some(_) => {}
                    None => break,
                },
                () = tokio::time::sleep(deadline - now) => {}
            }
        }
        set.rescan = lost.swap(false, Ordering::SeqCst);
        if set.rescan {
            // The queue may hold events of the lost stretch: they are covered by the rescan.
            while let Ok(ev) = raw.try_recv() {
                add(&mut set, ev);
            }
        }
        if tx.send(set).await.is_err() {
            return;
        }
    }
}

/// The path a change to `p` stands for: a SQLite database for its `-wal`, `-shm` or
/// `-journal` file (the database is what a point captures).
pub fn subject(p: &Path) -> PathBuf {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
    if let Some(name) = name {
        for side in ["-wal", "-shm", "-journal"] {
            if let Some(db) = name.strip_suffix(side)
                && !db.is_empty()
            {
                return p.with_file_name(db);
            }
        }
    }
    p.to_path_buf()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(queue: usize) -> WatchOptions {
        WatchOptions {
            debounce: Duration::from_millis(150),
            max_delay: Duration::from_secs(2),
            queue,
        }
    }

    async fn next(w: &mut Watch, within: Duration) -> Option<ChangeSet> {
        tokio::time::timeout(within, w.changes.recv())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_arrives_within_the_debounce() {
        let d = tempfile::tempdir().unwrap();
        let mut w = watch(&[d.path().to_path_buf()], opts(1024)).unwrap();
        let t0 = Instant::now();
        std::fs::write(d.path().join("a.txt"), b"alpha").unwrap();
        let set = next(&mut w, Duration::from_secs(5))
            .await
            .expect("a change set");
        assert!(set.paths.contains(&d.path().join("a.txt")), "{set:?}");
        assert!(!set.rescan);
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        // Nothing more without changes.
        assert!(next(&mut w, Duration::from_millis(500)).await.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_ten_thousand_changes_makes_a_few_sets_covering_all() {
        let d = tempfile::tempdir().unwrap();
        let mut w = watch(&[d.path().to_path_buf()], opts(1 << 20)).unwrap();
        let dir = d.path().to_path_buf();
        let writer = tokio::task::spawn_blocking(move || {
            for i in 0..10_000 {
                std::fs::write(dir.join(format!("f{i:05}")), i.to_string()).unwrap();
            }
        });
        writer.await.unwrap();
        let mut sets = Vec::new();
        while let Some(s) = next(&mut w, Duration::from_secs(1)).await {
            sets.push(s);
        }
        assert!(!sets.is_empty());
        assert!(sets.len() <= 10, "{} sets for one burst", sets.len());
        let rescan = sets.iter().any(|s| s.rescan);
        let seen: BTreeSet<&PathBuf> = sets.iter().flat_map(|s| &s.paths).collect();
        assert!(
            rescan || (0..10_000).all(|i| seen.contains(&d.path().join(format!("f{i:05}")))),
            "a change was missed without a rescan"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_overflowing_queue_is_a_rescan_not_a_silent_miss() {
        let d = tempfile::tempdir().unwrap();
        let mut w = watch(&[d.path().to_path_buf()], opts(8)).unwrap();
        for i in 0..2_000 {
            std::fs::write(d.path().join(format!("g{i}")), b"x").unwrap();
        }
        let mut rescan = false;
        while let Some(s) = next(&mut w, Duration::from_secs(1)).await {
            rescan |= s.rescan;
        }
        assert!(
            rescan,
            "2000 events through a queue of 8 must flag a rescan"
        );
    }

    #[test]
    fn a_databases_side_files_stand_for_the_database() {
        assert_eq!(subject(Path::new("/d/app.db-wal")), Path::new("/d/app.db"));
        assert_eq!(subject(Path::new("/d/app.db-shm")), Path::new("/d/app.db"));
        assert_eq!(
            subject(Path::new("/d/app.db-journal")),
            Path::new("/d/app.db")
        );
        assert_eq!(subject(Path::new("/d/-wal")), Path::new("/d/-wal"));
        assert_eq!(
            subject(Path::new("/d/notes.txt")),
            Path::new("/d/notes.txt")
        );
    }
}
