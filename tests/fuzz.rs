//! The stable fuzzer: every reader of untrusted bytes (the targets in `fuzz/targets.rs`) under a
//! mutation loop inside `cargo test`, for a bounded time per target, plus the reproducers of what
//! fuzzing found.
//!
//! Each target starts from seeds made from real objects, mutates them (bit flips, interesting
//! bytes and integers, truncations, insertions, splices, and structure-aware edits: a JSON value, a
//! tar header field with its checksum fixed, an envelope's frame size), and keeps the inputs that
//! reach a new combination of branches. A panic, or more memory held at once than the target's
//! bound, fails the test: the input is written under `target/tmp/fuzz/failures/` and the message
//! gives its path, its first bytes in hex and the commands that replay it.
//!
//! Environment: `FUZZ_SECONDS` (per target, default 4), `FUZZ_SEED` (default: from the clock;
//! printed), `FUZZ_REPLAY=path` (run that one input through the target named by the test),
//! `FUZZ_MAX_LEN` (largest input, default 262144).

#[path = "../fuzz/targets.rs"]
mod targets;

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;
use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use targets::{Layout, MODE_STORED, Reach};

// ---------------------------------------------------------------------------------------------
// Allocation accounting: the Rust heap held by the current thread, its peak, and a hard limit
// on one allocation (past it, the input is saved and the process aborts: an allocation that
// large would abort anyway, without saying which input asked for it).

/// One allocation larger than this while a target runs is a finding.
const HARD_LIMIT: usize = 96 << 20;

struct Counting;

/// (input pointer, input length, fd of the file to save it in, message pointer, message length).
type Armed = (usize, usize, i32, usize, usize);

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    /// Set while a target runs.
    static ARMED: Cell<Option<Armed>> = const { Cell::new(None) };
}

fn account(delta: isize, request: usize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
    if request > HARD_LIMIT
        && let Ok(Some((ptr, len, fd, msg, msg_len))) = ARMED.try_with(Cell::get)
    {
        // SAFETY: the pointers are the input and a leaked message, both alive while armed; only
        // raw system calls run here, nothing that allocates.
        unsafe {
            libc::ftruncate(fd, 0);
            libc::pwrite(fd, ptr as *const libc::c_void, len, 0);
            libc::write(2, msg as *const libc::c_void, msg_len);
            libc::abort();
        }
    }
}

// SAFETY: every call is passed to the system allocator unchanged; only counters are kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        account(0, layout.size());
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize, 0);
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        account(0, layout.size());
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            account(layout.size() as isize, 0);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize), 0);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        account(0, new_size);
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize, 0);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

// ---------------------------------------------------------------------------------------------
// A small deterministic random number generator (xorshift64*).

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations.

const BYTES: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'0', b'7', b'9', b' ', b'"', b'\\', b'{', b'}', b'[', b']', b',',
    b':', b'/', b'.', b'L', b'x', b'-', b'e',
];

const INTS: &[u64] = &[
    0,
    1,
    2,
    15,
    16,
    64,
    127,
    128,
    255,
    256,
    511,
    512,
    513,
    4095,
    4096,
    4097,
    4098,
    65535,
    65536,
    1 << 20,
    (1 << 20) + 1,
    64 << 20,
    (64 << 20) + 1,
    i32::MAX as u64,
    u32::MAX as u64,
    1 << 32,
    i64::MAX as u64,
    u64::MAX,
    u64::MAX - 510,
    u64::MAX - 511,
];

