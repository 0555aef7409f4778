//! Tests against real facts of Kazakhstan's calendar. The sources of each fact are noted
//! in `data/kz.toml`.

use egov_calendar::{Calendar, DayOff, Deadline, Error, LOCAL_OFFSET, ParseDeadlineError};
use time::macros::{date, datetime, offset};
use time::{Date, Duration, Weekday};

fn kz() -> &'static Calendar {
    Calendar::kazakhstan()
}

fn off(date: Date) -> bool {
    !kz().is_working_day(date)
}

/// The date of the holiday a moved day off comes from, if `date` is one.
fn moved_from(date: Date) -> Option<Date> {
    match kz().day_off_reason(date) {
        Some(DayOff::Moved { holiday }) => Some(holiday.date),
        _ => None,
    }
}

fn holiday_name(date: Date) -> Option<String> {
    match kz().day_off_reason(date) {
        Some(DayOff::Holiday(holiday)) => Some(holiday.name_ru),
        _ => None,
    }
}

// --- the embedded data -------------------------------------------------------------

#[test]
fn embedded_data_parses() {
    let text = include_str!("../data/kz.toml");
    let parsed = Calendar::from_toml(text);
    assert!(
        parsed.is_ok(),
        "{}",
        parsed.err().map(|e| e.to_string()).unwrap_or_default()
    );
    // Parsed once: the same calendar every time.
    assert!(std::ptr::eq(Calendar::kazakhstan(), Calendar::kazakhstan()));
}

#[test]
fn weekends_and_ordinary_days() {
    assert_eq!(
        kz().day_off_reason(date!(2024 - 02 - 10)),
        Some(DayOff::Weekend(Weekday::Saturday))
    );
    assert_eq!(
        kz().day_off_reason(date!(2024 - 02 - 11)),
        Some(DayOff::Weekend(Weekday::Sunday))
    );
    assert_eq!(kz().day_off_reason(date!(2024 - 02 - 12)), None);
    assert!(kz().is_working_day(date!(2024 - 02 - 12)));
}

#[test]
fn holidays_have_both_names() {
    match kz().day_off_reason(date!(2024 - 03 - 21)) {
        Some(DayOff::Holiday(holiday)) => {
            assert_eq!(holiday.date, date!(2024 - 03 - 21));
            assert_eq!(holiday.name_ru, "Наурыз мейрамы");
            assert_eq!(holiday.name_kk, "Наурыз мейрамы");
        }
        other => panic!("{other:?}"),
    }
    match kz().day_off_reason(date!(2024 - 12 - 16)) {
        Some(DayOff::Holiday(holiday)) => {
            assert_eq!(holiday.name_ru, "День Независимости");
            assert_eq!(holiday.name_kk, "Тәуелсіздік күні");
        }
        other => panic!("{other:?}"),
    }
}

// --- Nauryz and the weekend rule ---------------------------------------------------

#[test]
fn nauryz_2015_on_a_weekend_gives_five_days() {
    // 21 (Saturday), 22 (Sunday), 23 (Monday): the two weekend days move to 24 and 25.
    assert!(kz().is_working_day(date!(2015 - 03 - 20)));
    for day in 21..=25 {
        let date = Date::from_calendar_date(2015, time::Month::March, day).unwrap();
        assert!(off(date), "{date}");
    }
    assert!(kz().is_working_day(date!(2015 - 03 - 26)));
    assert_eq!(
        moved_from(date!(2015 - 03 - 24)),
        Some(date!(2015 - 03 - 21))
    );
    assert_eq!(
        moved_from(date!(2015 - 03 - 25)),
        Some(date!(2015 - 03 - 22))
    );
}

#[test]
fn nauryz_week_2017_with_a_transfer() {
    // Tuesday to Thursday, plus Monday 20 March for Saturday 18 March.
    assert!(kz().is_working_day(date!(2017 - 03 - 18)));
    for date in [
        date!(2017 - 03 - 19),
        date!(2017 - 03 - 20),
        date!(2017 - 03 - 21),
        date!(2017 - 03 - 22),
        date!(2017 - 03 - 23),
    ] {
        assert!(off(date), "{date}");
    }
    assert!(kz().is_working_day(date!(2017 - 03 - 24)));
}

#[test]
fn nauryz_2021_starts_on_sunday() {
    assert_eq!(
        moved_from(date!(2021 - 03 - 24)),
        Some(date!(2021 - 03 - 21))
    );
    assert!(kz().is_working_day(date!(2021 - 03 - 25)));
}

