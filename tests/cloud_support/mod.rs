//! Real object-storage servers on loopback for the cloud storage tests: SeaweedFS (S3, with
//! SigV4 checked against an identity of its own) and Azurite (Azure Blob, the well-known dev
//! account), installed by tests/cloud/setup.sh. [`shared`] starts one of each per test binary;
//! [`S3Server::start`] starts a private one a test may stop. Servers are killed when dropped,
//! and the shared ones when the test binary exits. A server that cannot be installed or started
//! fails the test: nothing is skipped.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The S3 identity SeaweedFS checks signatures against.
pub const S3_ACCESS_KEY: &str = "drtestaccess";
pub const S3_SECRET_KEY: &str = "drtest-s3-secret-4f9c1e";
/// The bucket every S3 server is started with.
pub const S3_BUCKET: &str = "dr-test";
/// Azurite's well-known development account and key.
pub const AZ_ACCOUNT: &str = "devstoreaccount1";
pub const AZ_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
/// The container created in every Azurite.
pub const AZ_CONTAINER: &str = "dr-test";

/// What tests/cloud/setup.sh installed.
struct Tools {
    weed: PathBuf,
    node: PathBuf,
    azurite_blob: PathBuf,
}

fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloud/setup.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .expect("run tests/cloud/setup.sh");
        assert!(
            out.status.success(),
            "tests/cloud/setup.sh failed (the cloud tests need SeaweedFS and Azurite):\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let get = |name: &str| {
            let line = stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("setup.sh printed no {name}=: {stdout}"));
            PathBuf::from(line)
        };
        Tools {
            weed: get("WEED"),
            node: get("NODE"),
            azurite_blob: get("AZURITE_BLOB"),
        }
    })
}

