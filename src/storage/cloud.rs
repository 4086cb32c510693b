//! Object stores in the cloud: an S3 bucket or an Azure Blob container, through OpenDAL, with
//! create-only writes by the backend's conditional write (`If-None-Match: *`), concurrent
//! multipart (block) uploads, native ranged reads, and errors that name the store
//! (`s3://bucket/prefix`) and say what to do, never a secret.

use std::ops::Range;

use async_trait::async_trait;
use bytes::Bytes;
use opendal::{ErrorKind as OdKind, Operator};

use super::{ObjectInfo, ObjectWriter, Storage};
use crate::error::{Error, ErrorKind, Result};
use crate::settings::StorageTarget;

/// A streaming write uploads parts of this size ...
pub const UPLOAD_PART: usize = 8 << 20;
/// ... at most this many at once: a writer holds at most `UPLOAD_PART * UPLOAD_CONCURRENCY`.
pub const UPLOAD_CONCURRENCY: usize = 2;

/// An S3 bucket or Azure Blob container (under an optional prefix).
#[derive(Clone)]
pub struct CloudStorage {
    op: Operator,
    /// `s3://bucket/prefix` or `azblob://container/prefix`.
    name: String,
    /// The endpoint's host (and port), for messages; `None` for the provider's default.
    host: Option<String>,
    /// The configured secrets, scrubbed from any text taken from the client's errors.
    secrets: Vec<String>,
    /// Set once the bucket or container was seen to exist (see [`CloudStorage::store_exists`]).
    seen: std::sync::Arc<tokio::sync::OnceCell<()>>,
}

