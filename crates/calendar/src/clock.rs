//! Time, injectable: the systems' engines, their SLA monitors and every timestamp they
//! write read it from a [`Clock`], so that tests can move it across 30 days (ИС МИО's
//! procedure, ИС ЦОН's desk steps and the archive after a month).

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// The source of "now".
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock tests move by hand: the system clock plus an offset.
    Manual(Arc<Mutex<Duration>>),
}

impl Clock {
    /// A manual clock starting at the system time.
    pub fn manual() -> Self {
        Clock::Manual(Arc::new(Mutex::new(Duration::ZERO)))
    }

    /// Now, in UTC (microsecond precision, as PostgreSQL keeps it).
    pub fn now(&self) -> OffsetDateTime {
        let t = match self {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Manual(off) => OffsetDateTime::now_utc() + *off.lock().expect("clock lock"),
        };
        t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
            .unwrap_or(t)
    }

    /// Moves a manual clock forward (no effect on the system clock).
    pub fn advance(&self, by: Duration) {
        if let Clock::Manual(off) = self {
            *off.lock().expect("clock lock") += by;
        }
    }

    /// How far a manual clock is ahead of the system clock (zero for the system clock).
    pub fn offset(&self) -> Duration {
        match self {
            Clock::System => Duration::ZERO,
            Clock::Manual(off) => *off.lock().expect("clock lock"),
        }
    }

    /// Today in Kazakhstan.
    pub fn today(&self) -> time::Date {
        crate::local_date(self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves() {
        let c = Clock::manual();
        let a = c.now();
        c.advance(Duration::days(31));
        assert!(c.now() - a >= Duration::days(31));
        assert_eq!(c.offset(), Duration::days(31));
        let s = Clock::System;
        s.advance(Duration::days(1));
        assert!(s.now() - OffsetDateTime::now_utc() < Duration::seconds(1));
    }
}
