//! The calendar: which days are working days, and working-day arithmetic.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Weekday};

use crate::LOCAL_OFFSET;

/// The embedded data, `data/kz.toml`.
const KZ_TOML: &str = include_str!("../data/kz.toml");

/// The embedded calendar, parsed on first use.
static KAZAKHSTAN: LazyLock<Calendar> = LazyLock::new(|| match Calendar::from_toml(KZ_TOML) {
    Ok(calendar) => calendar,
    Err(error) => panic!("the embedded data/kz.toml is broken: {error}"),
});

/// A day off that is not simply a Saturday or Sunday: a holiday, a day off moved from a
/// holiday on a weekend, or a day off made by a transfer act.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Holiday {
    /// The date of the day off.
    pub date: Date,
    /// Its name in Russian.
    pub name_ru: String,
    /// Its name in Kazakh.
    pub name_kk: String,
}

/// Why a date is not a working day; see [`Calendar::day_off_reason`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayOff {
    /// A Saturday or Sunday.
    Weekend(Weekday),
    /// A holiday (or religious day off) falls on the date, possibly on a weekend.
    Holiday(Holiday),
    /// The day off of a holiday that fell on a Saturday or Sunday, moved here by the
    /// weekend rule (the next day that is neither a weekend day nor a holiday).
    Moved {
        /// The holiday, with the date on which it fell.
        holiday: Holiday,
    },
    /// A day off made by a transfer act (перенос дня отдыха).
    Transfer {
        /// The Saturday or Sunday (or moved day off) that became a working day in exchange.
        working_day: Date,
        /// The act, with its number and date as far as the data knows them.
        decree: String,
    },
}

/// A name in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    pub(crate) ru: String,
    pub(crate) kk: String,
}

/// A holiday on a fixed date, every year in `from..=until`.
#[derive(Debug, Clone)]
pub(crate) struct FixedHoliday {
    pub(crate) month: Month,
    pub(crate) day: u8,
    pub(crate) names: Names,
    pub(crate) from: i32,
    pub(crate) until: Option<i32>,
    pub(crate) moves: bool,
}

impl FixedHoliday {
    /// Whether the holiday is a day off in `year`.
    pub(crate) fn applies_in(&self, year: i32) -> bool {
        self.from <= year && self.until.is_none_or(|until| year <= until)
    }
}

/// A holiday on a date listed for its year.
#[derive(Debug, Clone)]
pub(crate) struct MovableHoliday {
    pub(crate) names: Names,
    pub(crate) moves: bool,
    /// Announced or estimated, not yet confirmed.
    pub(crate) provisional: bool,
}

/// A transfer of a day off.
#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub(crate) day_off: Date,
    pub(crate) working_day: Date,
    pub(crate) decree: String,
}

/// Kazakhstan's working-day calendar.
///
/// Built from calendar data (see `data/kz.toml` for the format and the facts):
/// holidays on fixed dates with the years they apply, holidays on listed dates (Kurban
/// ait), and transfers of days off. Dates are local dates; times are converted to
/// [`LOCAL_OFFSET`] before any date is taken from them.
#[derive(Debug, Clone)]
pub struct Calendar {
    fixed: Vec<FixedHoliday>,
    movable: BTreeMap<Date, MovableHoliday>,
    transfers: Vec<Transfer>,
    /// Index into `transfers` by `day_off`.
    by_day_off: BTreeMap<Date, usize>,
    /// Index into `transfers` by `working_day`.
    by_working_day: BTreeMap<Date, usize>,
}

/// The holidays and moved days off of one year, computed from the rules.
#[derive(Debug)]
struct YearDays {
    year: i32,
    /// Holidays by date (several may share a date).
    holidays: BTreeMap<Date, Vec<Holiday>>,
    /// Moved days off by date, with the holiday each comes from.
    moved: BTreeMap<Date, Holiday>,
}