impl std::fmt::Debug for CloudStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudStorage")
            .field("name", &self.name)
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl CloudStorage {
    /// The store a cloud target names. Builds the client only: nothing is sent until the first
    /// call. A local target is an internal error (the caller opens those).
    pub fn open(target: &StorageTarget) -> Result<Self> {
        install_http_client();
        let name = target.display_name();
        let (op, endpoint, secrets) = match target {
            StorageTarget::S3 {
                bucket,
                prefix,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
                session_token,
                force_path_style,
                ..
            } => {
                let mut b = opendal::services::S3::default()
                    .bucket(bucket)
                    .root(&root_of(prefix));
                if let Some(region) = region {
                    b = b.region(region);
                }
                if let Some(endpoint) = endpoint {
                    b = b.endpoint(endpoint.trim_end_matches('/'));
                }
                if let Some(id) = access_key_id {
                    b = b.access_key_id(id);
                }
                if let Some(secret) = secret_access_key {
                    b = b.secret_access_key(secret.expose());
                }
                if let Some(token) = session_token {
                    b = b.session_token(token.expose());
                }
                // Path style with a custom endpoint, virtual-host style on AWS, unless set.
                if !force_path_style.unwrap_or(endpoint.is_some()) {
                    b = b.enable_virtual_host_style();
                }
                let secrets = secret_access_key
                    .iter()
                    .chain(session_token.iter())
                    .map(|s| s.expose().to_string())
                    .collect();
                let op = Operator::new(b).map_err(|e| build_error(e, &name))?;
                (op, endpoint.clone(), secrets)
            }
            StorageTarget::Azblob {
                container,
                prefix,
                account,
                endpoint,
                account_key,
                sas_token,
                ..
            } => {
                let endpoint = endpoint.clone().or_else(|| {
                    account
                        .as_ref()
                        .map(|a| format!("https://{a}.blob.core.windows.net"))
                });
                let mut b = opendal::services::Azblob::default()
                    .container(container)
                    .root(&root_of(prefix));
                if let Some(endpoint) = &endpoint {
                    b = b.endpoint(endpoint.trim_end_matches('/'));
                }
                if let Some(account) = account {
                    b = b.account_name(account);
                }
                if let Some(key) = account_key {
                    b = b.account_key(key.expose());
                }
                if let Some(sas) = sas_token {
                    b = b.sas_token(sas.expose());
                }
                let secrets = account_key
                    .iter()
                    .chain(sas_token.iter())
                    .map(|s| s.expose().to_string())
                    .collect();
                let op = Operator::new(b).map_err(|e| build_error(e, &name))?;
                (op, endpoint, secrets)
            }
            StorageTarget::Local { .. } => {
                return Err(Error::internal("a local store is not a cloud store"));
            }
        };
        Ok(CloudStorage {
            op,
            name,
            host: endpoint.as_deref().map(host_of),
            secrets,
            seen: Default::default(),
        })
    }

    /// A `HEAD` of a missing object and one in a missing bucket both answer 404 without a
    /// body; before the first "no such object" is believed, a listing (whose error names a
    /// missing bucket or container) checks the store itself, once per process.
    async fn store_exists(&self) -> Result<()> {
        self.seen
            .get_or_try_init(|| async {
                match self.op.list(EXISTS_CHECK_PREFIX).await {
                    Ok(_) => Ok(()),
                    Err(e) if e.kind() == OdKind::NotFound && !is_missing_store(&e) => Ok(()),
                    Err(e) => Err(self.err(e, "list", EXISTS_CHECK_PREFIX)),
                }
            })
            .await
            .map(|_| ())
    }

    /// A client error as the one error type: what failed, on which store, and what to do.
    fn err(&self, e: opendal::Error, action: &str, key: &str) -> Error {
        let text = scrub(&e.to_string(), &self.secrets);
        let store = &self.name;
        let at = match &self.host {
            Some(h) => format!(" (endpoint {h})"),
            None => String::new(),
        };
        let code = ERROR_CODES.iter().find(|c| text.contains(*c)).copied();
        let mut err = match (e.kind(), code) {
            (_, Some("NoSuchBucket")) => {
                Error::settings(format!("the bucket of {store} does not exist{at}")).with_guidance(
                    "create the bucket (this tool never creates one), or correct bucket:, region: \
                 or endpoint: in backup.storage.primary",
                )
            }
            (_, Some("ContainerNotFound")) => Error::settings(format!(
                "the container of {store} does not exist{at}"
            ))
            .with_guidance(
                "create the container (this tool never creates one), or correct container:, \
                 account: or endpoint: in backup.storage.primary",
            ),
            (OdKind::PermissionDenied, code) => Error::settings(format!(
                "{store} refused the credentials{at}: {}",
                code.unwrap_or("access denied")
            ))
            .with_guidance(credential_guidance(&self.name)),
            (OdKind::NotFound, _) => Error::not_found(format!("object {key} does not exist")),
            (OdKind::ConfigInvalid, _) => Error::settings(format!(
                "{store} is not configured correctly: {}",
                summary(&e, &text)
            ))
            .with_guidance("check backup.storage.primary (see docs/SETTINGS.md)"),
            _ if unreachable(&text) => {
                Error::storage(format!("cannot reach {store}{at} to {action} {key}")).with_guidance(
                    "check the endpoint, the network and that the service is up (retried before \
                 giving up); nothing stored was changed by this failure",
                )
            }
            _ => Error::storage(format!(
                "{store}: cannot {action} {key}: {}",
                summary(&e, &text)
            )),
        };
        // S3 answers 409 ConditionalRequestConflict while another conditional write of the
        // key is in flight: try again (the retry then finds who won).
        err.transient = e.is_temporary()
            || matches!(e.kind(), OdKind::RateLimited | OdKind::Conflict)
            || text.contains("ConditionalRequestConflict")
            || (err.kind == ErrorKind::Storage && unreachable(&text));
        err.with_source(std::io::Error::other(text))
    }
}

/// OpenDAL's HTTP client (reqwest over rustls, with ring's crypto), installed once per process.
pub(super) fn install_http_client() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Fails only when a provider is installed already, which is as good. ring, not aws-lc:
        // the crate already builds ring; rustls marks it deprecated for lacking post-quantum
        // key exchange, which S3 and Azure endpoints do not require.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal_http_transport_reqwest::install_default();
    });
}