#[test]
fn holiday_on_sunday_moves_to_monday() {
    assert_eq!(
        moved_from(date!(2020 - 03 - 09)),
        Some(date!(2020 - 03 - 08))
    );
    assert_eq!(
        moved_from(date!(2023 - 05 - 08)),
        Some(date!(2023 - 05 - 07))
    );
    assert_eq!(
        moved_from(date!(2019 - 12 - 02)),
        Some(date!(2019 - 12 - 01))
    );
    assert_eq!(
        moved_from(date!(2025 - 07 - 07)),
        Some(date!(2025 - 07 - 06))
    );
    assert_eq!(
        moved_from(date!(2026 - 10 - 26)),
        Some(date!(2026 - 10 - 25))
    );
}

#[test]
fn holiday_on_saturday_moves_to_monday() {
    assert_eq!(
        moved_from(date!(2024 - 07 - 08)),
        Some(date!(2024 - 07 - 06))
    );
    assert_eq!(
        moved_from(date!(2025 - 09 - 01)),
        Some(date!(2025 - 08 - 30))
    );
    assert_eq!(
        moved_from(date!(2023 - 12 - 18)),
        Some(date!(2023 - 12 - 16))
    );
}

#[test]
fn moved_days_skip_the_holidays_after_them() {
    // New Year 2012: Sunday 1 January -> Tuesday 3 January (Monday 2 is a holiday).
    assert_eq!(
        moved_from(date!(2012 - 01 - 03)),
        Some(date!(2012 - 01 - 01))
    );
    // 7 May 2016, Saturday -> Tuesday 10 May (Monday 9 May is Victory Day).
    assert_eq!(
        moved_from(date!(2016 - 05 - 10)),
        Some(date!(2016 - 05 - 07))
    );
    assert!(kz().is_working_day(date!(2016 - 05 - 11)));
    // 16 December 2018, Sunday -> Tuesday 18 December (17 December was a holiday).
    assert_eq!(
        moved_from(date!(2018 - 12 - 18)),
        Some(date!(2018 - 12 - 16))
    );
    assert!(kz().is_working_day(date!(2018 - 12 - 19)));
}

#[test]
fn religious_days_off_are_not_moved() {
    // Orthodox Christmas on Saturday 7 January 2012 and 2017: the Monday works.
    assert_eq!(
        holiday_name(date!(2012 - 01 - 07)).as_deref(),
        Some("Православное Рождество")
    );
    assert!(kz().is_working_day(date!(2012 - 01 - 09)));
    assert!(kz().is_working_day(date!(2017 - 01 - 09)));
    // Christmas on a weekday is a day off.
    assert!(off(date!(2025 - 01 - 07)));
    assert!(off(date!(2026 - 01 - 07)));
}

// --- Kurban ait -----------------------------------------------------------------------

#[test]
fn kurban_ait_by_year() {
    for date in [
        date!(2012 - 10 - 26),
        date!(2013 - 10 - 15),
        date!(2015 - 09 - 24),
        date!(2016 - 09 - 12),
        date!(2017 - 09 - 01),
        date!(2018 - 08 - 21),
        date!(2020 - 07 - 31),
        date!(2021 - 07 - 20),
        date!(2023 - 06 - 28),
        date!(2025 - 06 - 06),
        date!(2026 - 05 - 27),
    ] {
        assert_eq!(holiday_name(date).as_deref(), Some("Курбан айт"), "{date}");
        assert!(off(date), "{date}");
    }
}

#[test]
fn kurban_ait_of_coming_years_is_provisional() {
    assert!(kz().is_provisional(date!(2026 - 05 - 27)));
    assert!(kz().is_provisional(date!(2027 - 05 - 16)));
    assert!(!kz().is_provisional(date!(2025 - 06 - 06)));
    assert!(!kz().is_provisional(date!(2026 - 05 - 28)));
}

#[test]
fn kurban_ait_on_a_weekend_is_not_moved() {
    // 4 October 2014 (Saturday), 11 August 2019 (Sunday), 9 July 2022 (Saturday),
    // 16 June 2024 (Sunday): the following Monday is a working day.
    for (kurban, monday) in [
        (date!(2014 - 10 - 04), date!(2014 - 10 - 06)),
        (date!(2019 - 08 - 11), date!(2019 - 08 - 12)),
        (date!(2022 - 07 - 09), date!(2022 - 07 - 11)),
        (date!(2024 - 06 - 16), date!(2024 - 06 - 17)),
    ] {
        assert_eq!(
            holiday_name(kurban).as_deref(),
            Some("Курбан айт"),
            "{kurban}"
        );
        assert!(kz().is_working_day(monday), "{monday}");
    }
}

