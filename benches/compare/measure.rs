//! Runs one tool command and measures it: wall time, the child's user+sys CPU and peak RSS (from
//! `wait4`'s rusage), with stdout and stderr kept in log files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one finished child used.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    pub wall: Duration,
    pub user: Duration,
    pub sys: Duration,
    /// Peak resident set size of the child (and any of its waited-for descendants), KiB.
    pub maxrss_kib: u64,
}

impl Usage {
    pub fn cpu(&self) -> Duration {
        self.user + self.sys
    }
}

/// A failed step: what went wrong, and the end of the tool's output.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    pub output_tail: String,
    /// Not run at all, because an earlier step of the same repetition failed.
    pub skipped: bool,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            output_tail: String::new(),
            skipped: false,
        }
    }

    pub fn skipped() -> Failure {
        Failure {
            skipped: true,
            ..Failure::new("not run: an earlier backup failed in this repetition")
        }
    }
}

/// A command's log files.
pub struct Logs {
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Logs {
    /// The last `lines` lines of stderr, or of stdout when stderr is empty.
    pub fn tail(&self, lines: usize) -> String {
        let pick = |p: &Path| fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned());
        let err = pick(&self.stderr).unwrap_or_default();
        let text = if err.trim().is_empty() {
            pick(&self.stdout).unwrap_or_default()
        } else {
            err
        };
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

fn timeval(tv: libc::timeval) -> Duration {
    Duration::from_secs(tv.tv_sec.max(0) as u64) + Duration::from_micros(tv.tv_usec.max(0) as u64)
}

/// Runs `cmd` to completion with stdin closed and output in `<log_dir>/<label>.{out,err}`.
/// Any exit status other than 0 is a failure carrying the output's tail.
pub fn run(cmd: &mut Command, log_dir: &Path, label: &str) -> Result<(Usage, Logs), Failure> {
    let logs = Logs {
        stdout: log_dir.join(format!("{label}.out")),
        stderr: log_dir.join(format!("{label}.err")),
    };
    let open = |p: &Path| {
        fs::File::create(p).map_err(|e| Failure::new(format!("cannot create {}: {e}", p.display())))
    };
    cmd.stdin(Stdio::null())
        .stdout(open(&logs.stdout)?)
        .stderr(open(&logs.stderr)?);
    let program = cmd.get_program().to_string_lossy().into_owned();
    let start = Instant::now();
    let child = cmd
        .spawn()
        .map_err(|e| Failure::new(format!("cannot start {program}: {e}")))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child; `status` and `ru` are valid for writes.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(Failure::new(format!("wait4 on {program}: {err}")));
        }
    }
    let wall = start.elapsed();
    // The child is reaped; dropping the handle neither waits nor kills.
    drop(child);
    let usage = Usage {
        wall,
        user: timeval(ru.ru_utime),
        sys: timeval(ru.ru_stime),
        maxrss_kib: ru.ru_maxrss.max(0) as u64,
    };
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok((usage, logs))
    } else {
        let how = if libc::WIFEXITED(status) {
            format!("exit status {}", libc::WEXITSTATUS(status))
        } else if libc::WIFSIGNALED(status) {
            format!("killed by signal {}", libc::WTERMSIG(status))
        } else {
            format!("wait status {status:#x}")
        };
        Err(Failure {
            message: format!("{label}: {program} failed ({how})"),
            output_tail: logs.tail(20),
            skipped: false,
        })
    }
}

/// Flushes all dirty pages (so one tool's write-back does not land in the next tool's timing),
/// returning how long it took.
pub fn sync_all() -> Duration {
    let start = Instant::now();
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    start.elapsed()
}
