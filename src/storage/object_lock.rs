//! S3 object lock: setting and reading one object's retention (PutObjectRetention,
//! GetObjectRetention), which OpenDAL has no call for. Requests are signed with the same signing
//! library and credential chain as the S3 client (the settings' keys, else the `AWS_*`
//! environment and profile) and carry `Content-MD5`, which S3 requires on object-lock requests.
//!
//! A retention date is only ever moved later: S3 refuses to shorten a COMPLIANCE lock, and a
//! GOVERNANCE lock shortened would be a weaker promise than the one already made.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use md5::Digest;
use reqsign_aws_v4::{
    Credential, DefaultCredentialProvider, RequestSigner, StaticCredentialProvider,
};
use reqsign_core::{Context, OsEnv, ProvideCredentialChain, Signer};

use crate::error::{Error, ErrorKind, Result};
use crate::settings::{ObjectLockMode, StorageTarget};

/// Each object-lock request is bounded by this.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts of a request that failed in transit or with a 5xx.
const ATTEMPTS: u32 = 3;

fn mode_name(mode: ObjectLockMode) -> &'static str {
    match mode {
        ObjectLockMode::Compliance => "COMPLIANCE",
        ObjectLockMode::Governance => "GOVERNANCE",
    }
}

/// An S3 store's object-lock client.
pub struct S3ObjectLock {
    client: reqwest::Client,
    signer: Signer<Credential>,
    /// `http://endpoint/bucket` (path style) or `https://bucket.host` (virtual host).
    base: String,
    /// The prefix inside the bucket, ending in `/` (or empty).
    root: String,
    /// `s3://bucket/prefix`, for messages.
    name: String,
    mode: ObjectLockMode,
    secrets: Vec<String>,
}

impl std::fmt::Debug for S3ObjectLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3ObjectLock")
            .field("name", &self.name)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// One object's retention as the server reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    pub mode: String,
    pub until: DateTime<Utc>,
}

impl S3ObjectLock {
    /// The object-lock client of an S3 target marked `immutable` (`None` for other targets).
    pub fn for_target(target: &StorageTarget) -> Result<Option<S3ObjectLock>> {
        let StorageTarget::S3 {
            bucket,
            prefix,
            region,
            endpoint,
            access_key_id,
            secret_access_key,
            session_token,
            force_path_style,
            lock_mode,
            immutable: true,
            ..
        } = target
        else {
            return Ok(None);
        };
        let mode = *lock_mode;
        super::cloud::install_http_client();
        let name = target.display_name();
        let region = region
            .clone()
            .or_else(|| std::env::var("AWS_REGION").ok())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .ok_or_else(|| {
                Error::settings(format!("{name}: no region for object-lock requests"))
                    .with_guidance("set region: in the store's settings, or AWS_REGION")
            })?;
        let endpoint = endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let path_style = force_path_style.unwrap_or(endpoint.is_some());
        let base = match (&endpoint, path_style) {
            (Some(e), true) => format!("{}/{bucket}", e.trim_end_matches('/')),
            (Some(e), false) => {
                let (scheme, host) = e.split_once("://").unwrap_or(("https", e));
                format!("{scheme}://{bucket}.{}", host.trim_end_matches('/'))
            }
            (None, true) => format!("https://s3.{region}.amazonaws.com/{bucket}"),
            (None, false) => format!("https://{bucket}.s3.{region}.amazonaws.com"),
        };
        let root = prefix
            .as_deref()
            .unwrap_or("")
            .trim_matches('/')
            .to_string();
        let root = if root.is_empty() {
            root
        } else {
            format!("{root}/")
        };
        let mut chain = ProvideCredentialChain::new().push(DefaultCredentialProvider::new());
        if let (Some(ak), Some(sk)) = (access_key_id, secret_access_key) {
            let static_keys = StaticCredentialProvider::new(ak, sk.expose());
            let static_keys = match session_token {
                Some(token) => static_keys.with_session_token(token.expose()),
                None => static_keys,
            };
            chain = chain.push_front(static_keys);
        }
        let ctx = Context::new()
            .with_file_read(reqsign_file_read_tokio::TokioFileRead)
            .with_env(OsEnv);
        let signer = Signer::new(ctx, chain, RequestSigner::new("s3", &region));
        let client = reqwest::Client::builder()
            .timeout(CALL_TIMEOUT)
            .build()
            .map_err(|e| Error::internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Some(S3ObjectLock {
            client,
            signer,
            base,
            root,
            name,
            mode,
            secrets: secret_access_key
                .iter()
                .chain(session_token.iter())
                .map(|s| s.expose().to_string())
                .collect(),
        }))
    }

