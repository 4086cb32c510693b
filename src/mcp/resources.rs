//! MCP resources: the effective settings (redacted), one backup's manifest summary, the format
//! specification, the latest DR report, each drill scenario's runbook.

use rmcp::model::{Resource, ResourceContents, ResourceTemplate};

use crate::error::{Error, Result};
use crate::ops::Dr;
use crate::settings::DrillScenario;

pub const SETTINGS_URI: &str = "dr://settings";
pub const FORMAT_URI: &str = "dr://format";
pub const BACKUP_PREFIX: &str = "dr://backups/";
pub const BACKUP_TEMPLATE: &str = "dr://backups/{backup_id}";
pub const REPORT_URI: &str = "dr://reports/latest";
pub const RUNBOOK_PREFIX: &str = "dr://runbooks/";
pub const RUNBOOK_TEMPLATE: &str = "dr://runbooks/{scenario}";

const FORMAT_MD: &str = include_str!("../../docs/FORMAT.md");

pub fn list() -> Vec<Resource> {
    vec![
        Resource::new(SETTINGS_URI, "settings")
            .with_title("Effective settings")
            .with_description(
                "The settings mahavishnu-dr runs with (files, local overrides and MAHAVISHNU_ \
                 environment merged), secrets redacted. Read to learn sources, schedules, \
                 retention, RTO/RPO targets and restore roots.",
            )
            .with_mime_type("application/json"),
        Resource::new(FORMAT_URI, "format")
            .with_title("Repository format specification")
            .with_description(
                "docs/FORMAT.md: the normative repository format (layout, byte envelopes, \
                 manifests, write order, threat model, recovery by hand).",
            )
            .with_mime_type("text/markdown")
            .with_size(FORMAT_MD.len() as u64),
        Resource::new(REPORT_URI, "latest report")
            .with_title("Latest DR report")
            .with_description(
                "The DR posture as of the read, in markdown: verdict and checks, backups, RTO and \
                 RPO against targets with their trends, recommendations (the report tool's \
                 markdown, made fresh on every read; reads manifests and the history only).",
            )
            .with_mime_type("text/markdown"),
    ]
}

pub fn templates() -> Vec<ResourceTemplate> {
    vec![
        ResourceTemplate::new(BACKUP_TEMPLATE, "backup")
            .with_title("One backup's manifest summary")
            .with_description(
                "Type, parent and chain, times, host, sources, volumes with sizes and SHA-256, \
                 totals. backup_id is an id from backup_list, or latest.",
            )
            .with_mime_type("application/json"),
        ResourceTemplate::new(RUNBOOK_TEMPLATE, "runbook")
            .with_title("A disaster scenario's runbook")
            .with_description(format!(
                "The runbook of one DR-plan disaster, in markdown: detection, impact, recovery \
                 steps with the exact mahavishnu-dr commands, success criteria, rollback, the \
                 drill that rehearses it, and the evidence of its last drill (when, result, RTO \
                 and RPO achieved) when the repository is readable. scenario is one of: {}.",
                DrillScenario::valid_ids()
            ))
            .with_mime_type("text/markdown"),
    ]
}

fn json_text(v: &impl serde::Serialize) -> Result<String> {
    serde_json::to_string_pretty(v).map_err(|e| Error::internal(format!("cannot encode: {e}")))
}

fn contents(uri: &str, mime: &str, text: String) -> ResourceContents {
    ResourceContents::TextResourceContents {
        uri: uri.to_string(),
        mime_type: Some(mime.to_string()),
        text,
        meta: None,
    }
}

/// Read a resource; `Ok(None)` when the URI names none of ours.
pub async fn read(dr: &Dr, uri: &str) -> Result<Option<ResourceContents>> {
    if uri == SETTINGS_URI {
        let text = json_text(&dr.settings().redacted_json())?;
        return Ok(Some(contents(uri, "application/json", text)));
    }
    if uri == FORMAT_URI {
        return Ok(Some(contents(uri, "text/markdown", FORMAT_MD.to_string())));
    }
    if uri == REPORT_URI {
        let r = dr
            .report(&Default::default())
            .await?
            .for_face(crate::action::Face::Mcp);
        return Ok(Some(contents(
            uri,
            "text/markdown",
            crate::report::markdown::render(&r),
        )));
    }
    if let Some(id) = uri.strip_prefix(RUNBOOK_PREFIX) {
        if DrillScenario::parse(id).is_none() {
            return Ok(None);
        }
        let r = dr.drill_runbook(id, true).await?;
        return Ok(Some(contents(uri, "text/markdown", r.markdown)));
    }
    if let Some(id) = uri.strip_prefix(BACKUP_PREFIX)
        && !id.is_empty()
        && !id.contains('/')
    {
        let summary = dr.show(id).await?;
        return Ok(Some(contents(
            uri,
            "application/json",
            json_text(&summary)?,
        )));
    }
    Ok(None)
}
