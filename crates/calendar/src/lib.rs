//! Kazakhstan's working-day calendar and regulation deadlines.
//!
//! A provider's system computes when each step of a regulation (регламент) is due from
//! the step's deadline: seconds, minutes, hours, calendar days or *working days*. Working
//! days skip
//!
//! * Saturdays and Sundays (the five-day working week);
//! * the national and state holidays of the Law «О праздниках в Республике Казахстан»
//!   and the religious days off of the Labour Code (7 January, the first day of Kurban
//!   ait);
//! * the day off moved to the next working day when a holiday falls on a weekend (the
//!   religious days off are not moved);
//! * the days off moved by the yearly transfer acts (переносы дней отдыха) of the
//!   Government (until 2023) and of the Ministry of Labour (from 2024); the Saturday or
//!   Sunday they name becomes a working day.
//!
//! The facts live in `data/kz.toml`, embedded in the crate and documented there with
//! their sources; [`Calendar::kazakhstan`] parses it once. [`Calendar::from_toml`] loads
//! any file of the same shape (for tests, or a newer file shipped as configuration).
//!
//! ```
//! use egov_calendar::{Calendar, Deadline, LOCAL_OFFSET};
//! use time::macros::datetime;
//!
//! let kz = Calendar::kazakhstan();
//! // Friday 20 March 2026, 10:00: Nauryz (21-23 March) falls partly on the weekend, so
//! // 24 and 25 March are days off too; the next working day is Thursday 26 March.
//! let start = datetime!(2026-03-20 10:00 +5);
//! let deadline: Deadline = "1 working day".parse()?;
//! assert_eq!(deadline.due(kz, start), datetime!(2026-03-26 10:00 +5));
//! assert_eq!(start.offset(), LOCAL_OFFSET);
//! # Ok::<(), egov_calendar::ParseDeadlineError>(())
//! ```

#![warn(missing_docs)]

mod calendar;
pub mod clock;
mod data;
mod deadline;
mod error;

pub use calendar::{Calendar, DayOff, Holiday};
pub use clock::Clock;
pub use deadline::{Deadline, ParseDeadlineError};
pub use error::Error;

/// Kazakhstan's local time, UTC+5, in which all calendar arithmetic is done.
///
/// Since 1 March 2024 (00:00 local time) the whole country uses a single time zone,
/// UTC+5, by decision of the Government; before that Astana, Almaty and the east used
/// UTC+6 and the west UTC+5. The calendar applies UTC+5 to every date, also
/// to earlier ones: a start time before March 2024 given at +06:00 is converted to +05:00
/// first, so it may fall on the previous local date when it is between 00:00 and 01:00.
pub const LOCAL_OFFSET: time::UtcOffset = time::macros::offset!(+5);

/// The date in Kazakhstan at `t`.
pub fn local_date(t: time::OffsetDateTime) -> time::Date {
    t.to_offset(LOCAL_OFFSET).date()
}

/// Today in Kazakhstan.
pub fn today() -> time::Date {
    local_date(time::OffsetDateTime::now_utc())
}
