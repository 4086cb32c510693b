//! Repository locks: who is working on the repository, so cleanup never removes what is in use.
//!
//! Every holder writes its own object `locks/<mode>-<id>.json`, then lists `locks/`: it holds the
//! lock only if no conflicting lock is present after its own was written. Two holders can never
//! both proceed (the later writer sees the earlier one), and both backing off is resolved by a
//! random delay. Shared (restore, validate) conflicts with exclusive; backup with a backup of the
//! same host and with exclusive (backups of different hosts run side by side: their chains are
//! their own); exclusive (cleanup) with everything. Holders refresh their lock every 30 s; a lock
//! not refreshed for 120 s, held by a dead process of this host on this machine, or whose times
//! lie more than 10 minutes in the future (a wrong clock, or a forged lock that would never age),
//! is stale and is broken. A lock of another host (or of this host name on another machine) is
//! never judged by its pid: that pid means nothing here. Lock objects come from an untrusted
//! store: any bytes parse without a panic, as a lock or as an unreadable object.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::LOCKS_PREFIX;
use super::bounded::{MAX_LOCK_BYTES, read_bounded};
use crate::action::{Action, Advice};
use crate::error::{Error, ErrorKind, Result};
use crate::storage::DynStorage;

pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
pub const STALE_AFTER_SECS: i64 = 120;
/// How far ahead of this host's clock a lock's times may lie (clock skew between hosts) before
/// the lock counts as stale: a lock refreshed "in the future" would otherwise never age.
pub const FUTURE_SKEW_SECS: i64 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LockMode {
    Shared,
    Backup,
    Exclusive,
}

