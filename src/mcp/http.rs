//! The streamable HTTP transport: `/mcp` (MCP), `/health` (JSON), a Host check against DNS
//! rebinding, and a bearer token that is required whenever the server listens off loopback (and
//! recommended on loopback when other users share the host: start-up warns then).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::server::DrServer;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::Dr;

/// How the HTTP server is set up, resolved from settings and the command line.
#[derive(Clone)]
pub struct HttpOptions {
    pub listen: SocketAddr,
    /// Required on every request when set.
    pub token: Option<String>,
    /// Host header values accepted (names or IPs, optionally with a port).
    pub allowed_hosts: Vec<String>,
    /// The password database, read at start-up to tell whether other users share the host.
    pub passwd_file: PathBuf,
}

impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpOptions")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("allowed_hosts", &self.allowed_hosts)
            .field("passwd_file", &self.passwd_file)
            .finish()
    }
}

fn read_token_file(path: &Path) -> Result<String> {
    let raw = std::fs::read_to_string(path).map_err(|e| {
        Error::settings(format!(
            "cannot read the MCP token file {}: {e}",
            path.display()
        ))
        .with_guidance("check mcp.http.token_file, or set MAHAVISHNU_MCP__HTTP__TOKEN")
    })?;
    let token = raw.trim().to_string();
    if token.is_empty() {
        return Err(
            Error::settings(format!("the MCP token file {} is empty", path.display()))
                .with_guidance("write a long random token into it, e.g. `openssl rand -hex 32`"),
        );
    }
    Ok(token)
}

impl HttpOptions {
    /// Resolve from the settings; `listen` overrides `mcp.http.listen` when given.
    pub fn from_settings(dr: &Dr, listen: Option<&str>) -> Result<HttpOptions> {
        let http = &dr.settings().settings.mcp.http;
        let listen_text = listen.filter(|s| !s.is_empty()).unwrap_or(&http.listen);
        let listen: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(listen_text)
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                Error::usage(format!(
                    "cannot listen on {listen_text}: expected HOST:PORT, such as 127.0.0.1:8684"
                ))
            })?;
        let token = match (&http.token, &http.token_file) {
            (Some(t), _) if !t.trim().is_empty() => Some(t.trim().to_string()),
            (_, Some(f)) => Some(read_token_file(f)?),
            _ => None,
        };
        if !listen.ip().is_loopback() && token.is_none() {
            return Err(Error::new(
                ErrorKind::Refused,
                format!("refusing to serve MCP on {listen} without a bearer token: it is not a loopback address"),
            )
            .with_guidance(
                "set mcp.http.token_file (a file holding a long random token) or \
                 MAHAVISHNU_MCP__HTTP__TOKEN, or listen on 127.0.0.1",
            ));
        }
        let mut allowed_hosts: Vec<String> =
            vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
        if !listen.ip().is_unspecified() && !listen.ip().is_loopback() {
            allowed_hosts.push(listen.ip().to_string());
        }
        if listen.ip().is_unspecified()
            && let Ok(name) = gethostname::gethostname().into_string()
        {
            allowed_hosts.push(name);
        }
        allowed_hosts.extend(http.allowed_hosts.iter().cloned());
        Ok(HttpOptions {
            listen,
            token,
            allowed_hosts,
            passwd_file: PathBuf::from("/etc/passwd"),
        })
    }
}

/// Login accounts in a password database (`/etc/passwd` lines) other than `own_uid`: uid 1000
/// and above, without `nobody` (65534). Malformed lines are skipped.
pub fn other_users(passwd: &str, own_uid: u32) -> Vec<String> {
    passwd
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut fields = l.split(':');
            let name = fields.next()?.trim();
            let uid: u32 = fields.nth(1)?.trim().parse().ok()?;
            (!name.is_empty() && uid >= 1000 && uid != own_uid && uid != 65534 && name != "nobody")
                .then(|| name.to_string())
        })
        .collect()
}

/// The start-up warning for a loopback server without a token on a host that other users share.
pub fn shared_host_warning(opts: &HttpOptions, own_uid: u32) -> Option<String> {
    if opts.token.is_some() || !opts.listen.ip().is_loopback() {
        return None;
    }
    let passwd = std::fs::read_to_string(&opts.passwd_file).ok()?;
    let others = other_users(&passwd, own_uid);
    if others.is_empty() {
        return None;
    }
    let mut names = others
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if others.len() > 5 {
        names.push_str(&format!(" and {} more", others.len() - 5));
    }
    Some(format!(
        "warning: this MCP server needs no token on loopback, and this host has other users \
         ({names}): any of them can call its tools, destructive ones included (restore_run, \
         backup_cleanup). Set mcp.http.token_file to a file (mode 0600) holding a long random \
         token, or MAHAVISHNU_MCP__HTTP__TOKEN, and send it as `Authorization: Bearer <token>`"
    ))
}

/// `GET /health`: the operations layer's health probe, as JSON.
async fn health(State(server): State<DrServer>) -> Response {
    axum::Json(server.dr().health().await).into_response()
}

/// Equal in constant time: both sides are hashed first, so neither where the first difference
/// lies nor the token's length shows in the time taken.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (ha, hb) = (
        ring::digest::digest(&ring::digest::SHA256, a),
        ring::digest::digest(&ring::digest::SHA256, b),
    );
    let diff = ha
        .as_ref()
        .iter()
        .zip(hb.as_ref())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The token of an `Authorization: Bearer <token>` header; the scheme name is case-insensitive
