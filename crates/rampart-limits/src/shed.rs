//! Priority load shedding: one gateway-wide ceiling on requests in flight, with lower
//! priorities refused first as it fills. Batch traffic is admitted while fewer than
//! 70 % of the capacity is in flight, standard below 90 %, critical up to 100 %
//! (fractions configurable). Admission is one compare-and-swap on an `AtomicU32`; the
//! [`ShedGuard`] gives the slot back when dropped.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// A request's priority class under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum Priority {
    /// Served until the gateway is at full capacity.
    Critical,
    /// The default.
    #[default]
    Standard,
    /// Refused first.
    Batch,
}

impl Priority {
    /// `critical`, `standard` or `batch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::Standard => "standard",
            Self::Batch => "batch",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown priority name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown priority {0:?} (expected critical, standard or batch)")]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "critical" => Ok(Self::Critical),
            "standard" => Ok(Self::Standard),
            "batch" => Ok(Self::Batch),
            other => Err(UnknownPriority(other.to_owned())),
        }
    }
}

/// Settings of a [`Shedder`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShedConfig {
    /// The most requests in flight (critical traffic may use all of it).
    pub capacity: u32,
    /// Batch requests are admitted while in flight < `batch_fraction * capacity`.
    pub batch_fraction: f64,
    /// Standard requests are admitted while in flight < `standard_fraction * capacity`.
    pub standard_fraction: f64,
    /// The retry hint of a refusal.
    pub retry_after: Duration,
}

impl ShedConfig {
    /// The defaults (70 %, 90 %, retry after 1 s) for `capacity`.
    pub fn new(capacity: u32) -> Self {
        Self { capacity, batch_fraction: 0.7, standard_fraction: 0.9, retry_after: Duration::from_secs(1) }
    }
}

/// A refused admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("gateway at capacity for {priority} requests ({in_flight} in flight, threshold {threshold})")]
pub struct Shed {
    /// The refused request's priority.
    pub priority: Priority,
    /// Requests in flight when it was refused.
    pub in_flight: u32,
    /// The most in flight its priority is admitted under.
    pub threshold: u32,
    /// When to try again.
    pub retry_after: Duration,
}

/// The gateway-wide in-flight ceiling. Cheap to share (`Arc` inside the guards).
#[derive(Debug)]
pub struct Shedder {
    in_flight: Arc<AtomicU32>,
    /// Admission thresholds: critical, standard, batch.
    thresholds: [u32; 3],
    capacity: u32,
    retry_after: Duration,
}

fn threshold(capacity: u32, fraction: f64) -> u32 {
    let fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
    // in_flight < fraction * capacity, for a whole in_flight: below the ceiling.
    let limit = (f64::from(capacity) * fraction).ceil();
    if limit >= f64::from(capacity) {
        capacity
    } else {
        // 0 <= limit < capacity <= u32::MAX, so the cast is exact.
        limit as u32
    }
}

impl Shedder {
    /// A shedder with `config`'s capacity and fractions (clamped to 0..=1; standard
    /// is raised to batch's when given lower).
    pub fn new(config: ShedConfig) -> Self {
        let batch = threshold(config.capacity, config.batch_fraction);
        let standard = threshold(config.capacity, config.standard_fraction).max(batch);
        Self {
            in_flight: Arc::new(AtomicU32::new(0)),
            thresholds: [config.capacity, standard, batch],
            capacity: config.capacity,
            retry_after: config.retry_after,
        }
    }

    /// The most in flight a priority is admitted under.
    pub fn threshold(&self, priority: Priority) -> u32 {
        match priority {
            Priority::Critical => self.thresholds[0],
            Priority::Standard => self.thresholds[1],
            Priority::Batch => self.thresholds[2],
        }
    }

    /// Admits a request of `priority` if fewer than its threshold are in flight.
    pub fn admit(&self, priority: Priority) -> Result<ShedGuard, Shed> {
        let threshold = self.threshold(priority);
        let mut current = self.in_flight.load(Ordering::Acquire);
        loop {
            if current >= threshold {
                return Err(Shed { priority, in_flight: current, threshold, retry_after: self.retry_after });
            }
            match self.in_flight.compare_exchange_weak(current, current + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    return Ok(ShedGuard { in_flight: Arc::clone(&self.in_flight) });
                }
                Err(actual) => current = actual,
            }
        }
    }

    /// Requests in flight now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The configured capacity.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
}