fn generic(d: &mut Vec<u8>, corpus: &[Vec<u8>], rng: &mut Rng) {
    let len = d.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            d[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            d[i] = *rng.pick(BYTES);
        }
        2 if len > 0 => {
            let width = *rng.pick(&[1usize, 2, 4, 8]);
            let v = *rng.pick(INTS);
            let bytes = if rng.one_in(2) {
                v.to_le_bytes()
            } else {
                (v << (64 - 8 * width as u32).min(63)).to_be_bytes()
            };
            let at = rng.below(len);
            let end = (at + width).min(len);
            d[at..end].copy_from_slice(&bytes[..end - at]);
        }
        3 if len > 0 => {
            let cut = match rng.below(3) {
                0 => rng.below(len),
                1 => (rng.below(len) / 512) * 512,
                _ => len - 1 - rng.below(len.min(16)),
            };
            d.truncate(cut);
        }
        4 => {
            let at = rng.below(len + 1);
            let most = if rng.one_in(8) { 4096 } else { 16 };
            let n = 1 + rng.below(most);
            let fill: Vec<u8> = if rng.one_in(2) {
                vec![*rng.pick(BYTES); n]
            } else {
                (0..n).map(|_| rng.next() as u8).collect()
            };
            d.splice(at..at, fill);
        }
        5 if len > 0 => {
            let at = rng.below(len);
            let most = if rng.one_in(4) { 4096 } else { 16 };
            let n = 1 + rng.below((len - at).min(most));
            d.drain(at..at + n);
        }
        6 if len > 0 => {
            let from = rng.below(len);
            let n = 1 + rng.below((len - from).min(1024));
            let chunk = d[from..from + n].to_vec();
            let at = rng.below(len + 1);
            if rng.one_in(2) {
                d.splice(at..at, chunk);
            } else {
                let end = (at + n).min(len);
                d[at..end].copy_from_slice(&chunk[..end - at]);
            }
        }
        7 => {
            let other = rng.pick(corpus);
            let keep = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            d.truncate(keep);
            d.extend_from_slice(&other[from..]);
        }
        8 if len > 0 => {
            let i = rng.below(len);
            d[i] = rng.next() as u8;
        }
        _ => d.push(*rng.pick(BYTES)),
    }
}

/// Interesting JSON values: the edges of numbers, dates, paths, ids and strings.
fn interesting_value(rng: &mut Rng, other: &Value) -> Value {
    let s = |t: &str| Value::String(t.to_string());
    match rng.below(34) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => (*rng.pick(INTS)).into(),
        3 => (-(rng.below(1 << 20) as i64) - 1).into(),
        4 => i64::MIN.into(),
        5 => 0.5.into(),
        6 => 1e300.into(),
        7 => s(""),
        8 => s(".."),
        9 => s("../../etc/passwd"),
        10 => s("/etc/passwd"),
        11 => s("a//b"),
        12 => s("a/./b"),
        13 => s("data/\u{0}x"),
        14 => s("0123456789abcde\u{e9}0000000000000000000000000000000000000000000000"),
        15 => s(&"\u{1F600}".repeat(17)),
        16 => s(&"0".repeat(64)),
        17 => s(&"x".repeat(5000)),
        18 => s("+262143-12-31T23:59:59.999999999Z"),
        19 => s("-262144-01-01T00:00:00Z"),
        20 => s("2016-12-31T23:59:60.5Z"),
        21 => s("2026-11-22T14:45:44.123+14:00"),
        22 => s("1970-01-01T00:00:00Z"),
        23 => s("backup_../x"),
        24 => s("backup_20261122T144544.700Z_256156ab"),
        25 => s("aes-256-gcm"),
        26 => s("none"),
        27 => s("key_file"),
        28 => s("argon2id"),
        29 => Value::Array(Vec::new()),
        30 => Value::Object(Default::default()),
        31 => other.clone(),
        32 => s("hmac-sha256:"),
        _ => s("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
    }
}