impl LockMode {
    /// Whether a lock of this mode taken by `host` conflicts with `other` of `other_host`.
    fn conflicts(self, host: &str, other: LockMode, other_host: &str) -> bool {
        use LockMode::*;
        match (self, other) {
            (Exclusive, _) | (_, Exclusive) => true,
            (Backup, Backup) => host == other_host,
            _ => false,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            LockMode::Shared => "shared",
            LockMode::Backup => "backup",
            LockMode::Exclusive => "exclusive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LockInfo {
    pub id: String,
    pub mode: LockMode,
    /// The holder's host name (`backup.host`, else the system's host name).
    pub host: String,
    pub pid: u32,
    pub operation: String,
    pub created: DateTime<Utc>,
    pub refreshed: DateTime<Utc>,
    /// The system host name of the machine the holder runs on, when `host` is set by the
    /// settings (absent in locks of older releases, whose `host` is the system host name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

/// Who takes a lock, or judges one: the host name presented (`backup.host`, else the system's)
/// and the system host name of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub host: String,
    pub machine: String,
}

impl Holder {
    /// A holder presenting `host` on this machine.
    pub fn new(host: &str) -> Holder {
        Holder {
            host: host.to_string(),
            machine: hostname(),
        }
    }
}

impl LockInfo {
    fn key(&self) -> String {
        super::keys::lock_key(self.mode.as_str(), &self.id)
    }

    /// Whether the holder runs on `here`'s machine under `here`'s host name: only then does its
    /// pid name a process that `here` can look for.
    fn runs_here(&self, here: &Holder) -> bool {
        self.host == here.host && self.machine.as_deref().unwrap_or(&self.host) == here.machine
    }

    /// Why this lock is stale, if it is.
    pub fn stale_reason(&self, now: DateTime<Utc>, here: &Holder) -> Option<String> {
        if self.runs_here(here) && !process_alive(self.pid) {
            return Some(format!(
                "process {} on {} is no longer running",
                self.pid, self.host
            ));
        }
        // Whole seconds since the epoch: any time chrono parsed subtracts without overflow.
        let latest = self.created.max(self.refreshed);
        let ahead = latest.timestamp() - now.timestamp();
        if ahead > FUTURE_SKEW_SECS {
            return Some(format!(
                "its time ({}) lies {} ahead of this host's clock, more than the {} min allowed \
                 for clock skew: a host with a wrong clock wrote it, or it was forged, and it \
                 would never go stale",
                latest.format("%Y-%m-%d %H:%M:%S UTC"),
                span(ahead),
                FUTURE_SKEW_SECS / 60
            ));
        }
        let age = self.refreshed_ago(now);
        (age > STALE_AFTER_SECS).then(|| format!("not refreshed for {age} s"))
    }

    /// Seconds since the holder last refreshed the lock (negative when that lies ahead).
    pub fn refreshed_ago(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp() - self.refreshed.timestamp()
    }

    /// Seconds since the lock was taken (negative when that lies ahead).
    pub fn age(&self, now: DateTime<Utc>) -> i64 {
        now.timestamp() - self.created.timestamp()
    }
}

/// "12 min", "3 h", "400 d": how far a time lies ahead, for messages.
fn span(secs: i64) -> String {
    match secs {
        ..3600 => format!("{} min", secs / 60),
        3600..172_800 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

/// One object in `locks/`, read and judged.
#[derive(Debug, Clone)]
pub struct FoundLock {
    /// The object's key.
    pub key: String,
    /// The lock it holds; `None` when the object does not parse (cut off by a crash, or garbage).
    pub info: Option<LockInfo>,
    /// Why it is stale, when it is (an unreadable object always is).
    pub stale: Option<String>,
}

/// Every lock object in the repository, each with whether (and why) it is stale now.
pub async fn survey(storage: &DynStorage, here: &Holder) -> Result<Vec<FoundLock>> {
    let now = Utc::now();
    Ok(list_locks(storage)
        .await?
        .into_iter()
        .map(|(key, info)| {
            let stale = match &info {
                Some(i) => i.stale_reason(now, here),
                None => {
                    Some("the lock object is unreadable (cut off by a crash, or not a lock)".into())
                }
            };
            FoundLock { key, info, stale }
        })
        .collect())
}

/// Remove one lock object (by the key it was listed under).
pub async fn remove(storage: &DynStorage, key: &str) -> Result<()> {
    if !key.starts_with(LOCKS_PREFIX) {
        return Err(Error::internal(format!("{key} is not a lock object")));
    }
    storage.delete(key).await
}

/// Parse a lock object; `None` for anything that is not one.
fn parse_lock(raw: &[u8]) -> Option<LockInfo> {
    serde_json::from_slice::<LockInfo>(raw).ok()
}

pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // 0 would ask about this process group, not a process.
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission; it sends nothing.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// A held lock. Release it with [`LockGuard::release`]; dropping it stops the refresh and leaves
/// the object to be found stale.
#[derive(Debug)]
pub struct LockGuard {
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    storage: DynStorage,
    info: LockInfo,
    refresher: tokio::task::JoinHandle<()>,
}

impl LockGuard {
    /// No lock at all: reading a view nothing can write through (`--store-as-of`), where no
    /// lock object can be written and no cleanup can run.
    pub fn none() -> LockGuard {
        LockGuard { held: None }
    }

    pub async fn release(mut self) -> Result<()> {
        match self.held.take() {
            Some(h) => {
                h.refresher.abort();
                h.storage.delete(&h.info.key()).await
            }
            None => Ok(()),
        }
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(h) = &self.held {
            h.refresher.abort();
        }
    }
}

async fn write_lock(storage: &DynStorage, info: &LockInfo) -> Result<()> {
    let json = serde_json::to_vec_pretty(info)
        .map_err(|e| Error::internal(format!("cannot encode lock: {e}")))?;
    storage.put(&info.key(), Bytes::from(json)).await
}

/// Every lock in the repository; unreadable lock objects are returned as keys to remove.
pub async fn list_locks(storage: &DynStorage) -> Result<Vec<(String, Option<LockInfo>)>> {
    let mut out = Vec::new();
    for obj in storage.list(LOCKS_PREFIX).await? {
        let info = match read_bounded(storage, &obj.key, MAX_LOCK_BYTES, "a lock object").await {
            Ok(raw) => parse_lock(&raw),
            Err(e) if e.kind == ErrorKind::NotFound => continue,
            // Too large to be a lock: garbage, removed like any unreadable lock object.
            Err(e) if e.kind == ErrorKind::Integrity => None,
            Err(e) => return Err(e),
        };
        out.push((obj.key, info));
    }
    Ok(out)
}

/// Take a lock, waiting up to `wait` for conflicting holders; `notice` hears about waits and
/// broken stale locks.
pub async fn acquire(
    storage: &DynStorage,
    here: &Holder,
    mode: LockMode,
    operation: &str,
    wait: Duration,
    notice: &(dyn Fn(String) + Send + Sync),
) -> Result<LockGuard> {
    let never = CancellationToken::new();
    acquire_or_cancel(storage, here, mode, operation, wait, notice, &never).await
}

/// [`acquire`], giving up as soon as `cancel` fires while it waits (nothing of this operation is
/// left in the store: its lock object is removed before each wait).
pub async fn acquire_or_cancel(
    storage: &DynStorage,
    here: &Holder,
    mode: LockMode,
    operation: &str,
    wait: Duration,
    notice: &(dyn Fn(String) + Send + Sync),
    cancel: &CancellationToken,
) -> Result<LockGuard> {
    let now = Utc::now();
    let info = LockInfo {
        id: hex::encode(super::crypto::random_bytes::<8>()),
        mode,
        host: here.host.clone(),
        pid: std::process::id(),
        operation: operation.to_string(),
        created: now,
        refreshed: now,
        // Older releases read `host` as the machine: say which machine when they differ.
        machine: (here.machine != here.host).then(|| here.machine.clone()),
    };
    let deadline = tokio::time::Instant::now() + wait;
    let mut announced = false;
    loop {
        write_lock(storage, &info).await?;
        let mut blocker = None;
        for (key, other) in list_locks(storage).await? {
            if key == info.key() {
                continue;
            }
            let Some(other) = other else {
                // A lock object that does not parse was cut off mid-write by a crash.
                if storage.size(&key).await?.is_some() {
                    notice(format!("removing unreadable lock object {key}"));
                    storage.delete(&key).await?;
                }
                continue;
            };
            if let Some(why) = other.stale_reason(Utc::now(), here) {
                notice(format!(
                    "breaking stale {} lock of `{}` held by {} pid {} since {}: {why}",
                    other.mode.as_str(),
                    other.operation,
                    other.host,
                    other.pid,
                    other.created.format("%Y-%m-%d %H:%M:%S UTC")
                ));
                storage.delete(&key).await?;
                continue;
            }
            if mode.conflicts(&info.host, other.mode, &other.host) {
                blocker = Some(other);
            }
        }
        let Some(other) = blocker else {
            let guard_storage = storage.clone();
            let refresh_info = Arc::new(info.clone());
            let refresher = tokio::spawn(async move {
                let mut info = (*refresh_info).clone();
                loop {
                    tokio::time::sleep(REFRESH_EVERY).await;
                    info.refreshed = Utc::now();
                    if let Err(e) = write_lock(&guard_storage, &info).await {
                        tracing::warn!("could not refresh lock: {e}");
                    }
                }
            });
            return Ok(LockGuard {
                held: Some(Held {
                    storage: storage.clone(),
                    info,
                    refresher,
                }),
            });
        };
        // Back off: remove our lock so the holder (or a racing peer) can go on.
        storage.delete(&info.key()).await?;
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::new(
                ErrorKind::Locked,
                format!(
                    "the repository is locked by `{}` ({} lock, {} pid {}, since {})",
                    other.operation,
                    other.mode.as_str(),
                    other.host,
                    other.pid,
                    other.created.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            )
            .with_guidance(
                "wait for that operation to finish and run again; a lock of a crashed process is \
                 broken automatically once it is stale (120 s without refresh); only when you are \
                 sure that no operation runs on any host, remove every lock (unlock with all) \
                 (docs/RUNBOOK.md, \"The repository is locked\")",
            )
            .with_next(Advice::step(
                Action::Unlock { all: false },
                "to remove stale locks now",
            )));
        }
        if !announced {
            notice(format!(
                "waiting for `{}` ({} pid {}) to release its {} lock",
                other.operation,
                other.host,
                other.pid,
                other.mode.as_str()
            ));
            announced = true;
        }
        let jitter = 200 + u64::from(rand::random::<u16>() % 800);
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(jitter)) => {}
            () = cancel.cancelled() => {
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    format!(
                        "the operation was cancelled while waiting for the repository lock held \
                         by `{}`",
                        other.operation
                    ),
                )
                .with_guidance("nothing was changed; the repository is unchanged and valid"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    fn quiet(_: String) {}

    fn here() -> Holder {
        Holder::new("here")
    }

    /// A holder presenting `host` on this machine.
    fn here_named(host: &str) -> Holder {
        Holder::new(host)
    }

    #[tokio::test]
    async fn a_wait_for_a_lock_ends_when_the_operation_is_cancelled() {
        let s: DynStorage = Arc::new(MemoryStorage::new());
        let holder = acquire(
            &s,
            &here(),
            LockMode::Exclusive,
            "cleanup",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap();
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            c2.cancel();
        });
        let t0 = std::time::Instant::now();
        // Willing to wait a minute; the cancel ends the wait at once.
        let e = acquire_or_cancel(
            &s,
            &here(),
            LockMode::Backup,
            "backup",
            Duration::from_secs(60),
            &quiet,
            &cancel,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Cancelled, "{e}");
        assert!(e.message.contains("`cleanup`"), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        // Only the holder's lock is left in the store.
        let left = list_locks(&s).await.unwrap();
        assert_eq!(left.len(), 1, "{left:?}");
        holder.release().await.unwrap();
    }

    #[tokio::test]
    async fn shared_locks_coexist_and_exclusive_waits_then_fails() {
        let s: DynStorage = Arc::new(MemoryStorage::new());
        let a = acquire(
            &s,
            &here(),
            LockMode::Shared,
            "restore",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap();
        let b = acquire(
            &s,
            &here(),
            LockMode::Shared,
            "validate",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap();
        let e = acquire(
            &s,
            &here(),
            LockMode::Exclusive,
            "cleanup",
            Duration::from_millis(300),
            &quiet,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Locked);
        assert!(
            e.message.contains("restore") || e.message.contains("validate"),
            "{e}"
        );
        a.release().await.unwrap();
        b.release().await.unwrap();
        let x = acquire(
            &s,
            &here(),
            LockMode::Exclusive,
            "cleanup",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap();
        assert!(
            acquire(
                &s,
                &here(),
                LockMode::Backup,
                "backup",
                Duration::ZERO,
                &quiet
            )
            .await
            .is_err()
        );
        x.release().await.unwrap();
        assert!(
            s.list(LOCKS_PREFIX).await.unwrap().is_empty(),
            "failed attempts left locks"
        );
    }

    #[tokio::test]
    async fn stale_locks_are_broken_with_a_message() {
        let s: DynStorage = Arc::new(MemoryStorage::new());
        let old = Utc::now() - chrono::Duration::seconds(600);
        let dead = LockInfo {
            id: "dead".into(),
            mode: LockMode::Exclusive,
            host: "elsewhere".into(),
            pid: 1,
            operation: "cleanup".into(),
            created: old,
            refreshed: old,
            machine: None,
        };
        write_lock(&s, &dead).await.unwrap();
        let heard = std::sync::Mutex::new(Vec::new());
        let g = acquire(
            &s,
            &here(),
            LockMode::Backup,
            "backup",
            Duration::ZERO,
            &|m| heard.lock().unwrap().push(m),
        )
        .await
        .unwrap();
        let heard = heard.into_inner().unwrap();
        assert!(
            heard
                .iter()
                .any(|m| m.contains("breaking stale exclusive lock")),
            "{heard:?}"
        );
        g.release().await.unwrap();
    }

    fn lock_at(created: DateTime<Utc>, refreshed: DateTime<Utc>) -> LockInfo {
        LockInfo {
            id: "future".into(),
            mode: LockMode::Exclusive,
            host: "elsewhere".into(),
            pid: 1,
            operation: "backup cleanup".into(),
            created,
            refreshed,
            machine: None,
        }
    }

    #[test]
    fn a_lock_from_the_future_is_stale_beyond_the_skew_allowance() {
        let now = Utc::now();
        let secs = chrono::Duration::seconds;
        // Within the skew allowance: a live lock of a host whose clock runs a little ahead.
        let near = lock_at(now + secs(300), now + secs(300));
        assert_eq!(near.stale_reason(now, &here_named("here")), None);
        // Far ahead: it would never age, so it is stale, and the reason says why.
        for l in [
            lock_at(now, now + secs(86_400)),
            lock_at(now + secs(3 * 3600), now),
            lock_at(
                now + secs(FUTURE_SKEW_SECS + 5),
                now + secs(FUTURE_SKEW_SECS + 5),
            ),
        ] {
            let why = l.stale_reason(now, &here_named("here")).expect("stale");
            assert!(why.contains("ahead of this host's clock"), "{why}");
        }
        // The extremes chrono can parse neither panic nor count as live.
        let far = lock_at(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC);
        assert!(far.stale_reason(now, &here_named("here")).is_some());
        let ancient = lock_at(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MIN_UTC);
        assert!(ancient.stale_reason(now, &here_named("here")).is_some());
    }

    #[test]
    fn garbage_lock_objects_never_panic() {
        let cases: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"\xff\xfe\x00garbage".to_vec(),
            b"null".to_vec(),
            b"[]".to_vec(),
            br#"{"id":"x"}"#.to_vec(),
            br#"{"id":"\u00e9\u00e9","mode":"backup","host":"h\u0000","pid":4294967295,"operation":"\u00e9","created":"+262142-01-01T00:00:00Z","refreshed":"-262143-01-01T00:00:00Z"}"#.to_vec(),
            br#"{"id":"x","mode":"backup","host":"h","pid":-1,"operation":"o","created":"2025-01-01T00:00:00Z","refreshed":"2025-01-01T00:00:00Z"}"#.to_vec(),
            br#"{"id":"x","mode":"nope","host":"h","pid":1,"operation":"o","created":"2025-01-01T00:00:00Z","refreshed":"2025-01-01T00:00:00Z"}"#.to_vec(),
            br#"{"id":"x","mode":"shared","host":"h","pid":0,"operation":"o","created":"9999-99-99T00:00:00Z","refreshed":"x"}"#.to_vec(),
        ];
        let now = Utc::now();
        for raw in &cases {
            if let Some(l) = parse_lock(raw) {
                let _ = l.stale_reason(now, &here_named(&l.host.clone()));
                let _ = (l.age(now), l.refreshed_ago(now), l.key());
            }
        }
        // Pid 0 or beyond pid_t on this host is no live process.
        let mut l = lock_at(now, now);
        for pid in [0, u32::MAX] {
            l.pid = pid;
            l.host = "here".into();
            l.machine = Some(hostname());
            assert!(
                l.stale_reason(now, &here_named("here")).is_some(),
                "pid {pid}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_not_without_a_panic(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Some(l) = parse_lock(&raw) {
                let _ = l.stale_reason(Utc::now(), &here_named("here"));
            }
        }
    }

    #[tokio::test]
    async fn a_waiting_backup_runs_once_the_first_releases() {
        let s: DynStorage = Arc::new(MemoryStorage::new());
        let first = acquire(
            &s,
            &here(),
            LockMode::Backup,
            "backup 1",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap();
        let s2 = s.clone();
        let waiter = tokio::spawn(async move {
            acquire(
                &s2,
                &here(),
                LockMode::Backup,
                "backup 2",
                Duration::from_secs(20),
                &quiet,
            )
            .await
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(!waiter.is_finished());
        first.release().await.unwrap();
        let second = waiter.await.unwrap().unwrap();
        second.release().await.unwrap();
    }

    /// A pid that names no running process here (the largest pid_t is never handed out).
    const DEAD_PID: u32 = i32::MAX as u32;

    #[test]
    fn only_a_lock_of_this_host_on_this_machine_is_judged_by_its_pid() {
        let now = Utc::now();
        let mut l = lock_at(now, now);
        l.pid = DEAD_PID;
        let a = here_named("host-a");
        // This host on this machine, the process gone: stale.
        l.host = "host-a".into();
        l.machine = Some(hostname());
        let why = l.stale_reason(now, &a).expect("stale");
        assert!(why.contains("no longer running"), "{why}");
        // Another host name, even on this machine: its pid is not looked up.
        l.host = "host-b".into();
        assert_eq!(l.stale_reason(now, &a), None);
        // This host name on another machine: neither.
        l.host = "host-a".into();
        l.machine = Some(format!("{}-elsewhere", hostname()));
        assert_eq!(l.stale_reason(now, &a), None);
        // A lock of an older release (no machine): its host is the machine's name.
        l.machine = None;
        l.host = hostname();
        assert!(l.stale_reason(now, &Holder::new(&hostname())).is_some());
        assert_eq!(l.stale_reason(now, &a), None);
    }

    #[tokio::test]
    async fn backups_of_two_hosts_hold_their_locks_side_by_side() {
        let s: DynStorage = Arc::new(MemoryStorage::new());
        let a = acquire(
            &s,
            &here_named("host-a"),
            LockMode::Backup,
            "backup",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap();
        let b = acquire(
            &s,
            &here_named("host-b"),
            LockMode::Backup,
            "backup",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap();
        // A second backup of host a waits for the first.
        let e = acquire(
            &s,
            &here_named("host-a"),
            LockMode::Backup,
            "backup",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Locked);
        assert!(e.message.contains("host-a"), "{e}");
        // A cleanup waits for both.
        let e = acquire(
            &s,
            &here_named("host-b"),
            LockMode::Exclusive,
            "cleanup",
            Duration::ZERO,
            &quiet,
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Locked);
        // The lock records carry host, pid and (a host name set by the settings) the machine.
        let listed = list_locks(&s).await.unwrap();
        assert_eq!(listed.len(), 2, "{listed:?}");
        for (_, info) in &listed {
            let info = info.as_ref().unwrap();
            assert_eq!(info.pid, std::process::id());
            assert_eq!(info.machine.as_deref(), Some(hostname().as_str()));
        }
        a.release().await.unwrap();
        b.release().await.unwrap();
    }
}