/// One holiday occurrence, borrowed from the calendar.
struct Occurrence<'a> {
    date: Date,
    names: &'a Names,
    moves: bool,
}

impl Calendar {
    /// Kazakhstan's calendar from the embedded `data/kz.toml`, parsed on first use.
    ///
    /// # Panics
    ///
    /// Only if the embedded file is broken, which the crate's tests rule out.
    pub fn kazakhstan() -> &'static Calendar {
        &KAZAKHSTAN
    }

    /// Parses calendar data in the format of `data/kz.toml` (documented at the top of
    /// that file).
    ///
    /// # Errors
    ///
    /// [`Error`](crate::Error) naming the line and entry of the first problem found: TOML
    /// syntax, an unknown or missing key, a date that does not exist, a duplicate entry,
    /// or a transfer whose `working_day` is not a day off or whose `day_off` is not a
    /// working day.
    pub fn from_toml(text: &str) -> Result<Calendar, crate::Error> {
        crate::data::parse(text)
    }

    /// A calendar with the given holidays and no transfers (used while validating data).
    pub(crate) fn new(fixed: Vec<FixedHoliday>, movable: BTreeMap<Date, MovableHoliday>) -> Self {
        Calendar {
            fixed,
            movable,
            transfers: Vec::new(),
            by_day_off: BTreeMap::new(),
            by_working_day: BTreeMap::new(),
        }
    }

    /// Adds a transfer (validated by the caller).
    pub(crate) fn push_transfer(&mut self, transfer: Transfer) {
        let index = self.transfers.len();
        self.by_day_off.insert(transfer.day_off, index);
        self.by_working_day.insert(transfer.working_day, index);
        self.transfers.push(transfer);
    }

    /// Whether `date` is a working day: not a weekend day, holiday, moved day off or
    /// transferred day off, or a weekend day made a working day by a transfer.
    pub fn is_working_day(&self, date: Date) -> bool {
        Days::new(self).is_working(date)
    }

    /// Why `date` is not a working day, or `None` when it is one.
    ///
    /// When several reasons apply, the most specific one is given: a holiday before a
    /// transfer, a transfer before a moved day off, and any of them before
    /// [`DayOff::Weekend`]. A Saturday or Sunday made a working day by a transfer gives
    /// `None`.
    pub fn day_off_reason(&self, date: Date) -> Option<DayOff> {
        Days::new(self).reason(date)
    }

    /// Whether `date` carries a holiday whose date the data marks `provisional`: announced
    /// or estimated but not yet confirmed (Kurban ait of the coming years). Such a date, and
    /// the day next to it, may still change between a day off and a working day when the
    /// data is updated.
    pub fn is_provisional(&self, date: Date) -> bool {
        self.movable
            .get(&date)
            .is_some_and(|holiday| holiday.provisional)
    }

    /// The holidays of `year` and the other days off that are not plain weekends, sorted
    /// by date: the holidays themselves (including those on a Saturday or Sunday), the
    /// days off moved from holidays on a weekend, and the days off made by transfer acts.
    /// The weekend days made working days by transfers are not listed.
    pub fn holidays(&self, year: i32) -> Vec<Holiday> {
        let days = self.year_days(year);
        let mut out: Vec<Holiday> = days.holidays.into_values().flatten().collect();
        for (date, holiday) in days.moved {
            if self.by_working_day.contains_key(&date) {
                continue;
            }
            out.push(Holiday {
                date,
                name_ru: format!(
                    "Выходной день (перенесён с {}, {})",
                    dotted(holiday.date),
                    holiday.name_ru
                ),
                name_kk: format!(
                    "Демалыс күні ({}, {} бастап ауыстырылды)",
                    holiday.name_kk,
                    dotted(holiday.date)
                ),
            });
        }
        for transfer in &self.transfers {
            if transfer.day_off.year() == year {
                out.push(Holiday {
                    date: transfer.day_off,
                    name_ru: format!("День отдыха (перенесён с {})", dotted(transfer.working_day)),
                    name_kk: format!(
                        "Демалыс күні ({} бастап ауыстырылды)",
                        dotted(transfer.working_day)
                    ),
                });
            }
        }
        out.sort_by_key(|holiday| holiday.date);
        out
    }

    /// The time `n` working days after `start`.
    ///
    /// Works in local time ([`LOCAL_OFFSET`]): steps day by day from `start`'s local date,
    /// counting only working days, until `n` have been counted; the result is that day at
    /// `start`'s local time of day, in `start`'s offset. So Friday 15:00 plus one working
    /// day is Monday 15:00 when Monday is a working day, Saturday 10:00 plus one is Monday
    /// 10:00, and `n = 0` returns `start` unchanged (even on a day off). Saturates at the
    /// end of the range of [`time::Date`].
    pub fn add_working_days(&self, start: OffsetDateTime, n: u32) -> OffsetDateTime {
        if n == 0 {
            return start;
        }
        let local = start.checked_to_offset(LOCAL_OFFSET).unwrap_or(start);
        let mut days = Days::new(self);
        let mut date = local.date();
        let mut counted = 0;
        while counted < n {
            match date.next_day() {
                Some(next) => date = next,
                None => break,
            }
            if days.is_working(date) {
                counted += 1;
            }
        }
        let due = PrimitiveDateTime::new(date, local.time()).assume_offset(LOCAL_OFFSET);
        due.checked_to_offset(start.offset()).unwrap_or(due)
    }

    /// The number of working days in `(from, to]`: after `from`, up to and including `to`.
    /// Zero when `to` is not after `from`.
    pub fn working_days_between(&self, from: Date, to: Date) -> u32 {
        let mut days = Days::new(self);
        let mut count: u32 = 0;
        let mut date = from;
        while date < to {
            match date.next_day() {
                Some(next) => date = next,
                None => break,
            }
            if days.is_working(date) {
                count = count.saturating_add(1);
            }
        }
        count
    }

    /// The holiday occurrences of `year`, in no particular order.
    fn occurrences(&self, year: i32) -> Vec<Occurrence<'_>> {
        let mut out = Vec::new();
        for holiday in &self.fixed {
            if !holiday.applies_in(year) {
                continue;
            }
            // Skips 29 February in common years, and years outside `Date`'s range.
            if let Ok(date) = Date::from_calendar_date(year, holiday.month, holiday.day) {
                out.push(Occurrence {
                    date,
                    names: &holiday.names,
                    moves: holiday.moves,
                });
            }
        }
        if let (Ok(first), Ok(last)) = (
            Date::from_calendar_date(year, Month::January, 1),
            Date::from_calendar_date(year, Month::December, 31),
        ) {
            for (date, holiday) in self.movable.range(first..=last) {
                out.push(Occurrence {
                    date: *date,
                    names: &holiday.names,
                    moves: holiday.moves,
                });
            }
        }
        out
    }

    /// The holidays and moved days off of `year`.
    fn year_days(&self, year: i32) -> YearDays {
        let mut holidays: BTreeMap<Date, Vec<Holiday>> = BTreeMap::new();
        for occurrence in self.occurrences(year) {
            holidays
                .entry(occurrence.date)
                .or_default()
                .push(holiday(occurrence.date, occurrence.names));
        }
        YearDays {
            year,
            holidays,
            moved: self.moved_days(year),
        }
    }

    /// The days off of `year` moved from holidays on a weekend.
    ///
    /// A holiday with `moves` on a Saturday or Sunday gives its day off to the next day
    /// that is not a weekend day, not a holiday and not already given to an earlier
    /// holiday. Holidays of the previous year are processed too, since their day off could
    /// land in January, and the next year's holidays are never given away.
    fn moved_days(&self, year: i32) -> BTreeMap<Date, Holiday> {
        let mut taken: BTreeSet<Date> = BTreeSet::new();
        let mut candidates = Vec::new();
        for y in [year.saturating_sub(1), year, year.saturating_add(1)] {
            for occurrence in self.occurrences(y) {
                taken.insert(occurrence.date);
                if y <= year && occurrence.moves && is_weekend(occurrence.date) {
                    candidates.push(occurrence);
                }
            }
        }
        candidates.sort_by_key(|occurrence| occurrence.date);
        let mut moved = BTreeMap::new();
        for occurrence in candidates {
            let mut date = occurrence.date;
            loop {
                match date.next_day() {
                    Some(next) => date = next,
                    None => return moved,
                }
                if !is_weekend(date) && !taken.contains(&date) {
                    break;
                }
            }
            taken.insert(date);
            if date.year() == year {
                moved.insert(date, holiday(occurrence.date, occurrence.names));
            }
        }
        moved
    }
}