// --- Holidays added and dropped ------------------------------------------------------

#[test]
fn first_president_day_until_2021() {
    assert!(off(date!(2020 - 12 - 01)));
    assert!(off(date!(2021 - 12 - 01)));
    assert!(kz().is_working_day(date!(2022 - 12 - 01)));
    assert!(kz().is_working_day(date!(2023 - 12 - 01)));
    // 1 December 2012 (Saturday) was the first one: Monday 3 December off.
    assert_eq!(
        moved_from(date!(2012 - 12 - 03)),
        Some(date!(2012 - 12 - 01))
    );
}

#[test]
fn second_day_of_independence_until_2021() {
    assert!(off(date!(2021 - 12 - 17)));
    assert!(off(date!(2022 - 12 - 16)));
    // 17 December 2022 was a Saturday and no longer a holiday: Monday 19 worked.
    assert_eq!(
        kz().day_off_reason(date!(2022 - 12 - 17)),
        Some(DayOff::Weekend(Weekday::Saturday))
    );
    assert!(kz().is_working_day(date!(2022 - 12 - 19)));
    // In 2016 the same Saturday was a holiday, moved to Monday 19 December.
    assert_eq!(
        moved_from(date!(2016 - 12 - 19)),
        Some(date!(2016 - 12 - 17))
    );
    // December 2022 had 21 working days.
    assert_eq!(
        kz().working_days_between(date!(2022 - 11 - 30), date!(2022 - 12 - 31)),
        21
    );
}

#[test]
fn republic_day_from_2022() {
    assert!(kz().is_working_day(date!(2021 - 10 - 25)));
    assert_eq!(
        holiday_name(date!(2022 - 10 - 25)).as_deref(),
        Some("День Республики")
    );
    assert!(off(date!(2023 - 10 - 25)));
    assert!(off(date!(2024 - 10 - 25)));
    assert_eq!(
        moved_from(date!(2025 - 10 - 27)),
        Some(date!(2025 - 10 - 25))
    );
}

#[test]
fn defender_day_from_2013() {
    assert!(kz().is_working_day(date!(2012 - 05 - 07)));
    assert!(off(date!(2013 - 05 - 07)));
}

#[test]
fn constitution_day_moves_to_15_march_with_the_2026_constitution() {
    assert!(off(date!(2024 - 08 - 30)));
    // 30 August 2026 is a Sunday: no longer a holiday, so Monday 31 August works.
    assert!(kz().is_working_day(date!(2026 - 08 - 31)));
    assert_eq!(
        holiday_name(date!(2027 - 03 - 15)).as_deref(),
        Some("День Конституции Республики Казахстан")
    );
    assert!(kz().is_working_day(date!(2027 - 08 - 30)));
}

// --- Transfers ------------------------------------------------------------------------

#[test]
fn transfer_2018_makes_a_saturday_work() {
    // Saturday 28 April 2018 worked, Monday 30 April was a day off.
    assert!(kz().is_working_day(date!(2018 - 04 - 28)));
    match kz().day_off_reason(date!(2018 - 04 - 30)) {
        Some(DayOff::Transfer {
            working_day,
            decree,
        }) => {
            assert_eq!(working_day, date!(2018 - 04 - 28));
            assert!(decree.contains("864"), "{decree}");
        }
        other => panic!("{other:?}"),
    }
    // And 5 May -> 8 May, 25 August -> 31 August.
    assert!(kz().is_working_day(date!(2018 - 05 - 05)));
    assert!(off(date!(2018 - 05 - 08)));
    assert!(kz().is_working_day(date!(2018 - 08 - 25)));
    assert!(off(date!(2018 - 08 - 31)));
}

#[test]
fn transfers_of_recent_years() {
    for (working_day, day_off) in [
        (date!(2021 - 07 - 03), date!(2021 - 07 - 05)),
        (date!(2022 - 03 - 05), date!(2022 - 03 - 07)),
        (date!(2022 - 08 - 27), date!(2022 - 08 - 29)),
        (date!(2022 - 10 - 22), date!(2022 - 10 - 24)),
        (date!(2023 - 07 - 01), date!(2023 - 07 - 07)),
        (date!(2024 - 05 - 04), date!(2024 - 05 - 08)),
        (date!(2025 - 01 - 05), date!(2025 - 01 - 03)),
    ] {
        assert!(kz().is_working_day(working_day), "{working_day}");
        assert_eq!(kz().day_off_reason(working_day), None, "{working_day}");
        assert!(
            matches!(kz().day_off_reason(day_off), Some(DayOff::Transfer { working_day: w, .. }) if w == working_day),
            "{day_off}"
        );
    }
    // No transfer around Capital Day 2024.
    assert!(kz().is_working_day(date!(2024 - 07 - 05)));
    assert_eq!(
        kz().day_off_reason(date!(2024 - 06 - 29)),
        Some(DayOff::Weekend(Weekday::Saturday))
    );
}

