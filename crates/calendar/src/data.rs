//! Reading and checking calendar data (the format of `data/kz.toml`).

use std::collections::BTreeMap;

use serde::Deserialize;
use time::{Date, Month};
use toml::Spanned;
use toml::value::Datetime;

use crate::Error;
use crate::calendar::{Calendar, DayOff, FixedHoliday, MovableHoliday, Names, Transfer};

/// The file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    holidays: Vec<Spanned<RawFixed>>,
    #[serde(default)]
    movable: Vec<Spanned<RawMovable>>,
    #[serde(default)]
    transfers: Vec<Spanned<RawTransfer>>,
}

/// `name = { ru = "...", kk = "..." }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNames {
    ru: String,
    kk: String,
}

/// A `[[holidays]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixed {
    month: u8,
    day: u8,
    name: RawNames,
    from: i32,
    until: Option<i32>,
    moves: bool,
}

/// A `[[movable]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMovable {
    date: Datetime,
    name: RawNames,
    #[serde(default)]
    moves: bool,
    #[serde(default)]
    provisional: bool,
}

/// A `[[transfers]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTransfer {
    day_off: Datetime,
    working_day: Datetime,
    decree: String,
}

/// Where an entry is, for error messages.
#[derive(Debug, Clone, Copy)]
struct Place {
    table: &'static str,
    /// From 1.
    index: usize,
    /// From 1.
    line: usize,
}

impl Place {
    fn new<T>(text: &str, table: &'static str, position: usize, entry: &Spanned<T>) -> Self {
        Place {
            table,
            index: position + 1,
            line: line_of(text, entry.span().start),
        }
    }

    fn invalid(self, problem: impl Into<String>) -> Error {
        Error::Invalid {
            table: self.table,
            index: self.index,
            line: self.line,
            problem: problem.into(),
        }
    }

    fn duplicates(self, other: Place, what: impl Into<String>) -> Error {
        Error::Duplicate {
            table: self.table,
            index: self.index,
            line: self.line,
            other_index: other.index,
            other_line: other.line,
            what: what.into(),
        }
    }
}

/// The first and last years a calendar can describe (those of [`time::Date`]).
const YEARS: std::ops::RangeInclusive<i32> = -9999..=9999;