/// Answers day-by-day questions, reusing the computed year while dates stay in it.
struct Days<'a> {
    calendar: &'a Calendar,
    year: Option<YearDays>,
}

impl<'a> Days<'a> {
    fn new(calendar: &'a Calendar) -> Self {
        Days {
            calendar,
            year: None,
        }
    }

    fn year(&mut self, year: i32) -> &YearDays {
        if self.year.as_ref().is_none_or(|days| days.year != year) {
            self.year = None;
        }
        let calendar = self.calendar;
        self.year.get_or_insert_with(|| calendar.year_days(year))
    }

    fn is_working(&mut self, date: Date) -> bool {
        if self.calendar.by_working_day.contains_key(&date) {
            return true;
        }
        if self.calendar.by_day_off.contains_key(&date) || is_weekend(date) {
            return false;
        }
        let days = self.year(date.year());
        !days.holidays.contains_key(&date) && !days.moved.contains_key(&date)
    }

    fn reason(&mut self, date: Date) -> Option<DayOff> {
        let calendar = self.calendar;
        if calendar.by_working_day.contains_key(&date) {
            return None;
        }
        let days = self.year(date.year());
        if let Some(holiday) = days.holidays.get(&date).and_then(|list| list.first()) {
            return Some(DayOff::Holiday(holiday.clone()));
        }
        if let Some(&index) = calendar.by_day_off.get(&date) {
            let transfer = &calendar.transfers[index];
            return Some(DayOff::Transfer {
                working_day: transfer.working_day,
                decree: transfer.decree.clone(),
            });
        }
        if let Some(holiday) = days.moved.get(&date) {
            return Some(DayOff::Moved {
                holiday: holiday.clone(),
            });
        }
        if is_weekend(date) {
            return Some(DayOff::Weekend(date.weekday()));
        }
        None
    }
}