/// Every node of a JSON value, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    if out.len() > 4000 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                pointers(
                    x,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                pointers(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// One structure-aware edit of a JSON document; `None` when the bytes are not JSON.
fn json_edit(d: &[u8], rng: &mut Rng) -> Option<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(d).ok()?;
    let mut all = Vec::new();
    pointers(&v, String::new(), &mut all);
    let other = v
        .pointer(&all[rng.below(all.len())])
        .cloned()
        .unwrap_or(Value::Null);
    let at = rng.pick(&all).clone();
    let node = v.pointer_mut(&at)?;
    match node {
        Value::Object(m) if rng.one_in(2) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            match rng.below(3) {
                0 if !keys.is_empty() => {
                    m.remove(rng.pick(&keys));
                }
                1 if !keys.is_empty() => {
                    let k = rng.pick(&keys).clone();
                    if let Some(x) = m.remove(&k) {
                        m.insert(format!("{k}_"), x);
                    }
                }
                _ => {
                    m.insert("unknown_field".into(), other);
                }
            }
        }
        Value::Array(a) if rng.one_in(2) => match rng.below(3) {
            0 if !a.is_empty() => {
                a.remove(rng.below(a.len()));
            }
            1 if !a.is_empty() => {
                let x = a[rng.below(a.len())].clone();
                let most = if rng.one_in(8) { 200 } else { 2 };
                let n = 1 + rng.below(most);
                for _ in 0..n {
                    a.push(x.clone());
                }
            }
            _ => a.push(other),
        },
        Value::String(s) if rng.one_in(2) => {
            let mut chars: Vec<char> = s.chars().collect();
            let at = rng.below(chars.len() + 1);
            match rng.below(4) {
                0 => chars.insert(at, *rng.pick(&['/', '.', '\0', '\u{e9}', '\u{20ac}', 'Z'])),
                1 => chars.truncate(at),
                2 => chars.extend("/..".chars()),
                _ => {
                    if at < chars.len() {
                        chars[at] = *rng.pick(&['0', 'f', 'g', '9', ':', '+', '-']);
                    }
                }
            }
            *s = chars.into_iter().collect();
        }
        Value::Number(n) if rng.one_in(2) => {
            let x = n.as_i64().unwrap_or(0);
            *node = match rng.below(4) {
                0 => x.wrapping_add(1).into(),
                1 => x.wrapping_sub(1).into(),
                2 => x.wrapping_neg().into(),
                _ => (x as f64 * 1.5).into(),
            };
        }
        _ => *node = interesting_value(rng, &other),
    }
    let mut out = if rng.one_in(2) {
        serde_json::to_vec(&v).ok()?
    } else {
        serde_json::to_vec_pretty(&v).ok()?
    };
    if rng.one_in(16) {
        // A duplicate key: serde_json::Value cannot hold one, so edit the text.
        if let Some(i) = out.iter().position(|b| *b == b'{') {
            out.splice(i + 1..i + 1, br#""path":"x","#.iter().copied());
        }
    }
    Some(out)
}

/// Offsets of 512-byte blocks that look like tar headers (their checksum holds).
fn tar_headers(d: &[u8]) -> Vec<usize> {
    (0..d.len() / 512)
        .map(|i| i * 512)
        .filter(|&o| {
            d[o..o + 512].iter().any(|b| *b != 0) && targets::tar_checksum_ok(&d[o..o + 512])
        })
        .collect()
}