/// The signing libraries under the S3 and Azure clients log the credentials they load (the
/// secret key in their `Debug` output) at debug level: their logs are switched off, whatever
/// `MAHAVISHNU_LOG` asks for.
pub const CREDENTIAL_LOG_TARGETS: [&str; 6] = [
    "reqsign",
    "reqsign_core",
    "reqsign_aws_core",
    "reqsign_aws_v4",
    "reqsign_azure_storage",
    "reqsign_file_read_tokio",
];

/// `filter` with the credential-logging targets switched off (for the binary's log setup).
pub fn without_credential_logs(
    mut filter: tracing_subscriber::EnvFilter,
) -> tracing_subscriber::EnvFilter {
    for target in CREDENTIAL_LOG_TARGETS {
        if let Ok(directive) = format!("{target}=off").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// A prefix nothing is stored under, listed to see that the bucket or container exists.
const EXISTS_CHECK_PREFIX: &str = "tmp/exists-check/";

/// Error codes of S3 and Azure that get a message of their own.
const ERROR_CODES: [&str; 7] = [
    "NoSuchBucket",
    "ContainerNotFound",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "AuthenticationFailed",
    "AuthorizationFailure",
    "AccessDenied",
];

fn credential_guidance(name: &str) -> String {
    if name.starts_with("s3://") {
        "check access_key_id / secret_access_key in backup.storage.primary (or \
         AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_PROFILE), and that they may read, write, \
         list and delete in the bucket"
            .to_string()
    } else {
        "check account / account_key or sas_token in backup.storage.primary (a SAS token needs \
         read, add, create, write, delete and list permissions, and must not have expired)"
            .to_string()
    }
}

/// The client could not talk to the server at all (connection refused, DNS, TLS, reset).
fn unreachable(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    [
        "error sending request",
        "connection refused",
        "dns error",
        "failed to lookup address",
        "tcp connect",
        "connection reset",
        "error trying to connect",
        "connection closed",
        "broken pipe",
    ]
    .iter()
    .any(|s| t.contains(s))
}

/// The prefix as OpenDAL's root: `/prefix/` (or `/`).
fn root_of(prefix: &Option<String>) -> String {
    match prefix.as_deref().map(|p| p.trim_matches('/')) {
        Some(p) if !p.is_empty() => format!("/{p}/"),
        _ => "/".to_string(),
    }
}

/// `host[:port]` of an endpoint URL.
fn host_of(endpoint: &str) -> String {
    let rest = endpoint
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(endpoint);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority)
        .to_string()
}

/// `text` without the configured secrets and without any URL query string (a SAS token signs
/// requests in the query).
fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s.as_str(), crate::settings::REDACTED);
    }
    let mut clean = String::with_capacity(out.len());
    let mut in_query = false;
    for c in out.chars() {
        if in_query {
            if c.is_whitespace() || matches!(c, ',' | '}' | '"' | ')') {
                in_query = false;
                clean.push(c);
            }
        } else if c == '?' {
            in_query = true;
            clean.push_str("?<redacted>");
        } else {
            clean.push(c);
        }
    }
    clean
}

/// A client error in a line: its kind, the HTTP status if there was one, and the server's
/// answer (the request's context, headers and all, stays in the error's source).
fn summary(e: &opendal::Error, text: &str) -> String {
    let status = text
        .split_once("status: ")
        .and_then(|(_, rest)| rest.get(..3))
        .filter(|s| s.chars().all(|c| c.is_ascii_digit()));
    let detail = text.split_once(" => ").map_or(text, |(_, d)| d);
    match status {
        Some(status) => format!("{} (HTTP {status}): {}", e.kind(), short(detail)),
        None => format!("{}: {}", e.kind(), short(detail)),
    }
}

