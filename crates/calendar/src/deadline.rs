//! Regulation deadlines: "20 minutes", "1 working day", "30 calendar days".

use std::fmt;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};

use crate::Calendar;

/// The units a deadline may use, for error messages.
const UNITS: &str = "seconds, minutes, hours, working days, calendar days, months (or the \
                     singular: second, minute, hour, working day, calendar day, month)";

/// A regulation deadline: a number and a unit.
///
/// Written as text like `"20 minutes"`, `"1 working day"` or `"28 calendar days"` (see
/// [`FromStr`](#impl-FromStr-for-Deadline)); [`Display`](fmt::Display) writes the same
/// form back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// A number of seconds.
    Seconds(u32),
    /// A number of minutes.
    Minutes(u32),
    /// A number of hours, of the clock (no working-hours logic).
    Hours(u32),
    /// A number of working days, per the [`Calendar`].
    WorkingDays(u32),
    /// A number of calendar days of 24 hours.
    CalendarDays(u32),
    /// A number of calendar months: the same day of the month that many months later
    /// (the month's last day where it is shorter), at the same time of day.
    Months(u32),
}

impl Deadline {
    /// When a step started at `start` is due.
    ///
    /// Seconds, minutes, hours and calendar days are plain durations (a calendar day is
    /// 24 hours); working days are counted by [`Calendar::add_working_days`]. The result is
    /// in `start`'s offset. Saturates at the end of the range of [`time::Date`].
    pub fn due(&self, calendar: &Calendar, start: OffsetDateTime) -> OffsetDateTime {
        match *self {
            Deadline::WorkingDays(n) => calendar.add_working_days(start, n),
            Deadline::Months(n) => add_months(start, n),
            _ => start.saturating_add(self.approx_duration()),
        }
    }

    /// The deadline as a duration, a working day counting as one day and a month as 28
    /// days: exact for seconds, minutes, hours and calendar days, and never longer than
    /// the real span otherwise; meant for sorting, sums and ratios, not for due times.
    pub fn approx_duration(&self) -> Duration {
        match *self {
            Deadline::Seconds(n) => Duration::seconds(i64::from(n)),
            Deadline::Minutes(n) => Duration::minutes(i64::from(n)),
            Deadline::Hours(n) => Duration::hours(i64::from(n)),
            Deadline::WorkingDays(n) | Deadline::CalendarDays(n) => Duration::days(i64::from(n)),
            Deadline::Months(n) => Duration::days(28 * i64::from(n)),
        }
    }

    /// The number, whatever the unit.
    pub fn amount(&self) -> u32 {
        match *self {
            Deadline::Seconds(n)
            | Deadline::Minutes(n)
            | Deadline::Hours(n)
            | Deadline::WorkingDays(n)
            | Deadline::CalendarDays(n)
            | Deadline::Months(n) => n,
        }
    }

    /// The unit's name, singular or plural for the number.
    fn unit(&self) -> &'static str {
        let one = self.amount() == 1;
        match (*self, one) {
            (Deadline::Seconds(_), true) => "second",
            (Deadline::Seconds(_), false) => "seconds",
            (Deadline::Minutes(_), true) => "minute",
            (Deadline::Minutes(_), false) => "minutes",
            (Deadline::Hours(_), true) => "hour",
            (Deadline::Hours(_), false) => "hours",
            (Deadline::WorkingDays(_), true) => "working day",
            (Deadline::WorkingDays(_), false) => "working days",
            (Deadline::CalendarDays(_), true) => "calendar day",
            (Deadline::CalendarDays(_), false) => "calendar days",
            (Deadline::Months(_), true) => "month",
            (Deadline::Months(_), false) => "months",
        }
    }
}

/// Writes `"1 minute"`, `"20 minutes"`, `"1 working day"`, `"28 calendar days"`: the form
/// [`FromStr`] reads.
impl fmt::Display for Deadline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount(), self.unit())
    }
}