fn fix_tar_checksum(block: &mut [u8]) {
    block[148..156].fill(b' ');
    let sum: u32 = block[..512].iter().map(|b| u32::from(*b)).sum();
    block[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
}

fn set_field(block: &mut [u8], range: std::ops::Range<usize>, value: &[u8]) {
    let field = &mut block[range];
    field.fill(0);
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// A GNU long-name record holding `name` (and its NUL).
fn long_name_record(name: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(name.len() as u64 + 1);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(name);
    out.push(0);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// One structure-aware edit of a tar stream; `None` when it has no header to edit.
fn tar_edit(d: &mut Vec<u8>, rng: &mut Rng) -> Option<()> {
    let headers = tar_headers(d);
    let o = *headers.get(rng.below(headers.len().max(1)))?;
    let block = &mut d[o..o + 512];
    let mut fix = true;
    match rng.below(12) {
        0..=2 => {
            let v = *rng.pick(INTS);
            if rng.one_in(2) && v < 8u64.pow(11) {
                set_field(block, 124..136, format!("{v:011o}").as_bytes());
            } else {
                let mut f = [0u8; 12];
                f[0] = 0x80;
                f[4..].copy_from_slice(&v.to_be_bytes());
                block[124..136].copy_from_slice(&f);
            }
        }
        3 | 4 => {
            block[156] = *rng.pick(&[
                b'0', 0, b'L', b'K', b'x', b'g', b'1', b'2', b'5', b'S', b'7',
            ]);
        }
        5 | 6 => {
            let long = "n".repeat(100);
            let name: &[u8] = match rng.below(10) {
                0 => b"..",
                1 => b"../x",
                2 => b"/etc/passwd",
                3 => b"a//b",
                4 => b"data/./app.db",
                5 => b"data/app.db",
                6 => b"a",
                7 => b"\xff\xfe",
                8 => long.as_bytes(),
                _ => b"",
            };
            set_field(block, 0..100, name);
        }
        7 => set_field(block, 345..500, b"prefix"),
        8 => block[257..265].copy_from_slice(if rng.one_in(2) {
            b"ustar\x0000"
        } else {
            b"ustar  \0"
        }),
        9 => {
            fix = false;
            block[148 + rng.below(8)] ^= 1 << rng.below(8);
        }
        10 => {
            let n = *rng.pick(&[1usize, 99, 100, 101, 4095, 4096, 4097, 5000]);
            let name = vec![b'd'; n];
            d.splice(o..o, long_name_record(&name));
            return Some(());
        }
        _ => {
            // Duplicate this member: header and content.
            let size = tar::Header::from_byte_slice(&d[o..o + 512])
                .entry_size()
                .ok()?;
            let content = usize::try_from(size).unwrap_or(usize::MAX).div_ceil(512);
            let end = content
                .saturating_mul(512)
                .saturating_add(o + 512)
                .min(d.len());
            let member = d[o..end].to_vec();
            d.splice(end..end, member);
            return Some(());
        }
    }
    if fix {
        fix_tar_checksum(block);
    }
    Some(())
}

/// One structure-aware edit of a sealed object's header or frame boundaries.
fn envelope_edit(d: &mut Vec<u8>, rng: &mut Rng) -> Option<()> {
    if d.len() < 64 {
        return None;
    }
    match rng.below(5) {
        0 => {
            let sizes = [
                4095,
                4096,
                4097,
                1 << 20,
                64 << 20,
                (64 << 20) + 1,
                0,
                u32::MAX,
                (d.len() - 64) as u32,
                (d.len() - 64).saturating_sub(1) as u32,
                ((d.len() - 64) / 2) as u32,
            ];
            d[12..16].copy_from_slice(&rng.pick(&sizes).to_le_bytes());
        }
        1 => d[8] = *rng.pick(&[0, 1, 2, 0xff]),
        2 => d[9] = *rng.pick(&[0, 1, 2, 3, 4]),
        3 => {
            let zero = *rng.pick(&[10usize, 11, 16, 19, 52, 63]);
            d[zero] = 1;
        }
        _ => {
            let frame = u32::from_le_bytes([d[12], d[13], d[14], d[15]]).max(1) as usize;
            let frames = (d.len() - 64) / frame;
            let cut = 64 + rng.below(frames + 1) * frame;
            let cut = (cut + rng.below(3)).saturating_sub(1).min(d.len());
            d.truncate(cut);
        }
    }
    Some(())
}

/// A mutated copy of `input`: a few stacked edits, structure-aware where the layout allows.
fn mutate(target: &str, input: &[u8], corpus: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let layout = targets::layout(target);
    let mut d = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        if !(rng.one_in(2) && structured_edit(target, layout, &mut d, rng)) {
            generic(&mut d, corpus, rng);
        }
    }
    d
}

/// One structure-aware edit for the target's layout; false when none applies to these bytes.
fn structured_edit(target: &str, layout: Layout, d: &mut Vec<u8>, rng: &mut Rng) -> bool {
    match layout {
        Layout::Json => json_edit(d, rng).map(|e| *d = e).is_some(),
        Layout::Tar => tar_edit(d, rng).is_some(),
        Layout::Envelope => envelope_edit(d, rng).is_some(),
        Layout::ModeJson | Layout::ModeTar if !d.is_empty() => {
            let stored = d[0] & MODE_STORED != 0;
            if !stored && rng.one_in(6) {
                // Seal the payload: later edits work on the stored object.
                return targets::to_stored(target, d).map(|s| *d = s).is_some();
            }
            let mut body = d[1..].to_vec();
            let done = match (stored, layout) {
                (true, _) => envelope_edit(&mut body, rng).is_some(),
                (false, Layout::ModeJson) => json_edit(&body, rng).map(|e| body = e).is_some(),
                _ => tar_edit(&mut body, rng).is_some(),
            };
            if done {
                d.truncate(1);
                d.extend_from_slice(&body);
            }
            done
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// The loop.

fn out_dir(sub: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz")
        .join(sub);
    std::fs::create_dir_all(&dir).expect("create the fuzz output folder");
    dir
}

fn env_num(name: &str) -> Option<f64> {
    let v = std::env::var(name).ok()?;
    Some(
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
    )
}

/// A line on standard error that the test harness does not capture (CI's log shows it).
fn report(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn hex_prefix(d: &[u8]) -> String {
    d.iter().take(64).map(|b| format!("{b:02x}")).collect()
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic with no message".into())
}

struct Run<'a> {
    name: &'a str,
    target: fn(&[u8]) -> Reach,
    seed: u64,
    save_fd: i32,
    /// What the allocator prints before it aborts (made before any input runs).
    abort_message: String,
}

impl Run<'_> {
    /// Run one input; a panic or too much memory fails the test with the input saved.
    fn one(&self, input: &[u8], iteration: u64) -> Reach {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        ARMED.with(|a| {
            a.set(Some((
                input.as_ptr() as usize,
                input.len(),
                self.save_fd,
                self.abort_message.as_ptr() as usize,
                self.abort_message.len(),
            )))
        });
        let result = catch_unwind(AssertUnwindSafe(|| (self.target)(input)));
        ARMED.with(|a| a.set(None));
        let peak = (PEAK.with(Cell::get) - base).max(0) as usize;
        let bound = targets::alloc_bound(self.name, input.len());
        match result {
            Ok(_) if peak > bound => self.fail(
                input,
                iteration,
                &format!(
                    "held {peak} bytes at once, more than its bound of {bound} for {} input bytes",
                    input.len()
                ),
            ),
            Ok(reach) => reach,
            Err(p) => self.fail(input, iteration, &panic_text(&*p)),
        }
    }

    fn fail(&self, input: &[u8], iteration: u64, what: &str) -> ! {
        let path =
            out_dir("failures").join(format!("{}-seed{}-{iteration}.bin", self.name, self.seed));
        std::fs::write(&path, input).expect("save the failing input");
        panic!(
            "fuzz target `{name}` failed on input #{iteration} (seed {seed}): {what}\n\
             input: {path} ({len} bytes), first bytes: {hex}\n\
             replay it: FUZZ_REPLAY={path} cargo test --test fuzz {name}\n\
             rerun the sequence: FUZZ_SEED={seed} cargo test --test fuzz {name}",
            name = self.name,
            seed = self.seed,
            path = path.display(),
            len = input.len(),
            hex = hex_prefix(input),
        )
    }
}

fn fuzz(name: &str) {
    let target = targets::TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, f)| *f)
        .expect("a target of that name");
    let seed = env_num("FUZZ_SEED").map_or_else(
        || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        },
        |s| s as u64,
    );
    let seconds = env_num("FUZZ_SECONDS").unwrap_or(4.0);
    let max_len = env_num("FUZZ_MAX_LEN").map_or(256 << 10, |n| n as usize);
    let save_path = out_dir("failures").join(format!("{name}-seed{seed}-oversized.bin"));
    let save = std::fs::File::create(&save_path).expect("create the save file");
    let run = Run {
        name,
        target,
        seed,
        save_fd: std::os::fd::AsRawFd::as_raw_fd(&save),
        abort_message: format!(
            "\nfuzz {name}: one allocation of more than {HARD_LIMIT} bytes (seed {seed}); the input \
             is saved in {}\n",
            save_path.display()
        ),
    };

    if let Ok(replay) = std::env::var("FUZZ_REPLAY") {
        let input = std::fs::read(&replay).unwrap_or_else(|e| panic!("read {replay}: {e}"));
        let reach = run.one(&input, 0);
        report(&format!(
            "fuzz {name}: replayed {replay} ({} bytes): no failure, reach {reach:#x}",
            input.len()
        ));
        drop(save);
        let _ = std::fs::remove_file(&save_path);
        return;
    }

    // Seeds: real objects. Each must pass and get past the first check (a seed rejected at once
    // means the seeds no longer match the format). They are written out for cargo fuzz.
    let seeds = targets::seeds(name);
    assert!(!seeds.is_empty(), "no seeds for {name}");
    let seed_dir = out_dir(&format!("seeds/{name}"));
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    let mut seen: HashSet<Reach> = HashSet::new();
    for (i, s) in seeds.iter().enumerate() {
        std::fs::write(seed_dir.join(format!("seed-{i}")), s).expect("write a seed");
        let reach = run.one(s, 0);
        assert!(
            reach > 1,
            "seed {i} of {name} is rejected at once (reach {reach:#x})"
        );
        seen.insert(reach);
        corpus.push(s.clone());
    }
    let n_seeds = corpus.len();
    // cargo fuzz's corpus, when a long run left one.
    let extra = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    if let Ok(dir) = std::fs::read_dir(&extra) {
        for f in dir.flatten().take(2000) {
            if let Ok(d) = std::fs::read(f.path())
                && d.len() <= max_len
            {
                seen.insert(run.one(&d, 0));
                corpus.push(d);
            }
        }
    }

    let mut rng = Rng::new(
        seed ^ name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }),
    );
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut tried = 0u64;
    let mut known = 0u64;
    while Instant::now() < deadline {
        let base = rng.below(corpus.len());
        let mut input = mutate(name, &corpus[base], &corpus, &mut rng);
        input.truncate(max_len);
        if targets::known_finding(name, &input).is_some() {
            known += 1;
            continue;
        }
        tried += 1;
        let reach = run.one(&input, tried);
        if seen.insert(reach) {
            if corpus.len() < 20_000 {
                corpus.push(input);
            } else {
                let i = n_seeds + rng.below(corpus.len() - n_seeds);
                corpus[i] = input;
            }
        }
    }
    drop(save);
    let _ = std::fs::remove_file(&save_path);
    let secs = start.elapsed().as_secs_f64();
    report(&format!(
        "fuzz {name}: {tried} inputs in {secs:.1} s ({:.0}/s), {} distinct reach values, corpus {}, \
         seed {seed}{}",
        tried as f64 / secs.max(1e-9),
        seen.len(),
        corpus.len(),
        if known > 0 {
            format!(", {known} inputs skipped for known findings")
        } else {
            String::new()
        }
    ));
    assert!(tried > 0 || seconds == 0.0, "no input was tried");
}

