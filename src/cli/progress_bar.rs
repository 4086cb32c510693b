//! Terminal progress: an indicatif bar on stderr, or notices only (pipes, cron, `--json`).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ops::Progress;

pub struct Bar(ProgressBar);

impl Bar {
    pub fn new() -> Self {
        let pb = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        Bar(pb)
    }
}

impl Progress for Bar {
    fn phase(&self, name: &str, total: Option<u64>) {
        match total {
            Some(t) => {
                self.0.set_length(t);
                self.0.set_position(0);
                self.0.set_style(
                    ProgressStyle::with_template(
                        "{msg:>12} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
                );
            }
            None => {
                self.0.set_style(ProgressStyle::default_spinner());
            }
        }
        self.0.set_message(name.to_string());
    }
    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
    fn notice(&self, message: &str) {
        self.0.suspend(|| eprintln!("{message}"));
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// No bar; notices still reach stderr (a person or a log reads them).
pub struct NoticesOnly;

impl Progress for NoticesOnly {
    fn notice(&self, message: &str) {
        eprintln!("{message}");
    }
}