/// Reads a whole number (digits only) and a unit: `seconds`, `minutes`, `hours`,
/// `working days` or `calendar days`, or their singular, whatever the number.
/// Case-insensitive; spaces around and between the words may be repeated.
///
/// ```
/// use egov_calendar::Deadline;
///
/// assert_eq!("20 minutes".parse(), Ok(Deadline::Minutes(20)));
/// assert_eq!("  1  Working   DAY ".parse(), Ok(Deadline::WorkingDays(1)));
/// assert!("3 weeks".parse::<Deadline>().is_err());
/// ```
impl FromStr for Deadline {
    type Err = ParseDeadlineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let input = s.trim();
        let mut words = input.split_whitespace();
        let Some(number) = words.next() else {
            return Err(ParseDeadlineError::Empty);
        };
        let unit = words.map(str::to_lowercase).collect::<Vec<_>>().join(" ");
        let error_input = || input.to_owned();

        let amount = parse_number(number).map_err(|problem| match problem {
            NumberProblem::Negative => ParseDeadlineError::Negative {
                input: error_input(),
                number: number.to_owned(),
            },
            NumberProblem::TooLarge => ParseDeadlineError::TooLarge {
                input: error_input(),
                number: number.to_owned(),
            },
            NumberProblem::Glued { digits } => ParseDeadlineError::NoSpace {
                input: error_input(),
                number: digits.to_owned(),
                unit: number[digits.len()..].to_owned(),
            },
            NumberProblem::NotANumber => ParseDeadlineError::NotANumber {
                input: error_input(),
                number: number.to_owned(),
            },
        })?;

        let deadline = match unit.as_str() {
            "" => {
                return Err(ParseDeadlineError::MissingUnit {
                    input: error_input(),
                });
            }
            "second" | "seconds" => Deadline::Seconds(amount),
            "minute" | "minutes" => Deadline::Minutes(amount),
            "hour" | "hours" => Deadline::Hours(amount),
            "working day" | "working days" => Deadline::WorkingDays(amount),
            "calendar day" | "calendar days" => Deadline::CalendarDays(amount),
            "month" | "months" => Deadline::Months(amount),
            "day" | "days" => {
                return Err(ParseDeadlineError::AmbiguousDays {
                    input: error_input(),
                });
            }
            _ => {
                return Err(ParseDeadlineError::UnknownUnit {
                    input: error_input(),
                    unit,
                });
            }
        };
        Ok(deadline)
    }
}

/// `n` calendar months after `start`: the same day of the month, or the month's last day
/// where it is shorter; saturates at the end of the range of [`time::Date`].
fn add_months(start: OffsetDateTime, n: u32) -> OffsetDateTime {
    let date = start.date();
    let months = i64::from(date.month() as u8 - 1) + i64::from(n);
    let Ok(year) = i32::try_from(i64::from(date.year()) + months.div_euclid(12)) else {
        return start.saturating_add(Duration::days(28 * i64::from(n)));
    };
    let month = time::Month::try_from((months.rem_euclid(12) + 1) as u8).expect("1..=12");
    let day = date.day().min(month.length(year));
    match time::Date::from_calendar_date(year, month, day) {
        Ok(d) => start.replace_date(d),
        Err(_) => start.saturating_add(Duration::days(28 * i64::from(n))),
    }
}

/// Why the first word is not a deadline's number.
enum NumberProblem<'a> {
    Negative,
    TooLarge,
    /// Digits followed by letters, as in `5minutes`.
    Glued {
        digits: &'a str,
    },
    NotANumber,
}

fn parse_number(word: &str) -> Result<u32, NumberProblem<'_>> {
    let digits_end = word
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(word.len());
    let digits = &word[..digits_end];
    let rest = &word[digits_end..];
    if digits.is_empty() {
        let negative = rest
            .strip_prefix('-')
            .is_some_and(|tail| !tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit()));
        return Err(if negative {
            NumberProblem::Negative
        } else {
            NumberProblem::NotANumber
        });
    }
    if !rest.is_empty() {
        return Err(if rest.chars().all(char::is_alphabetic) {
            NumberProblem::Glued { digits }
        } else {
            NumberProblem::NotANumber
        });
    }
    digits.parse().map_err(|_| NumberProblem::TooLarge)
}