#[test]
fn transfer_across_the_new_year() {
    // Saturday 28 December 2013 worked for Friday 3 January 2014.
    assert!(kz().is_working_day(date!(2013 - 12 - 28)));
    assert!(off(date!(2014 - 01 - 03)));
}

#[test]
fn transfer_of_a_moved_day_in_2020() {
    // Victory Day fell on Saturday 9 May 2020; its day off (Monday 11 May) was moved to
    // Friday 8 May, and 11 May worked.
    assert!(off(date!(2020 - 05 - 08)));
    assert!(kz().is_working_day(date!(2020 - 05 - 11)));
    assert!(
        !kz()
            .holidays(2020)
            .iter()
            .any(|h| h.date == date!(2020 - 05 - 11))
    );
}

#[test]
fn holidays_of_2024_are_sorted_and_complete() {
    let list = kz().holidays(2024);
    let dates: Vec<Date> = list.iter().map(|h| h.date).collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted);
    for date in [
        date!(2024 - 01 - 01),
        date!(2024 - 01 - 07),
        date!(2024 - 03 - 25),
        date!(2024 - 05 - 08),
        date!(2024 - 06 - 16),
        date!(2024 - 07 - 08),
        date!(2024 - 10 - 25),
        date!(2024 - 12 - 16),
    ] {
        assert!(dates.contains(&date), "{date}");
    }
    assert!(!dates.contains(&date!(2024 - 06 - 17)));
    assert!(!dates.contains(&date!(2024 - 05 - 04)));
    assert!(
        list.iter()
            .all(|h| h.date.year() == 2024 && !h.name_ru.is_empty() && !h.name_kk.is_empty())
    );
    let moved = list
        .iter()
        .find(|h| h.date == date!(2024 - 07 - 08))
        .map(|h| h.name_ru.as_str());
    assert_eq!(
        moved,
        Some("Выходной день (перенесён с 06.07.2024, День столицы)")
    );
}

#[test]
fn working_days_per_year() {
    let count = |year: i32| {
        let before = Date::from_calendar_date(year - 1, time::Month::December, 31).unwrap();
        let last = Date::from_calendar_date(year, time::Month::December, 31).unwrap();
        kz().working_days_between(before, last)
    };
    // 2026: 246 working days and 119 days off as published before the referendum
    // (qazaly.kz, March 2026), less the 31 August day off of the dropped Constitution Day.
    assert_eq!(count(2026), 247);
    // 2024: 104 weekend days - 1 (4 May) + 14 weekday days off.
    assert_eq!(count(2024), 249);
}

// --- Working-day arithmetic -----------------------------------------------------------

#[test]
fn add_working_days_basics() {
    // Friday 15:00 + 1 = Monday 15:00.
    assert_eq!(
        kz().add_working_days(datetime!(2024-02-09 15:00 +5), 1),
        datetime!(2024-02-12 15:00 +5)
    );
    // Saturday 10:00 + 1 = Monday 10:00.
    assert_eq!(
        kz().add_working_days(datetime!(2024-02-10 10:00 +5), 1),
        datetime!(2024-02-12 10:00 +5)
    );
    // Zero returns the start, even on a holiday.
    let start = datetime!(2024-03-22 09:30 +5);
    assert_eq!(kz().add_working_days(start, 0), start);
    // Five working days = one week when nothing is in the way.
    assert_eq!(
        kz().add_working_days(datetime!(2024-02-05 09:00 +5), 5),
        datetime!(2024-02-12 09:00 +5)
    );
}

#[test]
fn add_working_days_across_the_new_year() {
    let start = datetime!(2025-12-31 15:00 +5);
    // 1-2 January holidays, 3-4 weekend, 7 January Christmas.
    assert_eq!(
        kz().add_working_days(start, 1),
        datetime!(2026-01-05 15:00 +5)
    );
    assert_eq!(
        kz().add_working_days(start, 2),
        datetime!(2026-01-06 15:00 +5)
    );
    assert_eq!(
        kz().add_working_days(start, 3),
        datetime!(2026-01-08 15:00 +5)
    );
    // 2024/2025: 1-3 January off (3 January by transfer), Sunday 5 January works.
    assert_eq!(
        kz().add_working_days(datetime!(2024-12-31 12:00 +5), 1),
        datetime!(2025-01-05 12:00 +5)
    );
}

