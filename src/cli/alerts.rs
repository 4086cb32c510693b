//! `mahavishnu-dr alerts test`: parse, call the alerts machinery, render.

use clap::Subcommand;

use super::{Outcome, outcome};
use crate::daemon::alerts::{AlertTestResponse, test_channels};
use crate::error::Result;
use crate::ops::Dr;

#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Send a test message to every alert channel of the settings and say, per channel,
    /// whether it was delivered (and why not); list the channels that are only a name.
    /// Exit 1 unless every channel delivered.
    Test,
}

pub async fn run(dr: &Dr, command: AlertsCommand) -> Result<Outcome> {
    match command {
        AlertsCommand::Test => {
            dr.needs_settings("alerts test")?;
            let r = test_channels(dr).await;
            outcome(&r, render(&r), !r.ok)
        }
    }
}

fn render(r: &AlertTestResponse) -> String {
    let mut t = String::new();
    if r.channels.is_empty() {
        t.push_str("no alert channel is configured (backup.monitoring.alert_channels)\n");
    }
    for c in &r.channels {
        match &c.error {
            None => t.push_str(&format!(
                "delivered      {} ({})\n",
                c.channel, c.channel_type
            )),
            Some(why) => t.push_str(&format!(
                "FAILED         {} ({}): {why}\n",
                c.channel, c.channel_type
            )),
        }
    }
    for n in &r.not_configured {
        t.push_str(&format!("not configured {}\n", n.message));
    }
    if let Some(s) = &r.silenced {
        t.push_str(&format!(
            "note: the daemon sends no incident alert while {s}\n"
        ));
    }
    t
}