/// At most a few hundred characters of a client message.
fn short(text: &str) -> String {
    const MAX: usize = 400;
    if text.chars().count() <= MAX {
        text.to_string()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}

fn build_error(e: opendal::Error, name: &str) -> Error {
    let text = e.to_string();
    let guidance = if text.contains("region is missing") {
        "set region: in backup.storage.primary (or AWS_REGION); for an S3-compatible server any \
         region it accepts, often us-east-1"
    } else {
        "check backup.storage.primary (see docs/SETTINGS.md)"
    };
    Error::settings(format!("cannot set up {name}: {}", summary(&e, &text))).with_guidance(guidance)
}

#[async_trait]
impl Storage for CloudStorage {
    fn describe(&self) -> String {
        self.name.clone()
    }
    fn read_plan(&self) -> super::ReadPlan {
        super::ReadPlan::REMOTE
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.op
            .write(key, data)
            .await
            .map(|_| ())
            .map_err(|e| self.err(e, "write", key))
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        match self.op.write_with(key, data).if_not_exists(true).await {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.kind(), OdKind::ConditionNotMatch | OdKind::AlreadyExists) => {
                Ok(false)
            }
            Err(e) => Err(self.err(e, "write", key)),
        }
    }

    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        let w = self
            .op
            .writer_with(key)
            .chunk(UPLOAD_PART)
            .concurrent(UPLOAD_CONCURRENCY)
            .await
            .map_err(|e| self.err(e, "create", key))?;
        Ok(Box::new(CloudWriter {
            w,
            key: key.to_string(),
            store: self.clone(),
        }))
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        self.op
            .read(key)
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| self.err(e, "read", key))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        match self.op.read_with(key).range(range.clone()).await {
            Ok(b) => Ok(b.to_bytes()),
            // A range that runs past the end: the client wants every byte it asked for, so
            // read again up to the end (rare: readers ask within the size they know).
            Err(e) if e.to_string().contains("reader got too little data") => {
                let size = self
                    .size(key)
                    .await?
                    .ok_or_else(|| Error::not_found(format!("object {key} does not exist")))?;
                let end = range.end.min(size);
                if range.start >= end {
                    return Ok(Bytes::new());
                }
                self.op
                    .read_with(key)
                    .range(range.start..end)
                    .await
                    .map(|b| b.to_bytes())
                    .map_err(|e| self.err(e, "read", key))
            }
            Err(e) if e.kind() == OdKind::RangeNotSatisfied => {
                // Past the end; a missing object is still an error.
                match self.size(key).await? {
                    Some(_) => Ok(Bytes::new()),
                    None => Err(Error::not_found(format!("object {key} does not exist"))),
                }
            }
            Err(e) => Err(self.err(e, "read", key)),
        }
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        match self.op.stat(key).await {
            Ok(m) => Ok(Some(m.content_length())),
            Err(e) if e.kind() == OdKind::NotFound && !is_missing_store(&e) => {
                self.store_exists().await?;
                Ok(None)
            }
            Err(e) => Err(self.err(e, "stat", key)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let entries = match self.op.list_with(prefix).recursive(true).await {
            Ok(v) => v,
            Err(e) if e.kind() == OdKind::NotFound && !is_missing_store(&e) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(self.err(e, "list", prefix)),
        };
        Ok(super::opendal_store::objects_of(entries))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        match self.op.delete(key).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == OdKind::NotFound && !is_missing_store(&e) => Ok(()),
            Err(e) => Err(self.err(e, "delete", key)),
        }
    }
}

/// One version of an object, or a delete marker, as a bucket that keeps versions lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    pub key: String,
    pub version: String,
    pub size: u64,
    pub modified: chrono::DateTime<chrono::Utc>,
    /// A delete marker: the object was deleted at `modified` (its earlier versions remain).
    pub deleted: bool,
}

