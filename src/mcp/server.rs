//! The MCP server handler: lists and dispatches tools, resources and prompts; turns operation
//! errors into `isError` tool results and unknown names into protocol errors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams,
    GetPromptResponse, Implementation, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, ServerCapabilities, ServerConfig, Tool,
};
#[allow(deprecated)] // logging/setLevel: deprecated by SEP-2577, still in 2025-11-25
use rmcp::model::{LoggingLevel, SetLevelRequestParams};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::progress::McpProgress;
use super::tools::{self, CallCx, Outcome, ToolSpec};
use super::{prompts, resources};
use crate::error::{Error, ErrorKind};
use crate::ops::{Cancel, Dr, NoProgress, Progress};

const INSTRUCTIONS: &str = "mahavishnu-dr protects a service's state with encrypted, verified \
backups and restores them. Start with backup_status or run_disaster_recovery_check; backup_run \
makes a backup; backup_validate proves backups are restorable; restore_run restores into a \
folder inside the configured restore roots (dr://settings); drill_run rehearses a disaster in a \
sandbox (a dry run unless dry_run=false and confirm=true). Destructive calls (backup_cleanup, \
restore over existing files) need confirm=true: ask the user first.";

/// The server: the operations plus the tool catalog, cheap to clone (one per HTTP session).
#[derive(Clone)]
pub struct DrServer {
    dr: Arc<Dr>,
    tools: Arc<Vec<Tool>>,
    specs: Arc<Vec<ToolSpec>>,
    /// This session's logging/setLevel: operation notices go out as log messages when the level
    /// is notice or lower.
    log_notices: Arc<AtomicBool>,
}

impl DrServer {
    pub fn new(dr: Dr) -> DrServer {
        let specs = tools::specs();
        let tools = specs.iter().map(ToolSpec::tool).collect();
        DrServer {
            dr: Arc::new(dr),
            tools: Arc::new(tools),
            specs: Arc::new(specs),
            log_notices: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A copy for a new session (its own logging level).
    pub fn for_session(&self) -> DrServer {
        DrServer {
            log_notices: Arc::new(AtomicBool::new(false)),
            ..self.clone()
        }
    }

    pub fn dr(&self) -> &Dr {
        &self.dr
    }

    /// The tools as clients list them.
    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }
}

/// The text an agent reads when a call fails: what went wrong, what to do, where.
pub fn error_text(e: &Error) -> String {
    let mut s = e.message.clone();
    if let Some(g) = &e.guidance_for(crate::action::Face::Mcp) {
        s.push_str(&format!("\nWhat to do: {g}"));
    }
    if !e.context.is_empty() {
        s.push_str(&format!("\nContext: {}", e.context.join("; ")));
    }
    s.push_str(&format!("\n(error kind: {})", kind_name(e.kind)));
    s
}

/// A client's name as records keep it: printable, one line, at most 64 characters.
fn client_name(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(64)
        .collect()
}

fn kind_name(k: ErrorKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "internal".into())
}

/// Every list fits in one page, so this server never hands out a cursor: any cursor is invalid.
fn no_cursor(request: &Option<PaginatedRequestParams>) -> Result<(), ErrorData> {
    match request.as_ref().and_then(|r| r.cursor.as_deref()) {
        Some(c) => Err(ErrorData::invalid_params(
            format!(
                "invalid cursor {c:?}: this server returns every item in one page; list without a cursor"
            ),
            None,
        )),
        None => Ok(()),
    }
}

fn to_protocol(e: &Error) -> ErrorData {
    match e.kind {
        ErrorKind::NotFound => ErrorData::resource_not_found(error_text(e), None),
        ErrorKind::Usage => ErrorData::invalid_params(error_text(e), None),
        _ => ErrorData::internal_error(error_text(e), None),
    }
}

impl ServerHandler for DrServer {
    #[allow(deprecated)] // enable_logging: see set_level
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .enable_logging()
                .build(),
        )
        .with_server_info(
            Implementation::new("mahavishnu-dr", env!("CARGO_PKG_VERSION"))
                .with_title("mahavishnu-dr disaster recovery"),
        )
        .with_instructions(INSTRUCTIONS)
    }

    #[allow(deprecated)] // logging/setLevel: deprecated by SEP-2577, still in 2025-11-25
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let wanted = matches!(
            request.level,
            LoggingLevel::Debug | LoggingLevel::Info | LoggingLevel::Notice
        );
        self.log_notices.store(wanted, Ordering::Relaxed);
        Ok(())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        no_cursor(&request)?;
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let Some(spec) = self.specs.iter().find(|s| s.name == name) else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool: {name}; tools/list names the tools this server has"),
                None,
            ));
        };
        let args = request.arguments.clone().unwrap_or_default();
        let token = context.meta.get_progress_token().filter(|_| spec.long);
        let log_notices = self.log_notices.load(Ordering::Relaxed);
        let mcp_progress = (token.is_some() || log_notices)
            .then(|| Arc::new(McpProgress::new(context.peer.clone(), token, log_notices)));
        let progress: Arc<dyn Progress> = match &mcp_progress {
            Some(p) => p.clone(),
            None => Arc::new(NoProgress),
        };
        // The request's token (cancelled by notifications/cancelled or when the server stops);
        // a child, so the operation's cancelling never reaches back.
        let cancel: Cancel = context.ct.child_token();
        // The client's name from its initialize request (a stateless HTTP request has none).
        let client = context
            .peer
            .peer_info()
            .map(|i| client_name(&i.client_info.name))
            .filter(|n| !n.is_empty());
        let cx = CallCx {
            progress,
            cancel,
            client,
        };
        let outcome = tools::call(&self.dr, &name, &args, cx).await;
        if let Some(p) = mcp_progress {
            p.close().await;
        }
        let result = match outcome {
            Some(Outcome::Done(value)) => CallToolResult::structured(value),
            Some(Outcome::DoneWithText(value, text)) => {
                let mut r = CallToolResult::structured(value);
                r.content = vec![ContentBlock::text(text)];
                r
            }
            Some(Outcome::Failed(e)) => {
                tracing::info!(tool = %name, "tool failed: {}", e.message);
                CallToolResult::error(vec![ContentBlock::text(error_text(&e))])
            }
            None => {
                return Err(ErrorData::invalid_params(
                    format!("unknown tool: {name}"),
                    None,
                ));
            }
        };
        Ok(result.into())
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        no_cursor(&request)?;
        Ok(ListResourcesResult::with_all_items(resources::list()))
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        no_cursor(&request)?;
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        match resources::read(&self.dr, &request.uri).await {
            Ok(Some(c)) => Ok(ReadResourceResult::new(vec![c]).into()),
            Ok(None) => Err(ErrorData::resource_not_found(
                format!(
                    "no resource {}: this server has dr://settings, dr://format, \
                     dr://reports/latest, dr://backups/{{backup_id}} and \
                     dr://runbooks/{{scenario}} (scenario: {})",
                    request.uri,
                    crate::settings::DrillScenario::valid_ids()
                ),
                None,
            )),
            Err(e) => Err(to_protocol(&e)),
        }
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        no_cursor(&request)?;
        Ok(ListPromptsResult::with_all_items(prompts::list()))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        match prompts::get(&request.name, &request.arguments) {
            Ok(Some(p)) => Ok(p.into()),
            Ok(None) => Err(ErrorData::invalid_params(
                format!(
                    "unknown prompt: {}; this server has incident_response and dr_readiness_review",
                    request.name
                ),
                None,
            )),
            Err(e) => Err(to_protocol(&e)),
        }
    }
}