/// A server's folder, under the target's temporary folder and named after this process: the
/// shared servers' folders are never dropped (statics), so each run removes those that earlier
/// runs left behind.
fn server_dir() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let mine = format!("dr-cloud-{}-", std::process::id());
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("dr-cloud-") && !name.starts_with(&mine) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
    tempfile::Builder::new()
        .prefix(&mine)
        .tempdir_in(root)
        .unwrap()
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16, what: &str, log: &Path) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{what} did not start listening on {port}; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Spawn `cmd` with its output in `log`, killed with this process (Linux: the parent-death
/// signal; the shared servers are spawned from a thread that lives as long as the process).
fn spawn(mut cmd: Command, log: &Path) -> Child {
    let f = std::fs::File::create(log).unwrap();
    cmd.stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f);
    #[cfg(target_os = "linux")]
    unsafe {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec here.
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().expect("spawn a test server")
}

/// A SeaweedFS server (`weed mini`) with S3 on a free loopback port.
pub struct S3Server {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
    args: Vec<String>,
}

impl S3Server {
    /// Start one, with bucket [`S3_BUCKET`], and wait until S3 answers.
    pub fn start() -> S3Server {
        let dir = server_dir();
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"dr","credentials":[{{"accessKey":"{S3_ACCESS_KEY}","secretKey":"{S3_SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let port = free_port();
        let mut args = vec![
            "mini".to_string(),
            format!("-dir={}", data.display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            format!("-s3.port={port}"),
            format!("-s3.config={}", config.display()),
            format!("-bucket={S3_BUCKET}"),
            "-master.telemetry=false".into(),
            "-webdav=false".into(),
            "-admin.ui=false".into(),
            "-s3.port.iceberg=0".into(),
            "-s3.port.lance=0".into(),
            // A missing bucket must stay missing (mini creates one on first write by default).
            "-s3.autoCreateBucket=false".into(),
        ];
        // Every other listener on a free port too (the defaults collide between binaries).
        for flag in [
            "s3.port.grpc",
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "admin.port",
            "admin.port.grpc",
        ] {
            args.push(format!("-{flag}={}", free_port()));
        }
        let mut s = S3Server {
            child: None,
            dir,
            port,
            args,
        };
        s.restart();
        s
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("weed.log")
    }

    /// Start (again, after [`S3Server::stop`]) on the same port and data.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut cmd = Command::new(&tools().weed);
        cmd.args(&self.args).current_dir(self.dir.path());
        self.child = Some(spawn(cmd, &self.log()));
        wait_port(self.port, "SeaweedFS S3", &self.log());
        self.wait_bucket();
    }

    /// The bucket is made a moment after S3 listens: wait until a signed listing of it works.
    fn wait_bucket(&self) {
        let store = open_store(&self.primary(S3_BUCKET, "ready-check", S3_SECRET_KEY));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let t = Instant::now();
        loop {
            // Each try bounded: a server still starting may hold a request for long.
            let tried = rt.block_on(async {
                tokio::time::timeout(Duration::from_secs(2), store.list("x/")).await
            });
            match tried.unwrap_or_else(|_| Err(mahavishnu_dr::Error::storage("no answer in 2 s"))) {
                Ok(_) => return,
                Err(e) => assert!(
                    t.elapsed() < Duration::from_secs(60),
                    "SeaweedFS did not serve bucket {S3_BUCKET}: {e}; log:\n{}",
                    std::fs::read_to_string(self.log()).unwrap_or_default()
                ),
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Kill the server (as a crash would).
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        // Wait until the port is free again.
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok()
            && t.elapsed() < Duration::from_secs(10)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `backup.storage.primary` for this server under `prefix`, signing with `secret`.
    pub fn primary(&self, bucket: &str, prefix: &str, secret: &str) -> String {
        format!(
            "  storage:\n    primary: {}\n",
            self.target(bucket, prefix, secret)
        )
    }

    /// The store's settings as one YAML flow mapping (for a primary or a replica entry).
    pub fn target(&self, bucket: &str, prefix: &str, secret: &str) -> String {
        format!(
            "{{ type: s3, bucket: {bucket}, prefix: \"{prefix}\", region: us-east-1, endpoint: \"{}\", access_key_id: {S3_ACCESS_KEY}, secret_access_key: \"{secret}\" }}",
            self.endpoint()
        )
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An Azurite blob server on a free loopback port, in memory.
pub struct AzuriteServer {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl AzuriteServer {
    /// Start one, with container [`AZ_CONTAINER`], and wait until it answers.
    pub fn start() -> AzuriteServer {
        let t = tools();
        let dir = server_dir();
        let port = free_port();
        let mut cmd = Command::new(&t.node);
        cmd.arg(&t.azurite_blob)
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(port.to_string())
            .args([
                "--inMemoryPersistence",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--silent",
            ])
            // In memory (--location may not go with it); anything else it writes goes here.
            .current_dir(dir.path());
        let log = dir.path().join("azurite.log");
        let child = spawn(cmd, &log);
        wait_port(port, "Azurite", &log);
        let s = AzuriteServer {
            child: Some(child),
            dir,
            port,
        };
        s.create_container(AZ_CONTAINER);
        s
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{AZ_ACCOUNT}", self.port)
    }

    /// Create a container with a SharedKey-signed request (Azure's Create Container).
    pub fn create_container(&self, name: &str) {
        use base64::Engine;
        use base64::engine::general_purpose::STANDARD;
        use hmac::{Hmac, KeyInit, Mac};
        let date = chrono::Utc::now()
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        // VERB, eleven standard headers (all empty), the x-ms- headers, the resource.
        let mut lines = vec!["PUT".to_string()];
        lines.extend(std::iter::repeat_n(String::new(), 11));
        lines.push(format!("x-ms-date:{date}"));
        lines.push(format!("x-ms-version:{version}"));
        lines.push(format!(
            "/{AZ_ACCOUNT}/{AZ_ACCOUNT}/{name}\nrestype:container"
        ));
        let to_sign = lines.join("\n");
        let key = STANDARD.decode(AZ_KEY).unwrap();
        let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&key).unwrap();
        mac.update(to_sign.as_bytes());
        let sig = STANDARD.encode(mac.finalize().into_bytes());
        let req = format!(
            "PUT /{AZ_ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {AZ_ACCOUNT}:{sig}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let code = http_status(self.port, &req);
        assert!(
            matches!(code, Some(201) | Some(409)),
            "Azurite did not create container {name}: {code:?}"
        );
    }

    /// `backup.storage.primary` for this server under `prefix`, with `key` as the account key.
    pub fn primary(&self, container: &str, prefix: &str, key: &str) -> String {
        format!(
            "  storage:\n    primary: {}\n",
            self.target(container, prefix, key)
        )
    }

    /// The store's settings as one YAML flow mapping (for a primary or a replica entry).
    pub fn target(&self, container: &str, prefix: &str, key: &str) -> String {
        format!(
            "{{ type: azblob, container: {container}, prefix: \"{prefix}\", account: {AZ_ACCOUNT}, endpoint: \"{}\", account_key: \"{key}\" }}",
            self.endpoint()
        )
    }
}

impl Drop for AzuriteServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The settings of a project whose `backup:` section holds only `storage_yaml` (its
/// `storage:` lines), loaded by the library's loader.
fn settings_with(storage_yaml: &str) -> mahavishnu_dr::LoadedSettings {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("settings")).unwrap();
    let config = dir.path().join("settings/mahavishnu.yaml");
    std::fs::write(&config, format!("backup:\n  sources: []\n{storage_yaml}")).unwrap();
    mahavishnu_dr::load_settings(Some(&config), dir.path(), &[])
        .unwrap_or_else(|e| panic!("settings: {e}"))
}

/// The store that `storage_yaml` (a `backup:` section's `storage:` lines) names, opened the way
/// the binary opens it (the library's settings loader and `open_storage`).
pub fn open_store(storage_yaml: &str) -> mahavishnu_dr::DynStorage {
    let loaded = settings_with(storage_yaml);
    let b = &loaded.settings.backup;
    mahavishnu_dr::open_storage(&b.storage, &b.directory).unwrap_or_else(|e| panic!("open: {e}"))
}

/// The object-lock client of the S3 store `storage_yaml` names as its primary (which must be
/// `immutable: true`).
pub fn object_lock_of(storage_yaml: &str) -> mahavishnu_dr::internals::S3ObjectLock {
    let target = settings_with(storage_yaml)
        .settings
        .backup
        .storage
        .primary
        .clone()
        .expect("a primary");
    mahavishnu_dr::internals::S3ObjectLock::for_target(&target)
        .unwrap_or_else(|e| panic!("object lock: {e}"))
        .expect("an immutable s3 primary")
}

/// Send one raw HTTP/1.1 request; the response's status code.
fn http_status(port: u16, request: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(request.as_bytes()).ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// The servers one test binary shares.
pub struct Servers {
    pub s3: S3Server,
    pub azurite: AzuriteServer,
}

/// Start (once per test binary) and return the shared servers. They are spawned from a thread
/// that lives until the process ends, so the parent-death signal kills them then, and not when
/// the first test's thread finishes.
pub fn shared() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    static STARTING: Mutex<()> = Mutex::new(());
    let _one = STARTING.lock().unwrap_or_else(|p| p.into_inner());
    SERVERS.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let started = std::panic::catch_unwind(|| (S3Server::start(), AzuriteServer::start()));
            let _ = tx.send(started);
            loop {
                std::thread::park();
            }
        });
        match rx.recv().expect("the server thread ended") {
            Ok((s3, azurite)) => Servers { s3, azurite },
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// A TCP proxy on a free loopback port in front of `port` that answers nothing on every
/// `stall_every`-th connection (it reads the request and holds it until the client gives up),
/// and forwards the others byte for byte: a slow server, as a client sees one.
pub struct StallingProxy {
    pub port: u16,
    /// Stalled connections that carried a request.
    pub stalled: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl StallingProxy {
    pub fn start(upstream: u16, stall_every: u64) -> StallingProxy {
        use std::sync::atomic::{AtomicU64, Ordering};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stalled = std::sync::Arc::new(AtomicU64::new(0));
        let counter = stalled.clone();
        // Connections that carried a request, numbered as their first bytes arrive (a client
        // may open a connection and never use it: only used ones count).
        let used = std::sync::Arc::new(AtomicU64::new(0));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut client) = conn else { continue };
                let (counter, used) = (counter.clone(), used.clone());
                std::thread::spawn(move || {
                    let _ = client.set_read_timeout(Some(Duration::from_secs(60)));
                    let mut first = vec![0u8; 64 * 1024];
                    let n = match client.read(&mut first) {
                        Ok(n) if n > 0 => n,
                        _ => return,
                    };
                    let nth = used.fetch_add(1, Ordering::SeqCst) + 1;
                    if nth.is_multiple_of(stall_every) {
                        // Hold the request and answer nothing until the client gives up.
                        counter.fetch_add(1, Ordering::SeqCst);
                        let mut sink = [0u8; 4096];
                        while matches!(client.read(&mut sink), Ok(n) if n > 0) {}
                        return;
                    }
                    let _ = client.set_read_timeout(None);
                    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                        return;
                    };
                    if server.write_all(&first[..n]).is_err() {
                        return;
                    }
                    let (mut c1, mut s1) =
                        (client.try_clone().unwrap(), server.try_clone().unwrap());
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut c1, &mut s1);
                        let _ = s1.shutdown(std::net::Shutdown::Write);
                    });
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        StallingProxy { port, stalled }
    }
}
