//! Checks of the `mcp` section: the HTTP listen address and the bearer token.

use super::Problems;
use crate::settings::keys::keys;
use crate::settings::schema::McpSettings;

/// `mcp.http.listen` is `HOST:PORT`; `mcp.http.token`, when set, is not empty.
pub(super) fn check(mcp: &McpSettings, p: &mut Problems<'_>) {
    let http = &mcp.http;
    let listen_ok = http.listen.parse::<std::net::SocketAddr>().is_ok()
        || http.listen.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok()
        });
    if !listen_ok {
        p.add(
            &keys(&["mcp", "http", "listen"]),
            format!(
                "{:?} is not an address to listen on; write HOST:PORT, e.g. \"127.0.0.1:8684\"",
                http.listen
            ),
            None,
        );
    }
    if http.token.as_ref().is_some_and(|t| t.trim().is_empty()) {
        p.add(
            &keys(&["mcp", "http", "token"]),
            "an empty token; set a real secret or leave the key out",
            None,
        );
    }
}