#[test]
fn add_working_days_across_nauryz() {
    // Friday 20 March 2026: 21-25 March are days off.
    assert_eq!(
        kz().add_working_days(datetime!(2026-03-20 10:00 +5), 1),
        datetime!(2026-03-26 10:00 +5)
    );
    assert_eq!(
        kz().add_working_days(datetime!(2026-03-20 10:00 +5), 2),
        datetime!(2026-03-27 10:00 +5)
    );
    // Wednesday 20 March 2024: Nauryz Thursday-Saturday, moved day Monday 25.
    assert_eq!(
        kz().add_working_days(datetime!(2024-03-20 18:00 +5), 1),
        datetime!(2024-03-26 18:00 +5)
    );
}

#[test]
fn add_working_days_uses_local_time() {
    // 20:00 UTC on Friday 3 May 2024 is 01:00 on Saturday 4 May in Kazakhstan, a working
    // Saturday by transfer; the next working day is Monday 6 May, 01:00 local.
    let start = datetime!(2024-05-03 20:00 UTC);
    let due = kz().add_working_days(start, 1);
    assert_eq!(due, datetime!(2024-05-05 20:00 UTC));
    assert_eq!(due.offset(), start.offset());
    assert_eq!(due.to_offset(LOCAL_OFFSET), datetime!(2024-05-06 01:00 +5));
    // Same instant, given in Moscow time: the same result, in Moscow time.
    let moscow = start.to_offset(offset!(+3));
    assert_eq!(kz().add_working_days(moscow, 1), due);
    assert_eq!(kz().add_working_days(moscow, 1).offset(), offset!(+3));
}

#[test]
fn working_days_between_is_half_open() {
    assert_eq!(
        kz().working_days_between(date!(2026 - 03 - 20), date!(2026 - 03 - 27)),
        2
    );
    assert_eq!(
        kz().working_days_between(date!(2026 - 03 - 20), date!(2026 - 03 - 20)),
        0
    );
    assert_eq!(
        kz().working_days_between(date!(2026 - 03 - 27), date!(2026 - 03 - 20)),
        0
    );
    // (Friday, Monday] = Monday only.
    assert_eq!(
        kz().working_days_between(date!(2024 - 02 - 09), date!(2024 - 02 - 12)),
        1
    );
}

#[test]
fn add_and_between_agree() {
    let mut start = datetime!(2019-12-25 11:00 +5);
    for n in [1, 3, 10, 40] {
        let due = kz().add_working_days(start, n);
        assert_eq!(
            kz().working_days_between(start.date(), due.date()),
            n,
            "{start} + {n}"
        );
        assert!(kz().is_working_day(due.date()));
        start += Duration::days(17);
    }
}

// --- Deadlines ------------------------------------------------------------------------

fn parse(text: &str) -> Result<Deadline, ParseDeadlineError> {
    text.parse()
}

#[test]
fn deadline_units() {
    assert_eq!(parse("30 seconds"), Ok(Deadline::Seconds(30)));
    assert_eq!(parse("1 second"), Ok(Deadline::Seconds(1)));
    assert_eq!(parse("20 minutes"), Ok(Deadline::Minutes(20)));
    assert_eq!(parse("1 minute"), Ok(Deadline::Minutes(1)));
    assert_eq!(parse("2 hours"), Ok(Deadline::Hours(2)));
    assert_eq!(parse("1 hour"), Ok(Deadline::Hours(1)));
    assert_eq!(parse("1 working day"), Ok(Deadline::WorkingDays(1)));
    assert_eq!(parse("5 working days"), Ok(Deadline::WorkingDays(5)));
    assert_eq!(parse("28 calendar days"), Ok(Deadline::CalendarDays(28)));
    assert_eq!(parse("3 calendar day"), Ok(Deadline::CalendarDays(3)));
    assert_eq!(parse("0 minutes"), Ok(Deadline::Minutes(0)));
}

#[test]
fn deadline_case_and_spaces() {
    assert_eq!(parse("20 MINUTES"), Ok(Deadline::Minutes(20)));
    assert_eq!(
        parse("  1   Working    Day  "),
        Ok(Deadline::WorkingDays(1))
    );
    assert_eq!(
        parse("\t30\tCalendar Days\n"),
        Ok(Deadline::CalendarDays(30))
    );
}