/// One admitted request's slot; dropping it gives the slot back.
#[derive(Debug)]
#[must_use = "the slot is released when the guard is dropped"]
pub struct ShedGuard {
    in_flight: Arc<AtomicU32>,
}

impl Drop for ShedGuard {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(shedder: &Shedder, priority: Priority) -> Vec<ShedGuard> {
        let mut guards = Vec::new();
        while let Ok(guard) = shedder.admit(priority) {
            guards.push(guard);
            assert!(guards.len() <= 1_000_000, "runaway");
        }
        guards
    }

    #[test]
    fn parses_priorities() {
        assert_eq!("critical".parse(), Ok(Priority::Critical));
        assert_eq!("standard".parse(), Ok(Priority::Standard));
        assert_eq!("batch".parse(), Ok(Priority::Batch));
        assert!("Batch".parse::<Priority>().is_err());
        assert_eq!(Priority::default(), Priority::Standard);
        assert_eq!(Priority::Batch.to_string(), "batch");
    }

    #[test]
    fn default_thresholds_are_70_90_100_percent() {
        let shedder = Shedder::new(ShedConfig::new(100));
        assert_eq!(shedder.threshold(Priority::Batch), 70);
        assert_eq!(shedder.threshold(Priority::Standard), 90);
        assert_eq!(shedder.threshold(Priority::Critical), 100);
        // in flight < 0.7 * 10 = 7: 0..=6 admitted, so 7 batch requests.
        let small = Shedder::new(ShedConfig::new(10));
        assert_eq!(small.threshold(Priority::Batch), 7);
        // 0.7 * 3 = 2.1: in flight 0, 1 and 2 are below it.
        assert_eq!(Shedder::new(ShedConfig::new(3)).threshold(Priority::Batch), 3);
    }

    #[test]
    fn lower_priorities_are_shed_first() {
        let shedder = Shedder::new(ShedConfig::new(10));
        let batch = fill(&shedder, Priority::Batch);
        assert_eq!(batch.len(), 7);
        let refused = match shedder.admit(Priority::Batch) {
            Err(shed) => shed,
            Ok(_) => panic!("batch admitted over its threshold"),
        };
        assert_eq!(refused.in_flight, 7);
        assert_eq!(refused.threshold, 7);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        let standard = fill(&shedder, Priority::Standard);
        assert_eq!(standard.len(), 2);
        let critical = fill(&shedder, Priority::Critical);
        assert_eq!(critical.len(), 1);
        assert_eq!(shedder.in_flight(), 10);
        assert!(shedder.admit(Priority::Critical).is_err());
        drop(critical);
        assert_eq!(shedder.in_flight(), 9);
        assert!(shedder.admit(Priority::Standard).is_err());
        assert!(shedder.admit(Priority::Critical).is_ok());
        drop(batch);
        drop(standard);
        assert_eq!(shedder.in_flight(), 0);
    }

    #[test]
    fn fractions_are_configurable_and_clamped() {
        let shedder = Shedder::new(ShedConfig { batch_fraction: 0.5, standard_fraction: 0.25, ..ShedConfig::new(8) });
        assert_eq!(shedder.threshold(Priority::Batch), 4);
        assert_eq!(shedder.threshold(Priority::Standard), 4, "raised to batch's");
        let clamped = Shedder::new(ShedConfig { batch_fraction: -1.0, standard_fraction: 7.0, ..ShedConfig::new(8) });
        assert_eq!(clamped.threshold(Priority::Batch), 0);
        assert_eq!(clamped.threshold(Priority::Standard), 8);
        assert!(clamped.admit(Priority::Batch).is_err());
        let empty = Shedder::new(ShedConfig::new(0));
        assert!(empty.admit(Priority::Critical).is_err());
    }

    #[test]
    fn concurrent_admission_never_exceeds_capacity() {
        let shedder = Arc::new(Shedder::new(ShedConfig::new(50)));
        let peak = Arc::new(AtomicU32::new(0));
        std::thread::scope(|scope| {
            for _ in 0..8 {
                let shedder = Arc::clone(&shedder);
                let peak = Arc::clone(&peak);
                scope.spawn(move || {
                    for i in 0..20_000u32 {
                        let priority = [Priority::Batch, Priority::Standard, Priority::Critical][(i % 3) as usize];
                        if let Ok(guard) = shedder.admit(priority) {
                            peak.fetch_max(shedder.in_flight(), Ordering::Relaxed);
                            drop(guard);
                        }
                    }
                });
            }
        });
        assert!(peak.load(Ordering::Relaxed) <= 50);
        assert_eq!(shedder.in_flight(), 0);
    }
}
