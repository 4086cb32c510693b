//! Warnings that shared ops machinery records while an operation runs (a key file that others
//! can read), so every face shows them for every command: on stderr, and in the `warnings` of
//! the JSON result.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// Warnings recorded during one operation (one CLI command, one MCP tool call). Cheap to clone;
/// clones share the list. Each warning is kept once, in the order first recorded.
#[derive(Debug, Clone, Default)]
pub struct Notes(Arc<Mutex<Vec<String>>>);

impl Notes {
    pub fn new() -> Self {
        Self::default()
    }

    /// Record a warning (again recording the same text changes nothing).
    pub fn warn(&self, warning: String) {
        let mut list = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !list.contains(&warning) {
            list.push(warning);
        }
    }

    /// The warnings recorded so far.
    pub fn warnings(&self) -> Vec<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Add the warnings to a result's JSON when it has a `warnings` list (shapes without one stay
    /// as they are: the warnings still reach stderr or the server log).
    pub fn add_to(&self, result: &mut Value) {
        if let Some(Value::Array(list)) = result.get_mut("warnings") {
            for w in self.warnings() {
                let w = Value::String(w);
                if !list.contains(&w) {
                    list.push(w);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn warnings_are_kept_once_and_join_a_results_list() {
        let n = super::Notes::new();
        n.clone().warn("key file readable".into());
        n.warn("key file readable".into());
        assert_eq!(n.warnings(), vec!["key file readable".to_string()]);
        let mut with = json!({"ok": true, "warnings": ["earlier"]});
        n.add_to(&mut with);
        n.add_to(&mut with);
        assert_eq!(with["warnings"], json!(["earlier", "key file readable"]));
        let mut without = json!({"ok": true});
        n.add_to(&mut without);
        assert_eq!(without, json!({"ok": true}));
    }
}