#[test]
fn envelope() {
    fuzz("envelope");
}

#[test]
fn config() {
    fuzz("config");
}

#[test]
fn manifest() {
    fuzz("manifest");
}

#[test]
fn history() {
    fuzz("history");
}

#[test]
fn checksums() {
    fuzz("checksums");
}

#[test]
fn tar() {
    fuzz("tar");
}

#[test]
fn volume() {
    fuzz("volume");
}

#[test]
fn lock() {
    fuzz("lock");
}

// ---------------------------------------------------------------------------------------------
// Findings: minimal reproducers of what fuzzing (and reading the code it drives) found, kept as
// regression tests once fixed. An open finding's reproducer is `#[ignore]`d, with an arm in
// `targets::known_finding`, until its fix lands.

/// A tar member whose size field (base-256) is within 511 of 2^64, left unread: skipping it adds
/// its padding to its size, which overflows.
#[test]
fn finding_tar_size_overflow() {
    use mahavishnu_dr::internals::tar_reader::TarReader;
    let mut h = tar::Header::new_gnu();
    h.set_path("a").unwrap();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(u64::MAX);
    h.set_cksum();
    let mut data = h.as_bytes().to_vec();
    data.extend_from_slice(&[0u8; 1024]);
    let second = catch_unwind(|| {
        let mut t = TarReader::new(&data[..]);
        let first = t.next_entry().expect("the header reads").expect("a member");
        assert_eq!(first.size, u64::MAX);
        // The content is not read: the next call skips it.
        t.next_entry()
            .map(|e| e.is_some())
            .map_err(|e| e.to_string())
    });
    let second = second.expect("TarReader::next_entry panicked skipping a member of 2^64-1 bytes");
    assert!(
        second.is_err(),
        "a member of 2^64-1 bytes followed by 1 KiB was skipped as if it were complete: {second:?}"
    );
}

