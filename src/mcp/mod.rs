//! The MCP face: every DR operation as a tool, over stdio or streamable HTTP.
//!
//! It only parses arguments, calls [`crate::ops`] and renders: tool results are the same types
//! the CLI prints with `--json`. See `tools` for the catalog, `server` for the handler.

mod args;
mod compat;
pub mod http;
mod progress;
mod prompts;
mod resources;
mod schema;
mod server;
mod tools;

use std::path::Path;

use rmcp::ServiceExt;
use serde_json::{Value, json};

use crate::error::{Error, Result};

pub use server::DrServer;

/// Serve MCP on stdin/stdout until the client closes the stream. Only protocol goes to stdout.
pub async fn serve_stdio(server: DrServer) -> Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| Error::io(format!("the MCP session did not start: {e}")))?;
    running
        .waiting()
        .await
        .map_err(|e| Error::io(format!("the MCP session ended with an error: {e}")))?;
    Ok(())
}

/// Each tool as `tools/` holds it: name, title, description, schemas, annotations.
pub fn tool_documents() -> Vec<(String, Value)> {
    tools::specs()
        .iter()
        .map(|s| {
            let t = s.tool();
            let doc = json!({
                "name": t.name,
                "title": t.title,
                "description": t.description,
                "inputSchema": t.input_schema,
                "outputSchema": t.output_schema,
                "annotations": t.annotations,
            });
            (t.name.to_string(), doc)
        })
        .collect()
}

/// Write one JSON file per tool into `dir` (created if missing); returns the file names.
pub fn export_tools(dir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::from_io("create", dir, e))?;
    let mut names = Vec::new();
    for (name, doc) in tool_documents() {
        let file = format!("{name}.json");
        let mut text = serde_json::to_string_pretty(&doc)
            .map_err(|e| Error::internal(format!("cannot encode {name}: {e}")))?;
        text.push('\n');
        let path = dir.join(&file);
        std::fs::write(&path, text).map_err(|e| Error::from_io("write", &path, e))?;
        names.push(file);
    }
    Ok(names)
}
