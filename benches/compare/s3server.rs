//! The s3 scenario's object store: a SeaweedFS server (`weed mini`, installed by
//! tests/cloud/setup.sh) on loopback with its data on disk under the work folder, started the way
//! the cloud tests start theirs, and killed when dropped (and with this process). Every tool
//! repository lives under a prefix of its own in one bucket ([`S3Place`]).

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mahavishnu_dr::DynStorage;

use crate::{Res, fsutil};

/// The identity SeaweedFS checks signatures against, and the bucket it is started with.
const ACCESS_KEY: &str = "benchaccess";
const SECRET_KEY: &str = "bench-s3-secret-7d21a0";
const BUCKET: &str = "dr-bench";
/// How long the server may take to listen and to serve the bucket.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running SeaweedFS with S3 on a free loopback port.
pub struct S3Server {
    child: Child,
    port: u16,
    /// Its data (volumes, filer metadata): what a restore or a validation reads back.
    pub data: PathBuf,
    log: PathBuf,
    pub version: String,
}

/// One repository's place on the server: a prefix of the bucket.
#[derive(Debug, Clone)]
pub struct S3Place {
    pub endpoint: String,
    pub bucket: &'static str,
    pub prefix: String,
    pub access_key: &'static str,
    pub secret_key: &'static str,
    /// The server's data folder (pre-read before restores and validations).
    pub server_data: PathBuf,
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `weed` binary that tests/cloud/setup.sh installs (idempotently) and names as `WEED=`.
fn find_weed() -> Res<PathBuf> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cloud/setup.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "{} failed (the s3 scenario needs SeaweedFS):\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("WEED="))
        .map(PathBuf::from)
        .ok_or_else(|| format!("{} printed no WEED=", script.display()).into())
}

impl S3Server {
    /// Starts one in `dir` (emptied first) and waits until the bucket answers a signed listing.
    pub fn start(dir: &Path) -> Res<S3Server> {
        let weed = find_weed()?;
        fsutil::remove_tree(dir)?;
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        let config = dir.join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"bench","credentials":[{{"accessKey":"{ACCESS_KEY}","secretKey":"{SECRET_KEY}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )?;
        let port = free_port()?;
        let mut cmd = Command::new(&weed);
        cmd.arg("mini")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(format!("-s3.port={port}"))
            .arg(format!("-s3.config={}", config.display()))
            .arg(format!("-bucket={BUCKET}"))
            .args([
                "-master.telemetry=false",
                "-webdav=false",
                "-admin.ui=false",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-s3.autoCreateBucket=false",
            ]);
        // Every other listener on a free port too (the defaults may be taken).
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
            cmd.arg(format!("-{flag}={}", free_port()?));
        }
        let log = dir.join("weed.log");
        let out = std::fs::File::create(&log)?;
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec here.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let server = S3Server {
            child: cmd.spawn()?,
            port,
            data,
            log,
            version: crate::tools::first_line_of(&weed, &["version"]),
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// S3 listens a moment after start, and serves the bucket a moment after that.
    fn wait_ready(&self) -> Res<()> {
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if t.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "SeaweedFS did not listen on {}; its log:\n{}",
                    self.port,
                    self.log_text()
                )
                .into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let probe = self.place("ready-check");
        loop {
            match probe.stored_bytes() {
                Ok(_) => return Ok(()),
                Err(e) if t.elapsed() > START_TIMEOUT => {
                    return Err(format!(
                        "SeaweedFS did not serve bucket {BUCKET}: {e}; its log:\n{}",
                        self.log_text()
                    )
                    .into());
                }
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A repository's place: `prefix` in the bucket.
    pub fn place(&self, prefix: &str) -> S3Place {
        S3Place {
            endpoint: self.endpoint(),
            bucket: BUCKET,
            prefix: prefix.to_string(),
            access_key: ACCESS_KEY,
            secret_key: SECRET_KEY,
            server_data: self.data.clone(),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Place {
    /// mahavishnu-dr's `backup.storage.primary` for this place, as one YAML flow mapping.
    pub fn mdr_primary(&self) -> String {
        format!(
            "{{ type: s3, bucket: {}, prefix: \"{}\", region: us-east-1, endpoint: \"{}\", \
             access_key_id: {}, secret_access_key: \"{}\" }}",
            self.bucket, self.prefix, self.endpoint, self.access_key, self.secret_key
        )
    }

    /// restic's `--repo` for this place.
    pub fn restic_repo(&self) -> String {
        format!("s3:{}/{}/{}", self.endpoint, self.bucket, self.prefix)
    }

    /// The store of this place, opened with the library the way mahavishnu-dr opens its primary.
    fn open(&self) -> Res<DynStorage> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("settings").join("mahavishnu.yaml");
        std::fs::create_dir_all(dir.path().join("settings"))?;
        std::fs::write(
            &config,
            format!(
                "backup:\n  sources: []\n  storage:\n    primary: {}\n",
                self.mdr_primary()
            ),
        )?;
        let loaded = mahavishnu_dr::load_settings(Some(&config), dir.path(), &[])?;
        let b = &loaded.settings.backup;
        Ok(mahavishnu_dr::open_storage(&b.storage, &b.directory)?)
    }

    /// The bytes stored under this place's prefix, summed from a listing of the server (the
    /// objects' sizes, not the server's disk use).
    pub fn stored_bytes(&self) -> Res<u64> {
        let store = self.open()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listed = rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(30), store.list("")).await
        });
        match listed {
            Ok(Ok(objects)) => Ok(objects.iter().map(|o| o.size).sum()),
            Ok(Err(e)) => Err(format!("listing {}: {e}", self.restic_repo()).into()),
            Err(_) => Err(format!("listing {}: no answer in 30 s", self.restic_repo()).into()),
        }
    }
}