    /// The store's name (`s3://bucket/prefix`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lock mode, as S3 names it (`COMPLIANCE`).
    pub fn mode(&self) -> &'static str {
        mode_name(self.mode)
    }

    /// Whether the server really refuses to delete a locked object version: a probe object
    /// under `tmp/` is written, locked for two minutes, and its version deleted; the delete must
    /// be refused. (Some servers accept object-lock requests without enforcing them.) The probe
    /// is hidden behind a delete marker afterwards and expires with its lock.
    pub async fn verify_enforced(&self) -> Result<bool> {
        let key = format!(
            "tmp/object-lock-probe-{}",
            hex::encode(crate::repo::crypto::random_bytes::<8>())
        );
        let (status, _) = self
            .send(
                http::Method::PUT,
                &key,
                "",
                Bytes::from_static(b"probe"),
                &[],
            )
            .await?;
        if status != 200 {
            return Err(self.refused("write", &key, status, ""));
        }
        let version = self.version_of(&key).await?.ok_or_else(|| {
            Error::storage(format!(
                "{} keeps no object versions: object lock needs a bucket with versioning and \
                 object lock enabled",
                self.name
            ))
            .with_guidance("create a bucket with object lock enabled, or remove immutable: true")
        })?;
        self.retain_until(&key, Utc::now() + chrono::Duration::minutes(2))
            .await?;
        let (status, _) = self
            .send(
                http::Method::DELETE,
                &key,
                &format!("versionId={}", encode_key(&version)),
                Bytes::new(),
                &[],
            )
            .await?;
        let enforced = !(200..300).contains(&status);
        // Hide the probe (a delete marker; the locked version expires with its lock).
        let _ = self
            .send(http::Method::DELETE, &key, "", Bytes::new(), &[])
            .await;
        Ok(enforced)
    }

    /// Create the bucket with object lock enabled (for tests against a server this tool does not
    /// administer; this tool never creates buckets otherwise). The status of the answer.
    #[doc(hidden)]
    pub async fn create_locked_bucket(&self) -> Result<u16> {
        let (status, _, _) = self
            .send_url(
                http::Method::PUT,
                self.base.clone(),
                "the bucket",
                Bytes::new(),
                &[("x-amz-bucket-object-lock-enabled", "true".to_string())],
            )
            .await?;
        Ok(status)
    }

    /// The current version id of `key` (`None` on a bucket without versioning).
    #[doc(hidden)]
    pub async fn version_of(&self, key: &str) -> Result<Option<String>> {
        let (status, _, headers) = self
            .send_with_headers(http::Method::HEAD, key, "", Bytes::new(), &[])
            .await?;
        if status != 200 {
            return Err(self.refused("read", key, status, ""));
        }
        Ok(headers
            .get("x-amz-version-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && *v != "null")
            .map(str::to_string))
    }

    /// The object's retention, or `None` when it has none.
    pub async fn retention(&self, key: &str) -> Result<Option<Retention>> {
        let (status, body) = self
            .send(http::Method::GET, key, "retention", Bytes::new(), &[])
            .await?;
        let text = String::from_utf8_lossy(&body);
        // No retention on the object (AWS: NoSuchObjectLockConfiguration; SeaweedFS says
        // ObjectLockConfigurationNotFoundError). A bucket without object lock is told apart by
        // the PUT that follows.
        if status == 404
            && (text.contains("NoSuchObjectLockConfiguration")
                || text.contains("ObjectLockConfigurationNotFound"))
        {
            return Ok(None);
        }
        if status != 200 {
            return Err(self.refused("read the retention of", key, status, &text));
        }
        let mode = xml_value(&text, "Mode").unwrap_or_default();
        let until = xml_value(&text, "RetainUntilDate")
            .and_then(|d| DateTime::parse_from_rfc3339(&d).ok())
            .map(|d| d.with_timezone(&Utc));
        Ok(until.map(|until| Retention { mode, until }))
    }

    /// Make the object's retention last at least until `until`. Returns whether the date was
    /// moved (false: it was already at or past `until`).
    pub async fn retain_until(&self, key: &str, until: DateTime<Utc>) -> Result<bool> {
        if let Some(r) = self.retention(key).await?
            && r.until >= until
        {
            return Ok(false);
        }
        let body = format!(
            "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>{}</Mode>\
             <RetainUntilDate>{}</RetainUntilDate></Retention>",
            mode_name(self.mode),
            until.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        let md5 = base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(&body));
        let (status, resp) = self
            .send(
                http::Method::PUT,
                key,
                "retention",
                Bytes::from(body),
                &[("content-md5", md5)],
            )
            .await?;
        if status != 200 {
            let text = String::from_utf8_lossy(&resp);
            return Err(self.refused("lock", key, status, &text));
        }
        Ok(true)
    }

    /// Send one signed request to `key` (`query` a sub-resource such as `retention`, or
    /// `versionId=...`); the status and body. Retried on transport errors and 5xx.
    #[doc(hidden)]
    pub async fn send(
        &self,
        method: http::Method,
        key: &str,
        query: &str,
        body: Bytes,
        headers: &[(&str, String)],
    ) -> Result<(u16, Bytes)> {
        let (status, body, _) = self
            .send_with_headers(method, key, query, body, headers)
            .await?;
        Ok((status, body))
    }

    /// [`S3ObjectLock::send`], with the answer's headers.
    async fn send_with_headers(
        &self,
        method: http::Method,
        key: &str,
        query: &str,
        body: Bytes,
        headers: &[(&str, String)],
    ) -> Result<(u16, Bytes, http::HeaderMap)> {
        let mut url = format!(
            "{}/{}",
            self.base,
            encode_key(&format!("{}{key}", self.root))
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        self.send_url(method, url, key, body, headers).await
    }

    /// Send to `url`; `what` names its object in messages (never the URL).
    async fn send_url(
        &self,
        method: http::Method,
        url: String,
        what: &str,
        body: Bytes,
        headers: &[(&str, String)],
    ) -> Result<(u16, Bytes, http::HeaderMap)> {
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
            match self.send_once(&method, &url, body.clone(), headers).await {
                Ok((status, b, h)) if status < 500 => return Ok((status, b, h)),
                Ok((status, b, _)) => {
                    last = Some(self.refused(
                        "answer a request for",
                        what,
                        status,
                        &String::from_utf8_lossy(&b),
                    ))
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::storage("no attempt was made")))
    }

    async fn send_once(
        &self,
        method: &http::Method,
        url: &str,
        body: Bytes,
        headers: &[(&str, String)],
    ) -> Result<(u16, Bytes, http::HeaderMap)> {
        let mut req = http::Request::builder().method(method.clone()).uri(url);
        let digest = crate::repo::hash::sha256_hex(&body);
        req = req.header("x-amz-content-sha256", digest);
        req = req.header("content-length", body.len().to_string());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let req = req
            .body(())
            .map_err(|e| Error::internal(format!("bad object-lock request: {e}")))?;
        let (mut parts, ()) = req.into_parts();
        self.signer.sign(&mut parts, None).await.map_err(|e| {
            Error::new(
                ErrorKind::Settings,
                format!(
                    "{}: cannot sign an object-lock request: {}",
                    self.name,
                    self.scrub(&e.to_string())
                ),
            )
            .with_guidance(
                "give access_key_id and secret_access_key in the store's settings, or the \
                     AWS_* environment",
            )
        })?;
        parts.headers.remove(http::header::HOST);
        let mut rb = self.client.request(method.clone(), url);
        for (k, v) in &parts.headers {
            rb = rb.header(k, v);
        }
        let resp = rb.body(body).send().await.map_err(|e| {
            Error::storage(format!(
                "cannot reach {} for an object-lock request: {}",
                self.name,
                self.scrub(&e.without_url().to_string())
            ))
            .retryable()
        })?;
        let status = resp.status().as_u16();
        let answer_headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| {
            Error::storage(format!(
                "{}: an object-lock answer was cut short: {}",
                self.name,
                self.scrub(&e.to_string())
            ))
            .retryable()
        })?;
        Ok((status, bytes, answer_headers))
    }

    fn refused(&self, what: &str, key: &str, status: u16, body: &str) -> Error {
        let code = xml_value(body, "Code").unwrap_or_else(|| format!("HTTP {status}"));
        let message = xml_value(body, "Message").unwrap_or_default();
        let guidance = if body.contains("ObjectLockConfiguration")
            || message.to_ascii_lowercase().contains("object lock")
        {
            "the bucket must have object lock enabled (it is chosen when the bucket is created, \
             with versioning): create one with object lock, or remove immutable: true"
        } else {
            "check that the credentials may use s3:PutObjectRetention and \
             s3:GetObjectRetention on the bucket"
        };
        Error::storage(format!(
            "{} refused to {what} {key}: {code}{}",
            self.name,
            if message.is_empty() {
                String::new()
            } else {
                format!(" ({})", self.scrub(&message))
            }
        ))
        .with_guidance(guidance)
    }

    fn scrub(&self, text: &str) -> String {
        let mut t = text.to_string();
        for s in &self.secrets {
            if !s.is_empty() {
                t = t.replace(s.as_str(), crate::settings::REDACTED);
            }
        }
        t
    }
}

/// The text of the first `<tag>...</tag>` in an S3 XML answer.
fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].trim().to_string())
}

/// A key as an S3 URL path: every byte but unreserved characters and `/` percent-encoded.
fn encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

trait Retryable {
    fn retryable(self) -> Self;
}

impl Retryable for Error {
    /// Marked transient: a retry may succeed.
    fn retryable(mut self) -> Self {
        self.transient = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_encoded_once_and_xml_values_are_found() {
        assert_eq!(
            encode_key("backups/b_1.x/vol-00000"),
            "backups/b_1.x/vol-00000"
        );
        assert_eq!(encode_key("a b:c"), "a%20b%3Ac");
        let xml = "<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>2027-01-01T00:00:00Z</RetainUntilDate></Retention>";
        assert_eq!(xml_value(xml, "Mode").as_deref(), Some("COMPLIANCE"));
        assert_eq!(
            xml_value(xml, "RetainUntilDate").as_deref(),
            Some("2027-01-01T00:00:00Z")
        );
        assert_eq!(xml_value(xml, "Code"), None);
    }
}