/// A checksum list is keyless (anyone who can write the store can edit it). A digest whose
/// 16th byte falls inside a multi-byte character makes `backup validate --level checksum`
/// panic where it quotes the digest in its mismatch message, instead of reporting the mismatch.
#[test]
fn finding_validate_digest_prefix() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("settings")).unwrap();
    std::fs::create_dir_all(root.join("data")).unwrap();
    std::fs::write(root.join("data/a.txt"), b"some state").unwrap();
    std::fs::write(
        root.join("settings/mahavishnu.yaml"),
        "backup:\n  directory: \"./repo\"\n  sources: [\"./data\"]\n  encryption: { key_path: \"./key\" }\n\
         disaster_recovery:\n  restore_test: { scratch_dir: \"./scratch\" }\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_mahavishnu-dr"));
        c.arg("--config").arg(root.join("settings/mahavishnu.yaml"));
        c.args(args).current_dir(root);
        for (k, _) in std::env::vars() {
            if k.starts_with("MAHAVISHNU_") {
                c.env_remove(k);
            }
        }
        c.output().unwrap()
    };
    assert!(run(&["init", "--generate-key", "--json"]).status.success());
    let backup = run(&["backup", "run", "--type", "full", "--json"]);
    assert!(
        backup.status.success(),
        "{}",
        String::from_utf8_lossy(&backup.stderr)
    );
    let id = serde_json::from_slice::<Value>(&backup.stdout).unwrap()["backup_id"]
        .as_str()
        .unwrap()
        .to_string();
    let list_path = root.join("repo/backups").join(&id).join("checksums.json");
    let mut list: Value = serde_json::from_slice(&std::fs::read(&list_path).unwrap()).unwrap();
    // 15 hex digits, then 'é' (two bytes: byte 16 is inside it), then hex digits.
    list["volumes"][0]["sha256"] = format!("0123456789abcde\u{e9}{}", "0".repeat(47)).into();
    std::fs::write(&list_path, serde_json::to_vec_pretty(&list).unwrap()).unwrap();

    let out = run(&["backup", "validate", "--level", "checksum", "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "validate panicked:\n{stderr}");
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["volume"] == "vol-00000"),
        "the forged digest is not reported against vol-00000: {v}"
    );
}