/// Why a text is not a [`Deadline`]. Every message quotes the input and, where the unit is
/// in question, lists the accepted units.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseDeadlineError {
    /// Nothing but spaces.
    #[error(
        "empty deadline: expected a number and a unit, such as \"20 minutes\" or \
         \"1 working day\"; accepted units: {units}",
        units = UNITS
    )]
    Empty,

    /// A number without a unit, such as `"5"`.
    #[error(
        "deadline {input:?} has no unit: write a number and a unit, such as \"{input} minutes\"; \
         accepted units: {units}",
        units = UNITS
    )]
    MissingUnit {
        /// The text, trimmed.
        input: String,
    },

    /// The first word is not a whole number written in digits, such as `"five minutes"`.
    #[error(
        "deadline {input:?}: {number:?} is not a number: write the number in digits, such as \
         \"5 minutes\"; accepted units: {units}",
        units = UNITS
    )]
    NotANumber {
        /// The text, trimmed.
        input: String,
        /// The first word.
        number: String,
    },

    /// A negative number, such as `"-1 minutes"`.
    #[error(
        "deadline {input:?}: {number} is negative: a deadline is a whole number of units, \
         0 or more"
    )]
    Negative {
        /// The text, trimmed.
        input: String,
        /// The first word.
        number: String,
    },

    /// A number above 4 294 967 295.
    #[error("deadline {input:?}: {number} is too large (at most {max})", max = u32::MAX)]
    TooLarge {
        /// The text, trimmed.
        input: String,
        /// The first word.
        number: String,
    },

    /// The number and the unit are not separated, such as `"5minutes"`.
    #[error(
        "deadline {input:?}: put a space between the number and the unit, as in \
         \"{number} {unit}\""
    )]
    NoSpace {
        /// The text, trimmed.
        input: String,
        /// The digits.
        number: String,
        /// The letters glued to them.
        unit: String,
    },

    /// `"days"` alone: working or calendar days?
    #[error(
        "deadline {input:?}: say which days, \"working days\" or \"calendar days\"; \
         accepted units: {units}",
        units = UNITS
    )]
    AmbiguousDays {
        /// The text, trimmed.
        input: String,
    },

    /// A unit that is not one of the accepted ones, such as `"3 weeks"`.
    #[error("deadline {input:?}: unknown unit {unit:?}; accepted units: {units}", units = UNITS)]
    UnknownUnit {
        /// The text, trimmed.
        input: String,
        /// The words after the number, lower-cased.
        unit: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert!(matches!(parse_number("0"), Ok(0)));
        assert!(matches!(parse_number("007"), Ok(7)));
        assert!(matches!(parse_number("4294967295"), Ok(u32::MAX)));
        assert!(matches!(
            parse_number("4294967296"),
            Err(NumberProblem::TooLarge)
        ));
        assert!(matches!(parse_number("-1"), Err(NumberProblem::Negative)));
        assert!(matches!(parse_number("-"), Err(NumberProblem::NotANumber)));
        assert!(matches!(parse_number("+1"), Err(NumberProblem::NotANumber)));
        assert!(matches!(
            parse_number("1.5"),
            Err(NumberProblem::NotANumber)
        ));
        assert!(matches!(
            parse_number("5min"),
            Err(NumberProblem::Glued { digits: "5" })
        ));
        assert!(matches!(
            parse_number("five"),
            Err(NumberProblem::NotANumber)
        ));
    }

    #[test]
    fn units_agree_with_the_number() {
        assert_eq!(Deadline::Minutes(1).to_string(), "1 minute");
        assert_eq!(Deadline::Minutes(0).to_string(), "0 minutes");
        assert_eq!(Deadline::CalendarDays(21).to_string(), "21 calendar days");
    }
}
