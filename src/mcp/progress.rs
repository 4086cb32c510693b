//! MCP progress notifications: an [`ops::Progress`](crate::ops::Progress) sink that sends
//! `notifications/progress` for the client's progress token, and the operation's notices (a
//! broken stale lock, a wait) as log messages when the client asked for them (`logging/setLevel`).
//!
//! The progress value only grows (units done, summed over phases, plus one for each phase
//! started, so that every phase is announced: a drill's steps move no bytes of their own); the
//! message names the phase and how far it is. Notifications go out in order through one task,
//! at most one per 200 ms (phase starts and ends always), and [`McpProgress::close`] waits until
//! all are sent, so none arrives after the tool's result.

use std::sync::Mutex;
use std::time::{Duration, Instant};

#[allow(deprecated)] // logging is deprecated by SEP-2577 but still part of 2025-11-25 clients
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam};
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::{Peer, RoleServer};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::ops::Progress;
use crate::present;

const MIN_INTERVAL: Duration = Duration::from_millis(200);

struct State {
    phase: String,
    total: Option<u64>,
    done_in_phase: u64,
    /// Units done in earlier phases.
    base: u64,
    last_sent_value: u64,
    last_sent_at: Option<Instant>,
}

enum Note {
    Progress(ProgressNotificationParam),
    Log(String),
}

pub struct McpProgress {
    /// None: the client gave no progress token; only notices are sent.
    token: Option<ProgressToken>,
    /// Notices are sent as log messages when set (the client's logging/setLevel allows notice).
    log_notices: bool,
    state: Mutex<State>,
    tx: Mutex<Option<mpsc::UnboundedSender<Note>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl McpProgress {
    pub fn new(
        peer: Peer<RoleServer>,
        token: Option<ProgressToken>,
        log_notices: bool,
    ) -> McpProgress {
        let (tx, mut rx) = mpsc::unbounded_channel::<Note>();
        let task = tokio::spawn(async move {
            while let Some(note) = rx.recv().await {
                let sent = match note {
                    Note::Progress(p) => peer.notify_progress(p).await,
                    #[allow(deprecated)]
                    Note::Log(m) => {
                        let p = LoggingMessageNotificationParam::new(
                            LoggingLevel::Notice,
                            serde_json::Value::String(m),
                        )
                        .with_logger("mahavishnu-dr");
                        peer.notify_logging_message(p).await
                    }
                };
                if let Err(e) = sent {
                    tracing::debug!("notification not sent: {e}");
                }
            }
        });
        McpProgress {
            token,
            log_notices,
            state: Mutex::new(State {
                phase: "starting".into(),
                total: None,
                done_in_phase: 0,
                base: 0,
                last_sent_value: 0,
                last_sent_at: None,
            }),
            tx: Mutex::new(Some(tx)),
            task: Mutex::new(Some(task)),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Send a notification when progress grew and (unless `force`) the interval passed.
    fn maybe_send(&self, st: &mut State, force: bool) {
        let Some(token) = &self.token else {
            return;
        };
        let value = st.base + st.done_in_phase;
        if value <= st.last_sent_value {
            return;
        }
        if !force && st.last_sent_at.is_some_and(|t| t.elapsed() < MIN_INTERVAL) {
            return;
        }
        let message = match st.total {
            None if st.done_in_phase == 0 => st.phase.clone(),
            Some(t) if t > 0 => format!(
                "{}: {} of {} ({})",
                st.phase,
                present::bytes(st.done_in_phase),
                present::bytes(t),
                present::percent((st.done_in_phase as f64 / t as f64).min(1.0))
            ),
            _ => format!("{}: {} done", st.phase, present::bytes(st.done_in_phase)),
        };
        let p = ProgressNotificationParam::new(token.clone(), value as f64).with_message(message);
        self.send(Note::Progress(p));
        st.last_sent_value = value;
        st.last_sent_at = Some(Instant::now());
    }

    fn send(&self, note: Note) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = tx.send(note);
        }
    }

    /// Flush the last state and wait until every notification is sent.
    pub async fn close(&self) {
        {
            let mut st = self.state();
            self.maybe_send(&mut st, true);
        }
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let task = self.task.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = task {
            let _ = t.await;
        }
    }
}

impl Progress for McpProgress {
    fn phase(&self, name: &str, total: Option<u64>) {
        let mut st = self.state();
        self.maybe_send(&mut st, true);
        // One unit for the phase itself: its start is announced even before any byte moves.
        st.base += st.done_in_phase + 1;
        st.done_in_phase = 0;
        st.phase = name.to_string();
        st.total = total;
        self.maybe_send(&mut st, true);
    }
    fn advance(&self, n: u64) {
        let mut st = self.state();
        st.done_in_phase += n;
        self.maybe_send(&mut st, false);
    }
    fn notice(&self, message: &str) {
        tracing::info!("{message}");
        if self.log_notices {
            self.send(Note::Log(message.to_string()));
        }
    }
    fn finish(&self) {
        let mut st = self.state();
        self.maybe_send(&mut st, true);
    }
}