fn holiday(date: Date, names: &Names) -> Holiday {
    Holiday {
        date,
        name_ru: names.ru.clone(),
        name_kk: names.kk.clone(),
    }
}

/// Saturday or Sunday.
pub(crate) fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// `dd.mm.yyyy`, as dates are written in Kazakhstan.
fn dotted(date: Date) -> String {
    format!(
        "{:02}.{:02}.{:04}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn calendar(text: &str) -> Calendar {
        match Calendar::from_toml(text) {
            Ok(calendar) => calendar,
            Err(error) => panic!("{error}"),
        }
    }

    const THREE_DAYS: &str = r#"
[[holidays]]
month = 3
day = 21
name = { ru = "Наурыз мейрамы", kk = "Наурыз мейрамы" }
from = 2000
moves = true
[[holidays]]
month = 3
day = 22
name = { ru = "Наурыз мейрамы", kk = "Наурыз мейрамы" }
from = 2000
moves = true
[[holidays]]
month = 3
day = 23
name = { ru = "Наурыз мейрамы", kk = "Наурыз мейрамы" }
from = 2000
moves = true
"#;

    #[test]
    fn moved_days_skip_holidays_and_each_other() {
        let cal = calendar(THREE_DAYS);
        // 2015: Saturday, Sunday, Monday -> Tuesday 24 and Wednesday 25.
        let moved = cal.moved_days(2015);
        assert_eq!(
            moved.keys().copied().collect::<Vec<_>>(),
            [date!(2015 - 03 - 24), date!(2015 - 03 - 25)]
        );
        assert_eq!(moved[&date!(2015 - 03 - 24)].date, date!(2015 - 03 - 21));
        assert_eq!(moved[&date!(2015 - 03 - 25)].date, date!(2015 - 03 - 22));
        // 2021: Sunday 21 -> Wednesday 24.
        assert_eq!(
            cal.moved_days(2021).keys().copied().collect::<Vec<_>>(),
            [date!(2021 - 03 - 24)]
        );
        // 2017: Tuesday to Thursday, nothing moves.
        assert!(cal.moved_days(2017).is_empty());
    }

    #[test]
    fn moved_days_cross_the_new_year() {
        let cal = calendar(
            r#"
[[holidays]]
month = 12
day = 31
name = { ru = "a", kk = "a" }
from = 2000
moves = true
[[holidays]]
month = 1
day = 1
name = { ru = "b", kk = "b" }
from = 2000
moves = true
"#,
        );
        // 31 December 2022 is a Saturday, 1 January 2023 a Sunday: the first goes to
        // Monday 2 January 2023, the second to Tuesday 3 January.
        let moved = cal.moved_days(2023);
        assert_eq!(moved[&date!(2023 - 01 - 02)].date, date!(2022 - 12 - 31));
        assert_eq!(moved[&date!(2023 - 01 - 03)].date, date!(2023 - 01 - 01));
        // 2022 keeps only its own: Saturday 1 January 2022 -> Monday 3 January.
        assert_eq!(
            cal.moved_days(2022).keys().copied().collect::<Vec<_>>(),
            [date!(2022 - 01 - 03)]
        );
        assert!(!cal.is_working_day(date!(2023 - 01 - 02)));
    }

    #[test]
    fn religious_days_do_not_move_but_block_moves() {
        let cal = calendar(
            r#"
[[holidays]]
month = 6
day = 15
name = { ru = "a", kk = "a" }
from = 2000
moves = true
[[movable]]
date = 2024-06-17
name = { ru = "b", kk = "b" }
[[movable]]
date = 2024-06-22
name = { ru = "c", kk = "c" }
"#,
        );
        // 15 June 2024 is a Saturday; Monday 17 is taken, so Tuesday 18.
        let moved = cal.moved_days(2024);
        assert_eq!(
            moved.keys().copied().collect::<Vec<_>>(),
            [date!(2024 - 06 - 18)]
        );
        // The Saturday movable does not move.
        assert!(cal.is_working_day(date!(2024 - 06 - 24)));
    }

    #[test]
    fn dotted_dates() {
        assert_eq!(dotted(date!(2024 - 05 - 08)), "08.05.2024");
    }

    #[test]
    fn years_at_the_edge_of_the_range_do_not_panic() {
        let cal = calendar(&THREE_DAYS.replace("from = 2000", "from = -9999"));
        // The three holidays, and any days moved from them inside the year.
        assert!(cal.holidays(9999).len() >= 3);
        assert!(cal.holidays(-9999).len() >= 3);
        assert!(cal.holidays(i32::MAX).is_empty());
        assert!(cal.holidays(i32::MIN).is_empty());
        let _ = cal.day_off_reason(Date::MIN);
        let _ = cal.day_off_reason(Date::MAX);
        let end =
            PrimitiveDateTime::new(Date::MAX, time::Time::MIDNIGHT).assume_offset(LOCAL_OFFSET);
        assert_eq!(cal.add_working_days(end, 5).date(), Date::MAX);
    }
}