/// (RFC 7235), any other scheme gives none.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim_start().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn host_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    // Strip the port: "[::1]:8684" -> "::1", "localhost:8684" -> "localhost".
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("").to_string()
    } else {
        host.rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host.clone(), |(h, _)| h.to_string())
    };
    allowed.iter().any(|a| {
        let a = a.trim().to_ascii_lowercase();
        a == host || a == name || a.trim_matches(|c| c == '[' || c == ']') == name
    })
}

#[derive(Clone)]
struct Guard {
    token: Option<Arc<String>>,
    allowed_hosts: Arc<Vec<String>>,
}

/// A browser's Origin must name an allowed host too (a page elsewhere must not drive the server).
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(authority) = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    }) else {
        return false;
    };
    let mut h = HeaderMap::new();
    match authority.trim_end_matches('/').parse() {
        Ok(v) => {
            h.insert(header::HOST, v);
            host_allowed(&h, allowed)
        }
        Err(_) => false,
    }
}

async fn guard(State(g): State<Guard>, request: Request, next: Next) -> Response {
    if !origin_allowed(request.headers(), &g.allowed_hosts) {
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: the Origin header names a site this server does not answer to",
        )
            .into_response();
    }
    if !host_allowed(request.headers(), &g.allowed_hosts) {
        return (
            StatusCode::FORBIDDEN,
            "Forbidden: the Host header is not one this server answers to (DNS rebinding \
             protection); add the name to mcp.http.allowed_hosts to allow it",
        )
            .into_response();
    }
    if let Some(token) = &g.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(bearer_token);
        if !given.is_some_and(|t| same_secret(t.as_bytes(), token.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer")],
                "Unauthorized: send Authorization: Bearer <token> (mcp.http.token_file)",
            )
                .into_response();
        }
    }
    next.run(request).await
}

/// The router: `/mcp` and `/health` behind the Host and token guard.
pub fn router(server: DrServer, opts: &HttpOptions, shutdown: CancellationToken) -> Router {
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(opts.allowed_hosts.clone())
        .with_cancellation_token(shutdown);
    let factory_server = server.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(factory_server.for_session()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let g = Guard {
        token: opts.token.clone().map(Arc::new),
        allowed_hosts: Arc::new(opts.allowed_hosts.clone()),
    };
    Router::new()
        .route("/health", get(health))
        .with_state(server)
        .route_service("/mcp", mcp)
        .layer(middleware::from_fn_with_state(g, guard))
}

/// Serve until `shutdown` is cancelled. Prints where it listens on stderr.
pub async fn serve(server: DrServer, opts: HttpOptions, shutdown: CancellationToken) -> Result<()> {
    let listener = bind(&opts).await?;
    serve_on(listener, server, opts, shutdown).await
}

/// Listen on the address of `opts` (so a caller can fail at start-up, then serve).
pub async fn bind(opts: &HttpOptions) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("cannot listen on {}: {e}", opts.listen),
            )
            .with_guidance(
                "pick another address (`--http ADDR`, `daemon --listen ADDR`) or mcp.http.listen",
            )
        })
}

/// Serve on a bound listener until `shutdown` is cancelled. Prints where it listens on stderr.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    server: DrServer,
    opts: HttpOptions,
    shutdown: CancellationToken,
) -> Result<()> {
    let local = listener
        .local_addr()
        .map_err(|e| Error::io(format!("cannot read the listening address: {e}")))?;
    let ip_note = match local.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => "loopback only",
        IpAddr::V6(ip) if ip.is_loopback() => "loopback only",
        _ => "bearer token required",
    };
    // SAFETY: geteuid has no preconditions and cannot fail.
    let own_uid = unsafe { libc::geteuid() };
    if let Some(w) = shared_host_warning(&opts, own_uid) {
        eprintln!("{w}");
    }
    eprintln!(
        "mahavishnu-dr MCP server on http://{local}/mcp (health: http://{local}/health; {ip_note})"
    );
    let app = router(server, &opts, shutdown.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .map_err(|e| Error::io(format!("the HTTP server stopped: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_users_are_login_accounts_but_this_one_and_nobody() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
                      # a comment\n\
                      \n\
                      broken line\n\
                      alice:x:1000:1000:Alice:/home/alice:/bin/bash\n\
                      svc:x:1001:1001::/srv:/bin/sh\n\
                      bob:x:notanumber:1:::\n\
                      nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                      carol:x:4000000000:1:::\n";
        assert_eq!(other_users(passwd, 1001), vec!["alice", "carol"]);
        assert_eq!(other_users(passwd, 0), vec!["alice", "svc", "carol"]);
        assert!(other_users("root:x:0:0::/root:/bin/sh\n", 0).is_empty());
        assert!(other_users("", 0).is_empty());
    }

    #[test]
    fn the_warning_names_token_file_only_without_a_token_on_loopback() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "alice:x:1000:1000::/home/alice:/bin/bash\n").unwrap();
        let mut o = HttpOptions {
            listen: "127.0.0.1:8684".parse().unwrap(),
            token: None,
            allowed_hosts: Vec::new(),
            passwd_file: passwd,
        };
        let w = shared_host_warning(&o, 0).expect("warned");
        assert!(
            w.contains("mcp.http.token_file") && w.contains("alice"),
            "{w}"
        );
        assert_eq!(shared_host_warning(&o, 1000), None, "only this user");
        o.token = Some("t".into());
        assert_eq!(shared_host_warning(&o, 0), None, "a token is configured");
    }

    #[test]
    fn bearer_is_matched_case_insensitively_and_tokens_compared_whole() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
    }
}