/// Parses and checks calendar data.
pub(crate) fn parse(text: &str) -> Result<Calendar, Error> {
    let raw: RawFile = toml::from_str(text)?;

    let mut fixed: Vec<(Place, FixedHoliday)> = Vec::with_capacity(raw.holidays.len());
    for (position, entry) in raw.holidays.iter().enumerate() {
        let place = Place::new(text, "holidays", position, entry);
        let holiday = fixed_holiday(place, entry.get_ref())?;
        if let Some((other, _)) = fixed
            .iter()
            .find(|(_, earlier)| overlaps(earlier, &holiday))
        {
            return Err(place.duplicates(
                *other,
                format!(
                    "both make {} {} a holiday in the same years",
                    holiday.day, holiday.month
                ),
            ));
        }
        fixed.push((place, holiday));
    }

    let mut movable: BTreeMap<Date, (Place, MovableHoliday)> = BTreeMap::new();
    for (position, entry) in raw.movable.iter().enumerate() {
        let place = Place::new(text, "movable", position, entry);
        let raw = entry.get_ref();
        let date = local_date(place, "date", &raw.date)?;
        let holiday = MovableHoliday {
            names: names(place, &raw.name)?,
            moves: raw.moves,
            provisional: raw.provisional,
        };
        if let Some((other, _)) = movable.get(&date) {
            return Err(place.duplicates(*other, format!("both are on {date}")));
        }
        movable.insert(date, (place, holiday));
    }

    let mut calendar = Calendar::new(
        fixed.into_iter().map(|(_, holiday)| holiday).collect(),
        movable
            .into_iter()
            .map(|(date, (_, holiday))| (date, holiday))
            .collect(),
    );

    // Transfers are checked against the holidays and the weekend rule only, not against
    // each other's effects, so their order does not matter.
    let rules = calendar.clone();
    let mut seen: BTreeMap<Date, (Place, &'static str)> = BTreeMap::new();
    for (position, entry) in raw.transfers.iter().enumerate() {
        let place = Place::new(text, "transfers", position, entry);
        let transfer = transfer(place, entry.get_ref(), &rules)?;
        for (date, role) in [
            (transfer.day_off, "day_off"),
            (transfer.working_day, "working_day"),
        ] {
            if let Some((other, other_role)) = seen.get(&date) {
                return Err(place.duplicates(
                    *other,
                    format!("{date} is the {role} here and the {other_role} there"),
                ));
            }
        }
        seen.insert(transfer.day_off, (place, "day_off"));
        seen.insert(transfer.working_day, (place, "working_day"));
        calendar.push_transfer(transfer);
    }
    Ok(calendar)
}

/// Checks a `[[holidays]]` entry.
fn fixed_holiday(place: Place, raw: &RawFixed) -> Result<FixedHoliday, Error> {
    let month = Month::try_from(raw.month)
        .map_err(|_| place.invalid(format!("month = {} is not a month (1 to 12)", raw.month)))?;
    // 2000 is a leap year, so 29 February is accepted (and skipped in common years).
    if Date::from_calendar_date(2000, month, raw.day).is_err() {
        return Err(place.invalid(format!("day = {} does not exist in {month}", raw.day)));
    }
    if !YEARS.contains(&raw.from) {
        return Err(place.invalid(format!(
            "from = {} is out of range (-9999 to 9999)",
            raw.from
        )));
    }
    if let Some(until) = raw.until
        && until < raw.from
    {
        return Err(place.invalid(format!("until = {until} is before from = {}", raw.from)));
    }
    Ok(FixedHoliday {
        month,
        day: raw.day,
        names: names(place, &raw.name)?,
        from: raw.from,
        until: raw.until,
        moves: raw.moves,
    })
}

/// Whether two fixed holidays share a date in some year.
fn overlaps(a: &FixedHoliday, b: &FixedHoliday) -> bool {
    let end = |holiday: &FixedHoliday| holiday.until.unwrap_or(i32::MAX);
    a.month == b.month && a.day == b.day && a.from <= end(b) && b.from <= end(a)
}

/// Checks a `[[transfers]]` entry against the holidays and the weekend rule.
fn transfer(place: Place, raw: &RawTransfer, rules: &Calendar) -> Result<Transfer, Error> {
    let day_off = local_date(place, "day_off", &raw.day_off)?;
    let working_day = local_date(place, "working_day", &raw.working_day)?;
    if raw.decree.trim().is_empty() {
        return Err(place.invalid("decree is empty: name the act, its number and date"));
    }
    if day_off == working_day {
        return Err(place.invalid(format!(
            "day_off and working_day are the same day, {day_off}"
        )));
    }
    if (day_off - working_day).whole_days().abs() > 366 {
        return Err(place.invalid(format!(
            "day_off {day_off} and working_day {working_day} are more than a year apart"
        )));
    }
    match rules.day_off_reason(working_day) {
        Some(DayOff::Weekend(_) | DayOff::Moved { .. }) => {}
        Some(DayOff::Holiday(holiday)) => {
            return Err(place.invalid(format!(
                "working_day {working_day} is a holiday ({}), which a transfer cannot make a \
                 working day",
                holiday.name_ru
            )));
        }
        // Not produced by a calendar without transfers.
        Some(DayOff::Transfer { .. }) | None => {
            return Err(Error::WorkingDayNotOff {
                index: place.index,
                line: place.line,
                working_day,
                weekday: working_day.weekday(),
            });
        }
    }
    if let Some(reason) = rules.day_off_reason(day_off) {
        let why = match reason {
            DayOff::Weekend(weekday) => format!("a {weekday}"),
            DayOff::Holiday(holiday) => format!("a holiday ({})", holiday.name_ru),
            DayOff::Moved { holiday } => {
                format!(
                    "the day off moved from {} ({})",
                    holiday.date, holiday.name_ru
                )
            }
            DayOff::Transfer { .. } => "already a day off".to_owned(),
        };
        return Err(place.invalid(format!(
            "day_off {day_off} is {why}, not a working day that could become a day off"
        )));
    }
    Ok(Transfer {
        day_off,
        working_day,
        decree: raw.decree.trim().to_owned(),
    })
}

/// Checks a name pair.
fn names(place: Place, raw: &RawNames) -> Result<Names, Error> {
    for (key, value) in [("ru", &raw.ru), ("kk", &raw.kk)] {
        if value.trim().is_empty() {
            return Err(place.invalid(format!("name.{key} is empty")));
        }
    }
    Ok(Names {
        ru: raw.ru.trim().to_owned(),
        kk: raw.kk.trim().to_owned(),
    })
}

/// A TOML local date (`2024-06-16`) as a [`Date`].
fn local_date(place: Place, key: &str, value: &Datetime) -> Result<Date, Error> {
    let (Some(date), None, None) = (value.date, value.time, value.offset) else {
        return Err(place.invalid(format!(
            "{key} = {value} must be a plain date like 2024-06-16, without a time or offset"
        )));
    };
    let month = Month::try_from(date.month)
        .map_err(|_| place.invalid(format!("{key} = {value} has no such month")))?;
    Date::from_calendar_date(i32::from(date.year), month, date.day)
        .map_err(|_| place.invalid(format!("{key} = {value} is not a date")))
}

/// The line (from 1) of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_counted_from_one() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a", 99), 1);
    }

    #[test]
    fn empty_data_is_an_empty_calendar() {
        let calendar = parse("").unwrap_or_else(|error| panic!("{error}"));
        assert!(calendar.holidays(2024).is_empty());
    }

    #[test]
    fn datetimes_with_a_time_are_rejected() {
        let error =
            parse("[[movable]]\ndate = 2024-06-16T10:00:00\nname = { ru = \"a\", kk = \"b\" }\n")
                .err()
                .map(|error| error.to_string());
        let message = error.unwrap_or_default();
        assert!(message.contains("line 1"), "{message}");
        assert!(message.contains("without a time"), "{message}");
    }

    #[test]
    fn feb_29_is_accepted_and_skipped_in_common_years() {
        let calendar = parse(
            "[[holidays]]\nmonth = 2\nday = 29\nname = { ru = \"a\", kk = \"b\" }\nfrom = 2000\nmoves = false\n",
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(calendar.holidays(2024).len(), 1);
        assert!(calendar.holidays(2023).is_empty());
    }
}