#[test]
fn deadline_errors_say_what_is_wrong() {
    let message = |text: &str| parse(text).err().map(|e| e.to_string()).unwrap_or_default();

    assert_eq!(parse(""), Err(ParseDeadlineError::Empty));
    assert_eq!(parse("   "), Err(ParseDeadlineError::Empty));
    assert!(message("").contains("empty deadline"));
    assert!(message("").contains("working days"));

    assert_eq!(
        parse("5"),
        Err(ParseDeadlineError::MissingUnit { input: "5".into() })
    );
    assert!(message("5").contains("has no unit"), "{}", message("5"));
    assert!(message("5").contains("calendar days"));

    assert!(matches!(
        parse("five minutes"),
        Err(ParseDeadlineError::NotANumber { .. })
    ));
    assert!(
        message("five minutes").contains("\"five\" is not a number"),
        "{}",
        message("five minutes")
    );

    assert_eq!(
        parse("3 weeks"),
        Err(ParseDeadlineError::UnknownUnit {
            input: "3 weeks".into(),
            unit: "weeks".into()
        })
    );
    let weeks = message("3 weeks");
    assert!(weeks.contains("unknown unit \"weeks\""), "{weeks}");
    for unit in [
        "seconds",
        "minutes",
        "hours",
        "working days",
        "calendar days",
    ] {
        assert!(weeks.contains(unit), "{weeks}");
    }

    assert!(matches!(
        parse("-1 minutes"),
        Err(ParseDeadlineError::Negative { .. })
    ));
    assert!(
        message("-1 minutes").contains("-1 is negative"),
        "{}",
        message("-1 minutes")
    );

    assert!(matches!(
        parse("99999999999 minutes"),
        Err(ParseDeadlineError::TooLarge { .. })
    ));
    assert!(message("99999999999 minutes").contains("too large"));

    assert!(
        message("5minutes").contains("put a space"),
        "{}",
        message("5minutes")
    );
    assert!(
        message("10 days").contains("\"working days\" or \"calendar days\""),
        "{}",
        message("10 days")
    );
    assert!(matches!(
        parse("1.5 hours"),
        Err(ParseDeadlineError::NotANumber { .. })
    ));
    assert!(matches!(
        parse("2 working"),
        Err(ParseDeadlineError::UnknownUnit { .. })
    ));
}

#[test]
fn deadline_display_round_trips() {
    for deadline in [
        Deadline::Seconds(30),
        Deadline::Seconds(1),
        Deadline::Minutes(1),
        Deadline::Minutes(20),
        Deadline::Hours(2),
        Deadline::Hours(1),
        Deadline::WorkingDays(1),
        Deadline::WorkingDays(10),
        Deadline::CalendarDays(28),
        Deadline::CalendarDays(1),
        Deadline::Minutes(0),
        Deadline::Seconds(u32::MAX),
    ] {
        let text = deadline.to_string();
        assert_eq!(parse(&text), Ok(deadline), "{text}");
    }
    assert_eq!(Deadline::Minutes(1).to_string(), "1 minute");
    assert_eq!(Deadline::WorkingDays(1).to_string(), "1 working day");
    assert_eq!(Deadline::CalendarDays(28).to_string(), "28 calendar days");
}

#[test]
fn deadline_due() {
    let start = datetime!(2024-03-20 17:30 +5);
    assert_eq!(
        Deadline::Seconds(45).due(kz(), start),
        datetime!(2024-03-20 17:30:45 +5)
    );
    assert_eq!(
        Deadline::Minutes(20).due(kz(), start),
        datetime!(2024-03-20 17:50 +5)
    );
    // Hours run through holidays and nights.
    assert_eq!(
        Deadline::Hours(24).due(kz(), start),
        datetime!(2024-03-21 17:30 +5)
    );
    assert_eq!(
        Deadline::CalendarDays(3).due(kz(), start),
        datetime!(2024-03-23 17:30 +5)
    );
    assert_eq!(
        Deadline::WorkingDays(1).due(kz(), start),
        datetime!(2024-03-26 17:30 +5)
    );
    // In the start's offset.
    let utc = start.to_offset(time::UtcOffset::UTC);
    assert_eq!(
        Deadline::WorkingDays(1).due(kz(), utc),
        datetime!(2024-03-26 12:30 UTC)
    );
}

