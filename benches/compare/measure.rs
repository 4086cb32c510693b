//! Runs one tool command and measures it: wall time, the child's user+sys CPU and peak RSS (from
//! `wait4`'s rusage), with stdout and stderr kept in log files.

use std::env;
use std::ffi::OsString;
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

/// The first argument that makes this bench binary act as the spawn helper (see `run`).
pub const HELPER_ARG: &str = "--compare-spawn-helper";

/// Runs `cmd` to completion with stdin closed and output in `<log_dir>/<label>.{out,err}`.
/// Any exit status other than 0 is a failure carrying the output's tail.
///
/// The command is started by a fresh copy of this binary (`helper_main`), which measures it with
/// `wait4` and writes the numbers to `<label>.rusage`. Started directly, the tool's `ru_maxrss`
/// would include this process's own peak RSS: Linux records the old address space's high-water
/// mark at `exec`, and a child made by fork or posix_spawn starts from ours. The helper is small,
/// so the floor it leaves is a few MiB.
pub fn run(cmd: &mut Command, log_dir: &Path, label: &str) -> Result<(Usage, Logs), Failure> {
    let logs = Logs {
        stdout: log_dir.join(format!("{label}.out")),
        stderr: log_dir.join(format!("{label}.err")),
    };
    let result_path = log_dir.join(format!("{label}.rusage"));
    let _ = fs::remove_file(&result_path);
    let open = |p: &Path| {
        fs::File::create(p).map_err(|e| Failure::new(format!("cannot create {}: {e}", p.display())))
    };
    let exe = env::current_exe()
        .map_err(|e| Failure::new(format!("cannot find the bench binary: {e}")))?;
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut helper = Command::new(exe);
    helper
        .arg(HELPER_ARG)
        .arg(&result_path)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => helper.env(key, v),
            None => helper.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        helper.current_dir(dir);
    }
    helper
        .stdin(Stdio::null())
        .stdout(open(&logs.stdout)?)
        .stderr(open(&logs.stderr)?);
    let helper_status = helper
        .status()
        .map_err(|e| Failure::new(format!("cannot start the spawn helper for {program}: {e}")))?;
    let report = fs::read_to_string(&result_path).unwrap_or_default();
    let nums: Vec<i64> = report
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let [wall_ns, user_us, sys_us, maxrss_kib, status] = nums[..] else {
        return Err(Failure {
            message: format!("{label}: {program} could not be run or measured ({helper_status})"),
            output_tail: logs.tail(20),
            skipped: false,
        });
    };
    let micros = |us: i64| Duration::from_micros(us.max(0) as u64);
    let usage = Usage {
        wall: Duration::from_nanos(wall_ns.max(0) as u64),
        user: micros(user_us),
        sys: micros(sys_us),
        maxrss_kib: maxrss_kib.max(0) as u64,
    };
    let status = status as libc::c_int;
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

/// The spawn helper: `<bench> --compare-spawn-helper <result file> <program> [args...]`. Starts
/// the program with this process's stdio, environment and directory, waits for it with `wait4`,
/// and writes `wall_ns user_us sys_us maxrss_kib wait_status` to the result file.
pub fn helper_main(args: &[OsString]) -> ! {
    let (Some(result_path), Some(program)) = (args.first(), args.get(1)) else {
        eprintln!("compare: {HELPER_ARG} needs <result file> <program> [args...]");
        std::process::exit(2);
    };
    let start = Instant::now();
    let child = match Command::new(program).args(&args[2..]).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("compare: cannot start {}: {e}", program.to_string_lossy());
            std::process::exit(127);
        }
    };
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
            eprintln!("compare: wait4: {err}");
            std::process::exit(125);
        }
    }
    let wall = start.elapsed();
    // The child is reaped; dropping the handle neither waits nor kills.
    drop(child);
    // time_t and suseconds_t are not i64 on every target.
    #[allow(clippy::unnecessary_cast)]
    let us = |tv: libc::timeval| tv.tv_sec as i64 * 1_000_000 + tv.tv_usec as i64;
    let line = format!(
        "{} {} {} {} {}\n",
        wall.as_nanos(),
        us(ru.ru_utime),
        us(ru.ru_stime),
        ru.ru_maxrss,
        status
    );
    match fs::write(result_path, line) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("compare: cannot write the measurement: {e}");
            std::process::exit(125);
        }
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
