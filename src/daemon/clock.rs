//! The daemon's clock: the system's, or a rehearsal clock that starts at a given instant and
//! runs a given number of times faster (`daemon --clock START[@SPEED]`), so a schedule's runs
//! can be watched (and tested) without waiting for real time.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};

use crate::error::{Error, Result};

/// Now, and sleeping until an instant of this clock.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    /// `now = start + (real time since origin) × speed`.
    Rehearsal {
        start: DateTime<Utc>,
        origin: Instant,
        speed: f64,
    },
}

impl Clock {
    /// Parse `START[@SPEED]`: an RFC 3339 instant, and how many times faster than real time
    /// the clock runs (default 1).
    pub fn parse(text: &str) -> Result<Clock> {
        let (start, speed) = match text.split_once('@') {
            Some((s, f)) => (s, f),
            None => (text, "1"),
        };
        let bad = |why: String| {
            Error::usage(format!("--clock {text:?}: {why}")).with_guidance(
                "write --clock 2026-03-29T00:59:00Z or --clock 2026-03-29T00:59:00Z@60",
            )
        };
        let start = DateTime::parse_from_rfc3339(start.trim())
            .map_err(|e| bad(format!("the start is not an RFC 3339 instant ({e})")))?
            .with_timezone(&Utc);
        let speed: f64 = speed
            .trim()
            .parse()
            .map_err(|_| bad("the speed is not a number".into()))?;
        if !(speed.is_finite() && speed > 0.0 && speed <= 1_000_000.0) {
            return Err(bad("the speed must be above 0 and at most 1000000".into()));
        }
        Ok(Clock::Rehearsal {
            start,
            origin: Instant::now(),
            speed,
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self {
            Clock::System => Utc::now(),
            Clock::Rehearsal {
                start,
                origin,
                speed,
            } => {
                let real = origin.elapsed().as_secs_f64() * speed;
                start + TimeDelta::milliseconds((real * 1000.0) as i64)
            }
        }
    }

    /// The real time until `at` on this clock (zero when it has passed).
    pub fn real_until(&self, at: DateTime<Utc>) -> Duration {
        let ahead = (at - self.now()).to_std().unwrap_or(Duration::ZERO);
        match *self {
            Clock::System => ahead,
            Clock::Rehearsal { speed, .. } => ahead.div_f64(speed),
        }
    }

    /// A duration of this clock's time as real time (a retry's backoff on a fast clock).
    pub fn real(&self, d: Duration) -> Duration {
        match *self {
            Clock::System => d,
            Clock::Rehearsal { speed, .. } => d.div_f64(speed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rehearsal_clock_starts_where_told_and_runs_faster() {
        let c = Clock::parse("2026-03-29T00:59:00Z@600").unwrap();
        let t0 = c.now();
        assert!((t0 - "2026-03-29T00:59:00Z".parse::<DateTime<Utc>>().unwrap()).num_seconds() < 5);
        // A minute of clock time is a tenth of a second of real time.
        assert!(c.real(Duration::from_secs(60)) <= Duration::from_millis(100));
        let soon = c.real_until(t0 + TimeDelta::minutes(10));
        assert!(soon <= Duration::from_secs(1), "{soon:?}");
        for bad in [
            "yesterday",
            "2026-03-29T00:59:00Z@0",
            "2026-03-29T00:59:00Z@fast",
        ] {
            let e = Clock::parse(bad).unwrap_err();
            assert!(e.to_string().contains("--clock"), "{e}");
        }
    }
}
