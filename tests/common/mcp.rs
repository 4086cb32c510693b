//! An MCP client for the tests: records progress and log notifications, calls tools, validates
//! structured content against the tool's output schema.

use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, JsonObject, ProgressNotificationParam, Tool,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, RoleClient};
use serde_json::Value;
use tokio::sync::Notify;

/// Collects what the server sends on its own.
#[derive(Clone, Default)]
pub struct Collector {
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    pub got_progress: Arc<Notify>,
}

impl ClientHandler for Collector {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().unwrap().push(params);
        self.got_progress.notify_waiters();
    }
}

pub type Client = RunningService<RoleClient, Collector>;

pub fn obj(v: Value) -> JsonObject {
    match v {
        Value::Object(o) => o,
        other => panic!("arguments must be an object, not {other}"),
    }
}

/// Call a tool; panics on a protocol error (use `call_raw` to see those).
pub async fn call(client: &Client, name: &str, args: Value) -> CallToolResult {
    call_raw(client, name, args)
        .await
        .unwrap_or_else(|e| panic!("{name}: protocol error {e}"))
}

pub async fn call_raw(
    client: &Client,
    name: &str,
    args: Value,
) -> Result<CallToolResult, rmcp::ServiceError> {
    client
        .call_tool(CallToolRequestParams::new(name.to_string()).with_arguments(obj(args)))
        .await
}

/// The text of a result's first content block.
pub fn text(r: &CallToolResult) -> String {
    r.content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

/// Assert success and that the structured content validates against the tool's output schema.
pub fn ok_structured(tools: &[Tool], name: &str, r: &CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "{name} failed: {}", text(r));
    let value = r
        .structured_content
        .clone()
        .unwrap_or_else(|| panic!("{name}: no structured content"));
    let tool = tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool {name}"));
    let schema = Value::Object((**tool.output_schema.as_ref().expect("output schema")).clone());
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{name}: the output schema is not a valid schema: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(&value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{name}: structured content does not match its output schema: {errors:?}\n{value:#}"
    );
    value
}

/// Assert an isError result whose text contains every one of `needles`.
pub fn is_tool_error(name: &str, r: &CallToolResult, needles: &[&str]) -> String {
    assert_eq!(r.is_error, Some(true), "{name} should fail: {r:?}");
    assert!(
        r.structured_content.is_none(),
        "{name}: an error carries no structured content"
    );
    let t = text(r);
    for n in needles {
        assert!(
            t.contains(n),
            "{name}: error text {t:?} should mention {n:?}"
        );
    }
    t
}