#[test]
fn deadline_approx_duration() {
    assert_eq!(
        Deadline::Seconds(30).approx_duration(),
        Duration::seconds(30)
    );
    assert_eq!(
        Deadline::Minutes(20).approx_duration(),
        Duration::minutes(20)
    );
    assert_eq!(Deadline::Hours(2).approx_duration(), Duration::hours(2));
    assert_eq!(
        Deadline::WorkingDays(3).approx_duration(),
        Duration::days(3)
    );
    assert_eq!(
        Deadline::CalendarDays(28).approx_duration(),
        Duration::days(28)
    );
    assert!(Deadline::Hours(30).approx_duration() > Deadline::WorkingDays(1).approx_duration());
}

// --- Broken data ----------------------------------------------------------------------

fn load_error(text: &str) -> Error {
    match Calendar::from_toml(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(error) => error,
    }
}

const NEW_YEAR: &str = r#"[[holidays]]
month = 1
day = 1
name = { ru = "Новый год", kk = "Жаңа жыл" }
from = 2012
moves = true
"#;

#[test]
fn rejects_unknown_keys() {
    let error = load_error(&format!("{NEW_YEAR}colour = \"red\"\n"));
    let message = error.to_string();
    assert!(matches!(error, Error::Parse(_)));
    assert!(message.contains("unknown field `colour`"), "{message}");
    assert!(message.contains("line 7"), "{message}");

    let message = load_error("[[holiday]]\nmonth = 1\n").to_string();
    assert!(message.contains("unknown field `holiday`"), "{message}");
}

#[test]
fn rejects_missing_keys() {
    let message = load_error(
        "[[holidays]]\nmonth = 1\nday = 1\nname = { ru = \"a\", kk = \"b\" }\nfrom = 2012\n",
    )
    .to_string();
    assert!(message.contains("missing field `moves`"), "{message}");
    let message =
        load_error("[[movable]]\ndate = 2024-06-16\nname = { ru = \"Курбан айт\" }\n").to_string();
    assert!(message.contains("missing field `kk`"), "{message}");
}

#[test]
fn rejects_bad_dates() {
    let message = load_error("[[movable]]\ndate = 2024-02-30\nname = { ru = \"a\", kk = \"b\" }\n")
        .to_string();
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("out of range"), "{message}");

    let message =
        load_error("[[movable]]\ndate = \"2024-06-16\"\nname = { ru = \"a\", kk = \"b\" }\n")
            .to_string();
    assert!(message.contains("expected a TOML datetime"), "{message}");

    let message = load_error(&NEW_YEAR.replace("day = 1", "day = 32")).to_string();
    assert!(
        message.contains("line 1: [[holidays]] entry 1: day = 32 does not exist in January"),
        "{message}"
    );

    let message = load_error(&NEW_YEAR.replace("month = 1", "month = 13")).to_string();
    assert!(message.contains("month = 13 is not a month"), "{message}");

    let message =
        load_error(&NEW_YEAR.replace("moves = true", "moves = true\nuntil = 2011")).to_string();
    assert!(
        message.contains("until = 2011 is before from = 2012"),
        "{message}"
    );
}

#[test]
fn rejects_empty_names_and_decrees() {
    let message = load_error(&NEW_YEAR.replace("kk = \"Жаңа жыл\"", "kk = \" \"")).to_string();
    assert!(message.contains("name.kk is empty"), "{message}");

    let message = load_error(
        "[[transfers]]\nday_off = 2024-05-08\nworking_day = 2024-05-04\ndecree = \"\"\n",
    )
    .to_string();
    assert!(message.contains("decree is empty"), "{message}");
}

#[test]
fn rejects_a_working_day_that_is_not_a_day_off() {
    let text = format!(
        "{NEW_YEAR}\n[[transfers]]\nday_off = 2024-05-06\nworking_day = 2024-05-08\ndecree = \"test\"\n"
    );
    let error = load_error(&text);
    assert!(
        matches!(error, Error::WorkingDayNotOff { index: 1, line: 8, working_day, weekday: Weekday::Wednesday } if working_day == date!(2024-05-08)),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("line 8"), "{message}");
    assert!(
        message.contains("working_day 2024-05-08 is a Wednesday"),
        "{message}"
    );
    assert!(message.contains("not a Saturday or Sunday"), "{message}");
}