impl CloudStorage {
    /// Every version and delete marker under `prefix` (recursively), in the server's order.
    /// A version without a modification time is an error: nothing could place it in time.
    pub async fn versions(&self, prefix: &str) -> Result<Vec<ObjectVersion>> {
        let entries = match self
            .op
            .list_with(prefix)
            .recursive(true)
            .versions(true)
            .deleted(true)
            .await
        {
            Ok(v) => v,
            Err(e) if e.kind() == OdKind::NotFound && !is_missing_store(&e) => {
                return Ok(Vec::new());
            }
            Err(e) => return Err(self.err(e, "list the versions of", prefix)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let m = entry.metadata();
            if m.is_dir() {
                continue;
            }
            let (Some(version), Some(modified)) = (m.version(), m.last_modified()) else {
                return Err(Error::storage(format!(
                    "{}: the listing of the versions of {} gave no version or time",
                    self.name,
                    entry.path()
                ))
                .with_guidance(
                    "the server does not list object versions: read the store as it is now                      (without --store-as-of)",
                ));
            };
            out.push(ObjectVersion {
                key: entry.path().to_string(),
                version: version.to_string(),
                size: m.content_length(),
                modified: chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::from(
                    modified,
                )),
                deleted: m.is_deleted(),
            });
        }
        Ok(out)
    }

    /// Read one version of an object (a byte range of it, or all of it).
    pub async fn read_version(
        &self,
        key: &str,
        version: &str,
        range: Option<Range<u64>>,
    ) -> Result<Bytes> {
        let mut read = self.op.read_with(key).version(version);
        if let Some(r) = range {
            read = read.range(r);
        }
        read.await
            .map(|b| b.to_bytes())
            .map_err(|e| self.err(e, "read", key))
    }
}

/// A 404 that is about the bucket or container, not the object.
fn is_missing_store(e: &opendal::Error) -> bool {
    let t = e.to_string();
    t.contains("NoSuchBucket") || t.contains("ContainerNotFound")
}

struct CloudWriter {
    w: opendal::Writer,
    key: String,
    store: CloudStorage,
}

#[async_trait]
impl ObjectWriter for CloudWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.w
            .write(data)
            .await
            .map_err(|e| self.store.err(e, "write", &self.key))
    }
    async fn close(mut self: Box<Self>) -> Result<u64> {
        self.w
            .close()
            .await
            .map(|m| m.content_length())
            .map_err(|e| self.store.err(e, "write", &self.key))
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.w
            .abort()
            .await
            .map_err(|e| self.store.err(e, "abort", &self.key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_secrets_and_query_strings() {
        let text = "PermissionDenied at write, context: { uri: http://h:1/c/k?sv=2020&sig=abc%2F, \
                    key: topsecret } => denied";
        let out = scrub(text, &["topsecret".to_string()]);
        assert!(!out.contains("topsecret"), "{out}");
        assert!(!out.contains("sig=abc"), "{out}");
        assert!(out.contains("http://h:1/c/k?<redacted>,"), "{out}");
        assert!(out.ends_with("=> denied"), "{out}");
    }

    #[test]
    fn a_client_error_is_summed_up_in_a_line() {
        let e = opendal::Error::new(OdKind::Unexpected, "S3Error { code: \"InternalError\" }");
        let text = "Unexpected (temporary) at read, context: { uri: http://h/b/k, response: Parts \
                    { status: 500, version: HTTP/1.1, headers: {} } } => S3Error { code: \
                    \"InternalError\" }";
        assert_eq!(
            summary(&e, text),
            "Unexpected (HTTP 500): S3Error { code: \"InternalError\" }"
        );
        assert_eq!(summary(&e, "no context"), "Unexpected: no context");
    }

    #[test]
    fn names_and_roots() {
        assert_eq!(root_of(&None), "/");
        assert_eq!(root_of(&Some("/a/b/".into())), "/a/b/");
        assert_eq!(
            host_of("https://u:p@s3.example.test:9000/x?y"),
            "s3.example.test:9000"
        );
        assert_eq!(
            host_of("http://127.0.0.1:10000/devstoreaccount1"),
            "127.0.0.1:10000"
        );
    }
}
