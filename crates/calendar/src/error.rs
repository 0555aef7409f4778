//! Errors in calendar data.

use time::{Date, Weekday};

/// A problem in calendar data given to [`Calendar::from_toml`](crate::Calendar::from_toml).
///
/// Every message names where the problem is: the TOML parser's messages give the line and
/// column; the others give the line of the `[[table]]` header of the entry and the entry's
/// number within its table (1-based).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not TOML, or does not have the calendar's shape: an unknown key, a
    /// missing key, a value of the wrong type, or a date that does not exist (such as
    /// `2024-02-30`).
    #[error("calendar data: {0}")]
    Parse(#[from] toml::de::Error),

    /// An entry breaks one of the calendar's rules (a bad month or day, `until` before
    /// `from`, an empty name or decree, a date with a time of day, ...).
    #[error("calendar data, line {line}: [[{table}]] entry {index}: {problem}")]
    Invalid {
        /// The table: `holidays`, `movable` or `transfers`.
        table: &'static str,
        /// The entry's number within its table, from 1.
        index: usize,
        /// The line of the entry's `[[table]]` header, from 1.
        line: usize,
        /// What is wrong.
        problem: String,
    },

    /// Two entries say the same thing, or contradict each other.
    #[error(
        "calendar data, line {line}: [[{table}]] entry {index} duplicates entry \
         {other_index} (line {other_line}): {what}"
    )]
    Duplicate {
        /// The table: `holidays`, `movable` or `transfers`.
        table: &'static str,
        /// The later entry's number within its table, from 1.
        index: usize,
        /// The line of the later entry's `[[table]]` header, from 1.
        line: usize,
        /// The earlier entry's number within the same table, from 1.
        other_index: usize,
        /// The line of the earlier entry's `[[table]]` header, from 1.
        other_line: usize,
        /// What the two entries share.
        what: String,
    },

    /// A transfer's `working_day` is an ordinary working day already: it must be a
    /// Saturday or Sunday, or a day off moved there by the weekend rule.
    #[error(
        "calendar data, line {line}: [[transfers]] entry {index}: working_day {working_day} \
         is a {weekday}, not a Saturday or Sunday (nor a day off moved by the weekend rule), \
         so it cannot become a working day"
    )]
    WorkingDayNotOff {
        /// The entry's number within `[[transfers]]`, from 1.
        index: usize,
        /// The line of the entry's `[[transfers]]` header, from 1.
        line: usize,
        /// The offending date.
        working_day: Date,
        /// Its day of the week.
        weekday: Weekday,
    },
}