#[test]
fn rejects_transfers_that_do_not_swap_a_day_off_for_a_working_day() {
    // The "working day" is a holiday.
    let message = load_error(&format!(
        "{NEW_YEAR}[[transfers]]\nday_off = 2022-01-03\nworking_day = 2022-01-01\ndecree = \"x\"\n"
    ))
    .to_string();
    assert!(message.contains("is a holiday (Новый год)"), "{message}");
    // The "day off" is a Sunday already.
    let message = load_error(
        "[[transfers]]\nday_off = 2024-05-05\nworking_day = 2024-05-04\ndecree = \"x\"\n",
    )
    .to_string();
    assert!(
        message.contains("day_off 2024-05-05 is a Sunday"),
        "{message}"
    );
    // The same day twice.
    let message = load_error(
        "[[transfers]]\nday_off = 2024-05-04\nworking_day = 2024-05-04\ndecree = \"x\"\n",
    )
    .to_string();
    assert!(message.contains("the same day"), "{message}");
}

#[test]
fn a_moved_day_off_can_become_a_working_day() {
    // As in 2020: Victory Day on Saturday 9 May, its Monday exchanged for Friday 8 May.
    let text = "[[holidays]]\nmonth = 5\nday = 9\nname = { ru = \"День Победы\", kk = \"Жеңіс күні\" }\nfrom = 2000\nmoves = true\n\n[[transfers]]\nday_off = 2020-05-08\nworking_day = 2020-05-11\ndecree = \"x\"\n";
    let calendar = Calendar::from_toml(text).unwrap_or_else(|e| panic!("{e}"));
    assert!(calendar.is_working_day(date!(2020 - 05 - 11)));
    assert!(!calendar.is_working_day(date!(2020 - 05 - 08)));
}

#[test]
fn rejects_duplicates() {
    // The same holiday twice in overlapping years.
    let text = format!(
        "{NEW_YEAR}\n{}",
        NEW_YEAR.replace("from = 2012", "from = 2020")
    );
    let error = load_error(&text);
    let message = error.to_string();
    assert!(
        matches!(
            error,
            Error::Duplicate {
                table: "holidays",
                index: 2,
                line: 8,
                other_index: 1,
                other_line: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(message.contains("duplicates entry 1 (line 1)"), "{message}");
    // Consecutive ranges are fine.
    let ok = format!(
        "{}\n{}",
        NEW_YEAR.replace("moves = true", "moves = true\nuntil = 2019"),
        NEW_YEAR.replace("from = 2012", "from = 2020")
    );
    assert!(Calendar::from_toml(&ok).is_ok());

    // The same movable date twice.
    let movable = "[[movable]]\ndate = 2024-06-16\nname = { ru = \"a\", kk = \"b\" }\n";
    let message = load_error(&format!("{movable}{movable}")).to_string();
    assert!(
        message.contains("line 4: [[movable]] entry 2 duplicates entry 1"),
        "{message}"
    );
    assert!(message.contains("both are on 2024-06-16"), "{message}");

    // Two transfers sharing a date.
    let message = load_error(
        "[[transfers]]\nday_off = 2024-05-08\nworking_day = 2024-05-04\ndecree = \"x\"\n\
         [[transfers]]\nday_off = 2024-05-10\nworking_day = 2024-05-04\ndecree = \"y\"\n",
    )
    .to_string();
    assert!(
        message.contains("[[transfers]] entry 2 duplicates entry 1"),
        "{message}"
    );
    assert!(
        message.contains("2024-05-04 is the working_day here and the working_day there"),
        "{message}"
    );
}

#[test]
fn rejects_broken_toml() {
    let message = load_error("[[holidays]\nmonth = 1\n").to_string();
    assert!(message.contains("line 1"), "{message}");
}

#[test]
fn deadline_months() {
    assert_eq!(parse("1 month"), Ok(Deadline::Months(1)));
    assert_eq!(parse("3 Months"), Ok(Deadline::Months(3)));
    assert_eq!(Deadline::Months(1).to_string(), "1 month");
    assert_eq!(Deadline::Months(2).to_string(), "2 months");
    // the same day of the month, at the same time
    assert_eq!(
        Deadline::Months(1).due(kz(), datetime!(2026-03-20 10:00 +5)),
        datetime!(2026-04-20 10:00 +5)
    );
    // the month's last day where it is shorter; across a year
    assert_eq!(
        Deadline::Months(1).due(kz(), datetime!(2027-01-31 10:00 +5)),
        datetime!(2027-02-28 10:00 +5)
    );
    assert_eq!(
        Deadline::Months(13).due(kz(), datetime!(2027-12-31 10:00 +5)),
        datetime!(2029-01-31 10:00 +5)
    );
    // never longer than the real span in sums
    assert_eq!(Deadline::Months(1).approx_duration(), Duration::days(28));
}
