//! The issuer's sense of time, injectable so that token expiry and key rotation can be tested
//! without sleeping.
//!
//! Production uses [`SystemClock`]; tests hand the server a [`ManualClock`] and move it forward.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use keyless_claims::NumericDate;

/// A source of the current time, in whole seconds (the resolution of `iat` and `exp`).
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> NumericDate;
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> NumericDate {
        NumericDate::from_system_time(SystemTime::now())
    }
}

/// A clock that stands still until told to move; shared by cloning.
#[derive(Debug, Clone)]
pub struct ManualClock {
    seconds: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn starting_at(start: NumericDate) -> Self {
        Self {
            seconds: Arc::new(AtomicI64::new(start.seconds())),
        }
    }

    /// A clock showing the current wall-clock time, frozen there.
    pub fn frozen_now() -> Self {
        Self::starting_at(SystemClock.now())
    }

    /// Moves the clock forward.
    pub fn advance(&self, duration: Duration) {
        let seconds = i64::try_from(duration.as_secs()).unwrap_or(i64::MAX);
        self.seconds.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> NumericDate {
        NumericDate::from_seconds(self.seconds.load(Ordering::SeqCst))
    }
}

/// A shareable handle on whichever clock the server uses; the system clock by default.
#[derive(Clone)]
pub struct ClockHandle(Arc<dyn Clock>);

impl ClockHandle {
    /// Wraps a clock.
    pub fn new(clock: impl Clock) -> Self {
        Self(Arc::new(clock))
    }

    /// The current time.
    pub fn now(&self) -> NumericDate {
        self.0.now()
    }
}

impl Default for ClockHandle {
    fn default() -> Self {
        Self::new(SystemClock)
    }
}

impl fmt::Debug for ClockHandle {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "ClockHandle(now = {})", self.now())
    }
}
