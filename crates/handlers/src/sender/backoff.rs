//! [`Backoff`]: CPython's `SocketHandler.createSocket` reconnect schedule.
//!
//! CPython waits `retryStart` seconds after the first failed connect, then multiplies the
//! wait by `retryFactor` after each further failure, up to `retryMax`: 1, 2, 4, 8, 16, 30,
//! 30 … seconds by default. A success resets the schedule. The three attributes are
//! settable, as in CPython.
//!
//! ```
//! use logwire_handlers::Backoff;
//! use std::time::{Duration, Instant};
//!
//! let mut b = Backoff::default();
//! let t0 = Instant::now();
//! assert!(b.may_attempt(t0));
//! let waits: Vec<f64> = (0..7).map(|_| b.failed(t0).as_secs_f64()).collect();
//! assert_eq!(waits, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]);
//! assert!(!b.may_attempt(t0));
//! assert!(b.may_attempt(t0 + Duration::from_secs(30)));
//! b.succeeded();
//! assert_eq!(b.failed(t0).as_secs_f64(), 1.0);
//! ```

use std::time::{Duration, Instant};

/// CPython's default `retryStart`.
pub const DEFAULT_RETRY_START: f64 = 1.0;
/// CPython's default `retryFactor`.
pub const DEFAULT_RETRY_FACTOR: f64 = 2.0;
/// CPython's default `retryMax`.
pub const DEFAULT_RETRY_MAX: f64 = 30.0;

/// Why backoff settings were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BackoffError {
    /// A setting is negative, infinite or NaN.
    #[error("{name} must be a finite number >= 0, got {value}")]
    NotFinite {
        /// `retryStart`, `retryFactor` or `retryMax`.
        name: &'static str,
        /// The value given.
        value: f64,
    },
    /// `retryFactor` below 1 would make the waits shrink.
    #[error("retryFactor must be >= 1, got {0}")]
    FactorBelowOne(f64),
}

/// The reconnect schedule: CPython's `retryStart`, `retryFactor`, `retryMax`, `retryTime`
/// and `retryPeriod`.
#[derive(Clone, Debug, PartialEq)]
pub struct Backoff {
    retry_start: f64,
    retry_factor: f64,
    retry_max: f64,
    /// The last wait (`retryPeriod`); meaningful only while `retry_time` is set.
    retry_period: f64,
    /// When the next attempt may happen (`retryTime`); `None` = now.
    retry_time: Option<Instant>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            retry_start: DEFAULT_RETRY_START,
            retry_factor: DEFAULT_RETRY_FACTOR,
            retry_max: DEFAULT_RETRY_MAX,
            retry_period: 0.0,
            retry_time: None,
        }
    }
}

fn finite(name: &'static str, value: f64) -> Result<f64, BackoffError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(BackoffError::NotFinite { name, value })
    }
}

impl Backoff {
    /// A schedule with these settings (seconds; `retry_factor` ≥ 1).
    pub fn new(retry_start: f64, retry_factor: f64, retry_max: f64) -> Result<Self, BackoffError> {
        let mut b = Backoff::default();
        b.set(retry_start, retry_factor, retry_max)?;
        Ok(b)
    }

    /// Changes the settings (CPython code assigns the attributes directly; the schedule in
    /// progress continues from its current period).
    pub fn set(
        &mut self,
        retry_start: f64,
        retry_factor: f64,
        retry_max: f64,
    ) -> Result<(), BackoffError> {
        let start = finite("retryStart", retry_start)?;
        let factor = finite("retryFactor", retry_factor)?;
        let max = finite("retryMax", retry_max)?;
        if factor < 1.0 {
            return Err(BackoffError::FactorBelowOne(factor));
        }
        self.retry_start = start;
        self.retry_factor = factor;
        self.retry_max = max;
        Ok(())
    }

    /// `retryStart`, seconds.
    pub fn retry_start(&self) -> f64 {
        self.retry_start
    }

    /// `retryFactor`.
    pub fn retry_factor(&self) -> f64 {
        self.retry_factor
    }

    /// `retryMax`, seconds.
    pub fn retry_max(&self) -> f64 {
        self.retry_max
    }

    /// The current wait after a failure (`retryPeriod`), if a failure is pending.
    pub fn retry_period(&self) -> Option<f64> {
        self.retry_time.map(|_| self.retry_period)
    }

    /// When the next connect may be attempted (`retryTime`); `None` = any time.
    pub fn retry_time(&self) -> Option<Instant> {
        self.retry_time
    }

    /// CPython's `attempt = retryTime is None or now >= retryTime`.
    pub fn may_attempt(&self, now: Instant) -> bool {
        self.retry_time.is_none_or(|t| now >= t)
    }

    /// A connect succeeded: the next failure starts over at `retryStart`.
    pub fn succeeded(&mut self) {
        self.retry_time = None;
    }

    /// A connect failed at `now`: CPython's period update. Returns the wait before the next
    /// attempt.
    pub fn failed(&mut self, now: Instant) -> Duration {
        self.retry_period = if self.retry_time.is_none() {
            self.retry_start
        } else {
            (self.retry_period * self.retry_factor).min(self.retry_max)
        };
        let wait = Duration::try_from_secs_f64(self.retry_period).unwrap_or(Duration::MAX);
        self.retry_time = Some(now.checked_add(wait).unwrap_or(now));
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        assert!(Backoff::new(f64::NAN, 2.0, 30.0).is_err());
        assert!(Backoff::new(1.0, 0.5, 30.0).is_err());
        assert!(Backoff::new(-1.0, 2.0, 30.0).is_err());
        let mut b = Backoff::new(2.5, 3.0, 10.0).unwrap();
        let t = Instant::now();
        let w: Vec<f64> = (0..4).map(|_| b.failed(t).as_secs_f64()).collect();
        assert_eq!(w, [2.5, 7.5, 10.0, 10.0]);
        assert_eq!(b.retry_period(), Some(10.0));
    }
}
