//! The working-time calendar (工作日历) that matter deadlines are counted on.
//!
//! Time limits are set in working minutes, hours or days against the national
//! holiday arrangement (with its make-up working days), or, for emergencies, in
//! wall-clock minutes (DOMAIN.md §4). Everything here is pure arithmetic on UTC
//! instants stored as `i64` milliseconds since the Unix epoch, the way the rest
//! of the system stores time.
//!
//! # Time zone
//! Working time is defined in Asia/Shanghai local time. Shanghai has kept a
//! fixed UTC+8 without daylight saving since 1991, so local time is UTC plus a
//! constant [`SHANGHAI_UTC_OFFSET_MS`]; no time-zone database is needed.
//!
//! # Working time
//! A moment is working time when its local date is a working day (see
//! [`Calendar::is_working_day`]) and its local clock time lies in one of the
//! daily [`WorkingPeriod`]s, **both ends included**: with the default hours
//! 08:30 and 12:00 are working moments, 12:00:00.001 is not. Including the
//! ends lets a deadline that uses up a period exactly fall on the period's end
//! (12:00 today) rather than being pushed to the next period (13:30 or, worse,
//! the next morning). The amount of working time between two instants does not
//! depend on this choice, since the ends are single instants.
//!
//! # Holiday data files
//! One plain-text file per year, embedded from `data/calendar/<year>.txt`
//! (2025, 2026 and a provisional 2027). Line format:
//!
//! ```text
//! # a comment; text after '#' is ignored on any line, blank lines too
//! year 2026
//! 2026-10-01 holiday 国庆节
//! 2026-10-10 workday 国庆节调休
//! ```
//!
//! - `year YYYY` must come once, before any date line; every date must lie in
//!   that year. A file speaks for its whole year: loading it replaces whatever
//!   was known about that year before.
//! - `YYYY-MM-DD holiday [name]`: no work that day, even on a weekday (放假).
//! - `YYYY-MM-DD workday [name]`: a make-up working day (调休上班). Only a
//!   Saturday or Sunday may be one; a weekday works anyway, so such a line is
//!   almost surely a typo and is refused.
//! - Each date at most once. Dates not listed follow the week: Monday to
//!   Friday work, Saturday and Sunday do not. The name is free text for people.
//!
//! The State Council publishes next year's arrangement every year, usually in
//! November or December; admins must install it as their own file (see
//! [`Calendar::with_year_text`]) until a release ships it.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Shanghai local time is UTC+8 all year round (no DST since 1991).
pub const SHANGHAI_UTC_OFFSET_MS: i64 = 8 * MS_PER_HOUR;
/// Milliseconds in a minute, the unit of working-time arithmetic.
pub const MS_PER_MINUTE: i64 = 60_000;
/// Milliseconds in an hour.
pub const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
/// Milliseconds in a (local) day; Shanghai days are always 24 hours long.
pub const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;
const MINUTES_PER_DAY: u32 = 24 * 60;

/// The shipped holiday files, one per year, oldest first.
const SHIPPED_YEARS: [&str; 3] = [
    include_str!("../data/calendar/2025.txt"),
    include_str!("../data/calendar/2026.txt"),
    include_str!("../data/calendar/2027.txt"),
];

/// Why a date, time, working-hours setting, holiday file or time limit was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("invalid date {0:?}; expected an existing date written YYYY-MM-DD")]
    InvalidDate(String),
    #[error("invalid local time {0:?}; expected YYYY-MM-DD HH:MM[:SS[.mmm]]")]
    InvalidDateTime(String),
    #[error("invalid working hours {text:?}: {reason}")]
    InvalidWorkingHours { text: String, reason: String },
    #[error("invalid time limit {0:?}; expected a number followed by wm (working minutes), wh (working hours), wd (working days) or m (calendar minutes), e.g. 4wh")]
    InvalidTimeLimit(String),
    #[error("holiday file has no `year YYYY` line")]
    MissingYear,
    #[error("holiday file line {line} ({text:?}): {error}")]
    Line {
        /// 1-based line number in the file.
        line: usize,
        /// The offending line as written.
        text: String,
        error: LineError,
    },
}

/// What is wrong with one line of a holiday file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("unrecognised line; expected `year YYYY` or `YYYY-MM-DD holiday|workday [name]`")]
    Unrecognised,
    #[error("invalid year {0:?}; expected four digits")]
    InvalidYear(String),
    #[error("the year is already given on line {0}")]
    RepeatedYear(usize),
    #[error("a date line comes before the `year YYYY` line")]
    DateBeforeYear,
    #[error("invalid date {0:?}; expected an existing date written YYYY-MM-DD")]
    InvalidDate(String),
    #[error("unknown kind {0:?}; expected `holiday` or `workday`")]
    UnknownKind(String),
    #[error("date {date} is outside the file's year {year}")]
    OutsideYear { date: LocalDate, year: i32 },
    #[error("date {date} is already listed on line {first_line}")]
    Duplicate { date: LocalDate, first_line: usize },
    #[error("{date} is a {weekday}, a working day anyway; a workday line only makes sense on a Saturday or Sunday")]
    WorkdayOnWeekday { date: LocalDate, weekday: Weekday },
}

// ---------------------------------------------------------------------------
// Dates and local times
// ---------------------------------------------------------------------------

/// Day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    const ALL: [Weekday; 7] = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];

    /// Monday is 0, Sunday is 6.
    pub const fn days_from_monday(self) -> u8 {
        self as u8
    }

    /// Saturday and Sunday: not working days unless made up (调休).
    pub const fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        }
    }
}

impl fmt::Display for Weekday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Weekday of a day number (days since 1970-01-01, which was a Thursday).
fn weekday_of_day(day: i64) -> Weekday {
    Weekday::ALL[(day + 3).rem_euclid(7) as usize]
}

/// A calendar date in the proleptic Gregorian calendar. Holidays and working
/// days are local (Shanghai) dates. Written `YYYY-MM-DD`, so text covers the
/// years 0000-9999; arithmetic goes further (any day an `i64` instant reaches).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDate {
    year: i32,
    month: u8,
    day: u8,
}

const fn is_leap_year(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

const fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

impl LocalDate {
    /// A date, if it exists.
    pub fn new(year: i32, month: u8, day: u8) -> Option<LocalDate> {
        let ok = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        ok.then_some(LocalDate { year, month, day })
    }

    pub const fn year(self) -> i32 {
        self.year
    }

    pub const fn month(self) -> u8 {
        self.month
    }

    pub const fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before), by Howard Hinnant's
    /// `days_from_civil`, so that date differences are plain subtraction.
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = (m + 9) % 12; // March = 0
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01 (Hinnant's `civil_from_days`).
    pub fn from_days_since_epoch(days: i64) -> LocalDate {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = yoe + era * 400 + i64::from(month <= 2);
        LocalDate {
            year: year as i32,
            month,
            day,
        }
    }

    pub fn weekday(self) -> Weekday {
        weekday_of_day(self.days_since_epoch())
    }

    /// The date `days` later (earlier if negative).
    pub fn add_days(self, days: i64) -> LocalDate {
        LocalDate::from_days_since_epoch(self.days_since_epoch() + days)
    }

    /// The Shanghai local date of a UTC instant.
    pub fn from_utc_ms(utc_ms: i64) -> LocalDate {
        LocalDate::from_days_since_epoch(local_day_and_ms(utc_ms).0)
    }

    /// The UTC instant of this date's local midnight in Shanghai.
    pub fn start_utc_ms(self) -> i64 {
        self.days_since_epoch() * MS_PER_DAY - SHANGHAI_UTC_OFFSET_MS
    }
}

/// Parses exactly `digits` ASCII digits.
fn parse_digits(s: &str, digits: usize) -> Option<u32> {
    if s.len() != digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl FromStr for LocalDate {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::InvalidDate(s.to_string());
        let mut parts = s.split('-');
        let (Some(y), Some(m), Some(d), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let year = parse_digits(y, 4).ok_or_else(bad)?;
        let month = parse_digits(m, 2).ok_or_else(bad)?;
        let day = parse_digits(d, 2).ok_or_else(bad)?;
        LocalDate::new(year as i32, month as u8, day as u8).ok_or_else(bad)
    }
}

impl fmt::Display for LocalDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Serialize for LocalDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_from_str(deserializer)
    }
}

/// Types written as strings in JSON and configuration share one deserialiser.
fn deserialize_from_str<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: fmt::Display,
{
    let s = String::deserialize(deserializer)?;
    s.parse().map_err(serde::de::Error::custom)
}

/// Splits a UTC instant into its Shanghai day number and milliseconds into that day.
fn local_day_and_ms(utc_ms: i64) -> (i64, i64) {
    let local = utc_ms + SHANGHAI_UTC_OFFSET_MS;
    (local.div_euclid(MS_PER_DAY), local.rem_euclid(MS_PER_DAY))
}

/// The UTC instant of a Shanghai day number plus milliseconds into it (may be a full day).
fn utc_of_local(day: i64, ms_of_day: i64) -> i64 {
    day * MS_PER_DAY + ms_of_day - SHANGHAI_UTC_OFFSET_MS
}

/// A Shanghai wall-clock date and time, to show instants to people and to
/// write tests and fixtures readably.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalDateTime {
    date: LocalDate,
    ms_of_day: u32,
}

impl LocalDateTime {
    /// A local time on `date`, if `hour` < 24, `minute` < 60 and `second` < 60.
    pub fn new(date: LocalDate, hour: u8, minute: u8, second: u8) -> Option<LocalDateTime> {
        (hour < 24 && minute < 60 && second < 60).then(|| LocalDateTime {
            date,
            ms_of_day: (u32::from(hour) * 3600 + u32::from(minute) * 60 + u32::from(second)) * 1000,
        })
    }

    /// The Shanghai local time of a UTC instant.
    pub fn from_utc_ms(utc_ms: i64) -> LocalDateTime {
        let (day, ms) = local_day_and_ms(utc_ms);
        LocalDateTime {
            date: LocalDate::from_days_since_epoch(day),
            ms_of_day: ms as u32,
        }
    }

    /// The UTC instant of this Shanghai local time.
    pub fn to_utc_ms(self) -> i64 {
        self.date.start_utc_ms() + i64::from(self.ms_of_day)
    }

    pub const fn date(self) -> LocalDate {
        self.date
    }

    pub const fn hour(self) -> u8 {
        (self.ms_of_day / 3_600_000) as u8
    }

    pub const fn minute(self) -> u8 {
        (self.ms_of_day / 60_000 % 60) as u8
    }

    pub const fn second(self) -> u8 {
        (self.ms_of_day / 1000 % 60) as u8
    }

    pub const fn millisecond(self) -> u16 {
        (self.ms_of_day % 1000) as u16
    }

    /// Milliseconds since local midnight.
    pub const fn ms_of_day(self) -> u32 {
        self.ms_of_day
    }
}

impl FromStr for LocalDateTime {
    type Err = CalendarError;
    /// `YYYY-MM-DD HH:MM`, optionally with `:SS` and `.mmm`; `T` may replace the space.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::InvalidDateTime(s.to_string());
        let (date, time) = s.split_once([' ', 'T']).ok_or_else(bad)?;
        let date: LocalDate = date.parse().map_err(|_| bad())?;
        let (time, millis) = match time.split_once('.') {
            Some((t, ms)) => (t, Some(parse_digits(ms, 3).ok_or_else(bad)?)),
            None => (time, None),
        };
        let mut parts = time.split(':');
        let hour = parts
            .next()
            .and_then(|p| parse_digits(p, 2))
            .ok_or_else(bad)?;
        let minute = parts
            .next()
            .and_then(|p| parse_digits(p, 2))
            .ok_or_else(bad)?;
        let second = match (parts.next(), millis) {
            (Some(p), _) => parse_digits(p, 2).ok_or_else(bad)?,
            (None, None) => 0,
            (None, Some(_)) => return Err(bad()), // milliseconds need seconds
        };
        let millis = millis.unwrap_or(0);
        if parts.next().is_some() || hour > 23 || minute > 59 || second > 59 {
            return Err(bad());
        }
        Ok(LocalDateTime {
            date,
            ms_of_day: (hour * 3600 + minute * 60 + second) * 1000 + millis,
        })
    }
}

impl fmt::Display for LocalDateTime {
    /// `YYYY-MM-DD HH:MM:SS`, with `.mmm` only when there are milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02}:{:02}",
            self.date,
            self.hour(),
            self.minute(),
            self.second()
        )?;
        if self.millisecond() != 0 {
            write!(f, ".{:03}", self.millisecond())?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Working hours
// ---------------------------------------------------------------------------

/// One daily stretch of working time in local clock minutes, `start` < `end`,
/// both ends included (see the module documentation). `end` may be 24:00.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WorkingPeriod {
    start_minute: u32,
    end_minute: u32,
}

impl WorkingPeriod {
    /// A period from `start_minute` to `end_minute` after local midnight, if
    /// it is non-empty and ends by 24:00.
    pub fn new(start_minute: u32, end_minute: u32) -> Option<WorkingPeriod> {
        (start_minute < end_minute && end_minute <= MINUTES_PER_DAY).then_some(WorkingPeriod {
            start_minute,
            end_minute,
        })
    }

    pub const fn start_minute(self) -> u32 {
        self.start_minute
    }

    pub const fn end_minute(self) -> u32 {
        self.end_minute
    }

    pub const fn minutes(self) -> u32 {
        self.end_minute - self.start_minute
    }

    fn start_ms(self) -> i64 {
        i64::from(self.start_minute) * MS_PER_MINUTE
    }

    fn end_ms(self) -> i64 {
        i64::from(self.end_minute) * MS_PER_MINUTE
    }

    fn len_ms(self) -> i64 {
        i64::from(self.minutes()) * MS_PER_MINUTE
    }
}

/// `HH:MM` with HH:MM ≤ 24:00.
fn parse_clock(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let (h, m) = (parse_digits(h, 2)?, parse_digits(m, 2)?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= MINUTES_PER_DAY).then_some(minutes)
}

impl FromStr for WorkingPeriod {
    type Err = CalendarError;
    /// `HH:MM-HH:MM`, e.g. `08:30-12:00`; the end may be `24:00`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| CalendarError::InvalidWorkingHours {
            text: s.to_string(),
            reason: reason.to_string(),
        };
        let (a, b) = s
            .trim()
            .split_once('-')
            .ok_or_else(|| bad("expected HH:MM-HH:MM"))?;
        let start = parse_clock(a.trim()).ok_or_else(|| bad("start is not a time HH:MM"))?;
        let end = parse_clock(b.trim()).ok_or_else(|| bad("end is not a time HH:MM"))?;
        WorkingPeriod::new(start, end).ok_or_else(|| bad("a period must end after it starts"))
    }
}

impl fmt::Display for WorkingPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}:{:02}-{:02}:{:02}",
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }
}

/// The daily working hours (工作时间) shared by every working day: one or more
/// periods, in order, with gaps between them (a lunch break, say). Defaults to
/// 08:30-12:00 and 13:30-17:30, a common pattern of government office hours;
/// places with other hours configure their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WorkingHours {
    periods: Vec<WorkingPeriod>,
}

impl WorkingHours {
    /// Validates that there is at least one period and that the periods are in
    /// order and separated by a gap. Touching periods (12:00-12:00) are
    /// refused rather than merged: they are surely a mistake for one period,
    /// and keeping them apart keeps the closed-end rule simple.
    pub fn new(periods: Vec<WorkingPeriod>) -> Result<WorkingHours, CalendarError> {
        let text = || {
            periods
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        if periods.is_empty() {
            return Err(CalendarError::InvalidWorkingHours {
                text: String::new(),
                reason: "at least one working period is needed".into(),
            });
        }
        for pair in periods.windows(2) {
            if pair[1].start_minute <= pair[0].end_minute {
                return Err(CalendarError::InvalidWorkingHours {
                    text: text(),
                    reason: format!(
                        "periods must be in order with a gap between them; {} does not start after {} ends",
                        pair[1], pair[0]
                    ),
                });
            }
        }
        Ok(WorkingHours { periods })
    }

    pub fn periods(&self) -> &[WorkingPeriod] {
        &self.periods
    }

    /// Working minutes in one working day (450 by default: 3½ + 4 hours).
    pub fn minutes_per_day(&self) -> u32 {
        self.periods.iter().map(|p| p.minutes()).sum()
    }

    fn ms_per_day(&self) -> i64 {
        i64::from(self.minutes_per_day()) * MS_PER_MINUTE
    }

    /// Working milliseconds of a working day before local time `ms` (0..=one day).
    fn worked_before(&self, ms: i64) -> i64 {
        self.periods
            .iter()
            .map(|p| (ms - p.start_ms()).clamp(0, p.len_ms()))
            .sum()
    }

    /// The earliest clock time on a working day by which `worked` ms (in
    /// `1..=ms_per_day`) of work have been done: inside or at the end of a period.
    fn earliest_reaching(&self, mut worked: i64) -> i64 {
        for p in &self.periods {
            if worked <= p.len_ms() {
                return p.start_ms() + worked;
            }
            worked -= p.len_ms();
        }
        self.periods.last().map_or(0, |p| p.end_ms())
    }

    /// The latest clock time on a working day with exactly `worked` ms (in
    /// `0..ms_per_day`) of work done: inside or at the start of a period.
    fn latest_reaching(&self, mut worked: i64) -> i64 {
        for p in &self.periods {
            if worked < p.len_ms() {
                return p.start_ms() + worked;
            }
            worked -= p.len_ms();
        }
        self.periods.last().map_or(0, |p| p.end_ms())
    }

    fn contains(&self, ms: i64) -> bool {
        self.periods
            .iter()
            .any(|p| p.start_ms() <= ms && ms <= p.end_ms())
    }

    fn first_start_ms(&self) -> i64 {
        self.periods[0].start_ms()
    }

    fn ends_at_midnight(&self) -> bool {
        self.periods.last().map(|p| p.end_minute) == Some(MINUTES_PER_DAY)
    }
}

impl Default for WorkingHours {
    fn default() -> Self {
        WorkingHours {
            periods: vec![
                WorkingPeriod {
                    start_minute: 8 * 60 + 30,
                    end_minute: 12 * 60,
                },
                WorkingPeriod {
                    start_minute: 13 * 60 + 30,
                    end_minute: 17 * 60 + 30,
                },
            ],
        }
    }
}

impl FromStr for WorkingHours {
    type Err = CalendarError;
    /// Comma-separated periods, e.g. `08:30-12:00,13:30-17:30`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let periods = s
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<WorkingPeriod>, _>>()
            .map_err(|e| match e {
                CalendarError::InvalidWorkingHours { reason, .. } => {
                    CalendarError::InvalidWorkingHours {
                        text: s.to_string(),
                        reason,
                    }
                }
                other => other,
            })?;
        WorkingHours::new(periods)
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.periods.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl Serialize for WorkingHours {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for WorkingHours {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_from_str(deserializer)
    }
}

// ---------------------------------------------------------------------------
// Holiday arrangements
// ---------------------------------------------------------------------------

/// How a listed date departs from the plain week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A public holiday or a day off of its block (放假): no work, even on a weekday.
    Holiday,
    /// A make-up working day (调休上班): work, though it is a Saturday or Sunday.
    Workday,
}

impl DayKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }
}

/// One listed date of a year's arrangement.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DayOverride {
    pub date: LocalDate,
    pub kind: DayKind,
    /// Free text for people, e.g. 国庆节 or 春节调休; may be empty.
    pub name: String,
}

/// One year's holiday arrangement (节假日安排), as read from a holiday file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearArrangement {
    year: i32,
    days: Vec<DayOverride>,
}

impl YearArrangement {
    pub const fn year(&self) -> i32 {
        self.year
    }

    /// The listed dates, in file order.
    pub fn days(&self) -> &[DayOverride] {
        &self.days
    }
}

/// A listed date as the calendar keeps it: whether it works, and how it shifts
/// the count of working days against the plain week (+1, 0 or -1), so that
/// counting working days over a range is arithmetic plus a few adjustments.
#[derive(Debug, Clone)]
struct Listed {
    entry: DayOverride,
    working: bool,
    shift: i64,
}

/// The working-time calendar (工作日历): daily working hours plus per-date
/// holidays and make-up working days over the plain Monday-Friday week. It
/// answers whether a moment is working time and computes deadlines.
///
/// Years without data follow the plain week; see [`Calendar::years`] to warn
/// when a year a deadline falls in is not covered.
#[derive(Debug, Clone)]
pub struct Calendar {
    hours: WorkingHours,
    /// Keyed by day number (days since 1970-01-01).
    listed: BTreeMap<i64, Listed>,
    years: BTreeSet<i32>,
}

impl Calendar {
    /// A calendar with the given hours and no holiday data: the plain week.
    pub fn new(hours: WorkingHours) -> Calendar {
        Calendar {
            hours,
            listed: BTreeMap::new(),
            years: BTreeSet::new(),
        }
    }

    /// Default hours and every shipped year (2025, 2026, provisional 2027).
    pub fn shipped() -> Calendar {
        SHIPPED_YEARS
            .iter()
            .fold(Calendar::new(WorkingHours::default()), |cal, text| {
                cal.with_year_text(text)
                    .expect("shipped holiday files are checked by the tests")
            })
    }

    /// The same calendar with other working hours.
    pub fn with_working_hours(mut self, hours: WorkingHours) -> Calendar {
        self.hours = hours;
        self
    }

    /// The same calendar with `arrangement` replacing everything known about its year.
    pub fn with_year(mut self, arrangement: YearArrangement) -> Calendar {
        let year = arrangement.year;
        let first = LocalDate {
            year,
            month: 1,
            day: 1,
        }
        .days_since_epoch();
        let next = LocalDate {
            year: year + 1,
            month: 1,
            day: 1,
        }
        .days_since_epoch();
        let stale: Vec<i64> = self.listed.range(first..next).map(|(d, _)| *d).collect();
        for day in stale {
            self.listed.remove(&day);
        }
        for entry in arrangement.days {
            let day = entry.date.days_since_epoch();
            let weekday_works = !weekday_of_day(day).is_weekend();
            let working = entry.kind == DayKind::Workday;
            let shift = i64::from(working) - i64::from(weekday_works);
            self.listed.insert(
                day,
                Listed {
                    entry,
                    working,
                    shift,
                },
            );
        }
        self.years.insert(year);
        self
    }

    /// The same calendar with a holiday file (an admin's own, say) replacing its year.
    pub fn with_year_text(self, text: &str) -> Result<Calendar, CalendarError> {
        Ok(self.with_year(Calendar::parse_year(text)?))
    }

    /// Reads a holiday file (format in the module documentation). Every error
    /// names the 1-based line and quotes it, so an admin can fix the file.
    pub fn parse_year(text: &str) -> Result<YearArrangement, CalendarError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut year: Option<(i32, usize)> = None;
        let mut days = Vec::new();
        let mut seen: BTreeMap<LocalDate, usize> = BTreeMap::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let fail = |error| CalendarError::Line {
                line,
                text: raw.to_string(),
                error,
            };
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            let mut words = content.split_whitespace();
            let first = words.next().unwrap_or("");
            if first == "year" {
                let value = words.next().unwrap_or("");
                if words.next().is_some() {
                    return Err(fail(LineError::Unrecognised));
                }
                if let Some((_, first_line)) = year {
                    return Err(fail(LineError::RepeatedYear(first_line)));
                }
                let y = parse_digits(value, 4)
                    .filter(|y| *y >= 1)
                    .ok_or_else(|| fail(LineError::InvalidYear(value.to_string())))?;
                year = Some((y as i32, line));
                continue;
            }
            if !first.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(fail(LineError::Unrecognised));
            }
            let date: LocalDate = first
                .parse()
                .map_err(|_| fail(LineError::InvalidDate(first.to_string())))?;
            let Some((file_year, _)) = year else {
                return Err(fail(LineError::DateBeforeYear));
            };
            let kind = match words.next() {
                Some("holiday") => DayKind::Holiday,
                Some("workday") => DayKind::Workday,
                Some(other) => return Err(fail(LineError::UnknownKind(other.to_string()))),
                None => return Err(fail(LineError::Unrecognised)),
            };
            if date.year != file_year {
                return Err(fail(LineError::OutsideYear {
                    date,
                    year: file_year,
                }));
            }
            if let Some(first_line) = seen.insert(date, line) {
                return Err(fail(LineError::Duplicate { date, first_line }));
            }
            let weekday = date.weekday();
            if kind == DayKind::Workday && !weekday.is_weekend() {
                return Err(fail(LineError::WorkdayOnWeekday { date, weekday }));
            }
            let name = words.collect::<Vec<_>>().join(" ");
            days.push(DayOverride { date, kind, name });
        }
        let (year, _) = year.ok_or(CalendarError::MissingYear)?;
        Ok(YearArrangement { year, days })
    }

    pub fn working_hours(&self) -> &WorkingHours {
        &self.hours
    }

    /// Years with holiday data; other years follow the plain week.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.iter().copied()
    }

    /// The listed entry for a date (to show 国庆节 next to it), if any.
    pub fn day_override(&self, date: LocalDate) -> Option<&DayOverride> {
        self.listed.get(&date.days_since_epoch()).map(|l| &l.entry)
    }

    /// A listed date follows its listing; any other works Monday to Friday.
    pub fn is_working_day(&self, date: LocalDate) -> bool {
        self.day_works(date.days_since_epoch())
    }

    fn day_works(&self, day: i64) -> bool {
        match self.listed.get(&day) {
            Some(l) => l.working,
            None => !weekday_of_day(day).is_weekend(),
        }
    }

    /// Working days among day numbers `from..to`; negative (minus the count
    /// of `to..from`) when `to` < `from`. Weekdays are counted by arithmetic,
    /// then each listed date in the range shifts the count, so this costs
    /// O(log n + listed dates in range), not a walk over the days.
    fn working_days_in(&self, from: i64, to: i64) -> i64 {
        if to < from {
            return -self.working_days_in(to, from);
        }
        // Weekdays in MONDAY..x, for any x: 1969-12-29 was a Monday.
        const MONDAY: i64 = -3;
        let weekdays_before = |x: i64| {
            let y = x - MONDAY;
            5 * y.div_euclid(7) + y.rem_euclid(7).min(5)
        };
        let shifts: i64 = self.listed.range(from..to).map(|(_, l)| l.shift).sum();
        weekdays_before(to) - weekdays_before(from) + shifts
    }

    /// The working day with exactly `n` working days between `base` and it:
    /// for `n` ≥ 0 the first working day on or after `base` is number 0; for
    /// `n` < 0 the last working day before `base` is number -1. Found by
    /// doubling then bisecting over [`Self::working_days_in`], so a jump of
    /// years costs a few dozen counts.
    fn nth_working_day(&self, base: i64, n: i64) -> i64 {
        if n >= 0 {
            // Smallest `end` with n + 1 working days in base..end; the answer is end - 1.
            let mut span = n + 1;
            while self.working_days_in(base, base + span) <= n {
                span *= 2;
            }
            let (mut lo, mut hi) = (base, base + span); // count(lo) <= n < count(hi)
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if self.working_days_in(base, mid) <= n {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            hi - 1
        } else {
            // Largest `start` with -n working days in start..base.
            let k = -n;
            let mut span = k;
            while self.working_days_in(base - span, base) < k {
                span *= 2;
            }
            let (mut lo, mut hi) = (base - span, base); // count(lo) >= k > count(hi)
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if self.working_days_in(mid, base) >= k {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            lo
        }
    }

    /// Working milliseconds done on `day` before local time `ms`.
    fn worked_on_day_before(&self, day: i64, ms: i64) -> i64 {
        if self.day_works(day) {
            self.hours.worked_before(ms)
        } else {
            0
        }
    }

    /// Working time at `t` counted from the start of local day `base`.
    fn worked_since_day(&self, base: i64, t: i64) -> i64 {
        let (day, ms) = local_day_and_ms(t);
        self.working_days_in(base, day) * self.hours.ms_per_day()
            + self.worked_on_day_before(day, ms)
    }

    /// Whether `t` is working time, period ends included. Local midnight also
    /// counts when the previous day is a working day whose hours run to 24:00.
    pub fn is_working_time(&self, t: i64) -> bool {
        let (day, ms) = local_day_and_ms(t);
        (self.day_works(day) && self.hours.contains(ms))
            || (ms == 0 && self.hours.ends_at_midnight() && self.day_works(day - 1))
    }

    /// `t` itself if it is working time, else the start of the next working period.
    pub fn next_working_moment(&self, t: i64) -> i64 {
        if self.is_working_time(t) {
            return t;
        }
        let (day, ms) = local_day_and_ms(t);
        if self.day_works(day) {
            if let Some(p) = self.hours.periods.iter().find(|p| p.start_ms() > ms) {
                return utc_of_local(day, p.start_ms());
            }
        }
        let next = self.nth_working_day(day + 1, 0);
        utc_of_local(next, self.hours.first_start_ms())
    }

    /// Working time between `a` and `b` in milliseconds; negative when `b` < `a`.
    pub fn working_ms_between(&self, a: i64, b: i64) -> i64 {
        let (base, _) = local_day_and_ms(a);
        self.worked_since_day(base, b) - self.worked_since_day(base, a)
    }

    /// Working minutes between `a` and `b`, negative when `b` < `a`, whole
    /// minutes truncated toward zero. The inverse of
    /// [`Self::add_working_duration`]: `working_minutes_between(s,
    /// add_working_duration(s, m)) == m` for every `s` and `m`.
    pub fn working_minutes_between(&self, a: i64, b: i64) -> i64 {
        self.working_ms_between(a, b) / MS_PER_MINUTE
    }

    /// The moment `minutes` working minutes after `start`; time outside the
    /// working periods does not count, so counting effectively begins at
    /// [`Self::next_working_moment`]. The result is the *earliest* moment
    /// with that much working time done: work that ends a period exactly is
    /// due at the period's end (12:00), not at the next start (13:30). Zero
    /// minutes give the next working moment. The result is always working
    /// time, and exactly `minutes` of working time lie between the two.
    ///
    /// Negative `minutes` count backwards, giving the *latest* moment at or
    /// before `start` with that much working time left until `start` (a
    /// reminder one working hour before a deadline, say); also working time.
    ///
    /// Cost: a few dozen counts over the holiday list, whatever the size of
    /// `minutes` (no walk over minutes or days). Panics only if the result
    /// overflows `i64` milliseconds (|`minutes`| beyond about 10^12).
    pub fn add_working_duration(&self, start_ms: i64, minutes: i64) -> i64 {
        if minutes == 0 {
            return self.next_working_moment(start_ms);
        }
        let per_day = self.hours.ms_per_day();
        let (base, ms) = local_day_and_ms(start_ms);
        let delta = minutes
            .checked_mul(MS_PER_MINUTE)
            .expect("working duration out of range");
        // Working time at the result, counted from the start of `base`.
        let target = self.worked_on_day_before(base, ms) + delta;
        let (n, worked, clock) = if minutes > 0 {
            // target > 0; the day on which the target is reached, at or
            // before the end of its last period.
            let n = (target - 1).div_euclid(per_day);
            let worked = target - n * per_day; // in 1..=per_day
            (n, worked, false)
        } else {
            let n = target.div_euclid(per_day);
            let worked = target - n * per_day; // in 0..per_day
            (n, worked, true)
        };
        let day = self.nth_working_day(base, n);
        let clock_ms = if clock {
            self.hours.latest_reaching(worked)
        } else {
            self.hours.earliest_reaching(worked)
        };
        utc_of_local(day, clock_ms)
    }

    /// The deadline `days` working days after `start`: the same Shanghai clock
    /// time on the `days`-th working day after the day counting begins on.
    /// Counting begins at [`Self::next_working_moment`] of `start` (so a
    /// matter dispatched at 20:00 Friday counts from 08:30 Monday, and two
    /// working days land at 08:30 Wednesday); zero days give that moment.
    ///
    /// Every working day has the same periods and counting begins at a working
    /// moment, so the same clock time on the target day is always working time
    /// (a period end included); no snapping is ever needed. This differs from
    /// adding `days` × a day's working minutes only when counting begins at
    /// the start of a period after a break: 13:30 plus one working day is
    /// 13:30 the next working day here, but 12:00 by minutes.
    pub fn add_working_days(&self, start_ms: i64, days: u32) -> i64 {
        let from = self.next_working_moment(start_ms);
        if days == 0 {
            return from;
        }
        let (mut day, mut ms) = local_day_and_ms(from);
        if !(self.day_works(day) && self.hours.contains(ms)) {
            // Midnight closing the previous day's period that runs to 24:00.
            day -= 1;
            ms = MS_PER_DAY;
        }
        let target = self.nth_working_day(day + 1, i64::from(days) - 1);
        utc_of_local(target, ms)
    }
}

// ---------------------------------------------------------------------------
// Time limits
// ---------------------------------------------------------------------------

/// A time limit (时限) for a step of a matter, counted from when the clock
/// starts (dispatch). Written compactly as a number and a unit, which is how
/// it appears in configuration, JSON and the API:
///
/// | form   | meaning                      |
/// |--------|------------------------------|
/// | `30wm` | 30 working minutes           |
/// | `4wh`  | 4 working hours (工作时)     |
/// | `7wd`  | 7 working days (工作日)      |
/// | `8m`   | 8 wall-clock minutes         |
///
/// The number is decimal digits only (no sign or spaces), up to `u32::MAX`.
/// Wall-clock minutes are for emergencies, which run around the clock:
/// respond in `1m`, on site in `8m`, first feedback in `60m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeLimit {
    WorkingMinutes(u32),
    WorkingHours(u32),
    WorkingDays(u32),
    CalendarMinutes(u32),
}

impl TimeLimit {
    /// When the limit runs out for a clock started at `start_ms`: working
    /// minutes and hours by [`Calendar::add_working_duration`], working days
    /// by [`Calendar::add_working_days`], calendar minutes by plain addition.
    pub fn deadline(&self, cal: &Calendar, start_ms: i64) -> i64 {
        match *self {
            TimeLimit::WorkingMinutes(m) => cal.add_working_duration(start_ms, i64::from(m)),
            TimeLimit::WorkingHours(h) => cal.add_working_duration(start_ms, i64::from(h) * 60),
            TimeLimit::WorkingDays(d) => cal.add_working_days(start_ms, d),
            TimeLimit::CalendarMinutes(m) => start_ms + i64::from(m) * MS_PER_MINUTE,
        }
    }

    /// The unit suffix of the compact form.
    pub const fn unit(&self) -> &'static str {
        match self {
            TimeLimit::WorkingMinutes(_) => "wm",
            TimeLimit::WorkingHours(_) => "wh",
            TimeLimit::WorkingDays(_) => "wd",
            TimeLimit::CalendarMinutes(_) => "m",
        }
    }

    pub const fn amount(&self) -> u32 {
        match *self {
            TimeLimit::WorkingMinutes(n)
            | TimeLimit::WorkingHours(n)
            | TimeLimit::WorkingDays(n)
            | TimeLimit::CalendarMinutes(n) => n,
        }
    }
}

impl FromStr for TimeLimit {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CalendarError::InvalidTimeLimit(s.to_string());
        let split = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (digits, unit) = s.split_at(split);
        if digits.is_empty() {
            return Err(bad());
        }
        let n: u32 = digits.parse().map_err(|_| bad())?;
        match unit {
            "wm" => Ok(TimeLimit::WorkingMinutes(n)),
            "wh" => Ok(TimeLimit::WorkingHours(n)),
            "wd" => Ok(TimeLimit::WorkingDays(n)),
            "m" => Ok(TimeLimit::CalendarMinutes(n)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for TimeLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount(), self.unit())
    }
}

impl Serialize for TimeLimit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeLimit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserialize_from_str(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::SplitMix64;

    fn at(s: &str) -> i64 {
        s.parse::<LocalDateTime>().unwrap().to_utc_ms()
    }

    fn show(t: i64) -> String {
        LocalDateTime::from_utc_ms(t).to_string()
    }

    fn date(s: &str) -> LocalDate {
        s.parse().unwrap()
    }

    /// Hours to run the properties under: the default, one block, the whole
    /// day (periods touching midnight), three periods, and a night shift.
    fn hour_sets() -> Vec<WorkingHours> {
        [
            "08:30-12:00,13:30-17:30",
            "09:00-17:00",
            "00:00-24:00",
            "08:00-10:00,10:30-12:00,14:00-18:00",
            "00:00-06:00,22:00-24:00",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
    }

    fn calendars() -> Vec<Calendar> {
        hour_sets()
            .into_iter()
            .map(|h| Calendar::shipped().with_working_hours(h))
            .collect()
    }

    /// A start instant between mid-December 2024 and mid-January 2028 (so
    /// across every year boundary of the data): a random millisecond, a
    /// whole minute, or a period boundary give or take a millisecond.
    fn random_instant(rng: &mut SplitMix64, cal: &Calendar) -> i64 {
        let first = date("2024-12-15").days_since_epoch();
        let last = date("2028-01-15").days_since_epoch();
        let day = rng.range_i64(first, last);
        let ms = match rng.range_i64(0, 3) {
            0 => rng.range_i64(0, MS_PER_DAY),
            1 => rng.range_i64(0, 24 * 60) * MS_PER_MINUTE,
            _ => {
                let p = rng.pick(cal.working_hours().periods());
                let edge = if rng.range_i64(0, 2) == 0 {
                    p.start_ms()
                } else {
                    p.end_ms()
                };
                edge + rng.range_i64(-1, 2)
            }
        };
        utc_of_local(day, ms)
    }

    fn random_minutes(rng: &mut SplitMix64) -> i64 {
        match rng.range_i64(0, 4) {
            0 => rng.range_i64(0, 60),
            1 => rng.range_i64(0, 1_000),
            2 => rng.range_i64(0, 20_000),
            _ => rng.range_i64(0, 200_000),
        }
    }

    /// Independent of the calendar's index: the files' entries, looked up by a scan.
    fn oracle_day_works(entries: &[DayOverride], d: LocalDate) -> bool {
        match entries.iter().find(|e| e.date == d) {
            Some(e) => e.kind == DayKind::Workday,
            None => !d.weekday().is_weekend(),
        }
    }

    fn shipped_entries() -> Vec<DayOverride> {
        SHIPPED_YEARS
            .iter()
            .flat_map(|t| Calendar::parse_year(t).unwrap().days)
            .collect()
    }

    /// Whether the whole minute starting at `t` (minute-aligned) is working time.
    fn oracle_working_minute(cal: &Calendar, entries: &[DayOverride], t: i64) -> bool {
        let local = LocalDateTime::from_utc_ms(t);
        let ms = i64::from(local.ms_of_day());
        oracle_day_works(entries, local.date())
            && cal
                .working_hours()
                .periods()
                .iter()
                .any(|p| p.start_ms() <= ms && ms + MS_PER_MINUTE <= p.end_ms())
    }

    #[test]
    fn shipped_files_parse_with_the_expected_days() {
        let counts = |text: &str| {
            let y = Calendar::parse_year(text).unwrap();
            let holidays = y
                .days()
                .iter()
                .filter(|d| d.kind == DayKind::Holiday)
                .count();
            (y.year(), holidays, y.days().len() - holidays)
        };
        assert_eq!(counts(SHIPPED_YEARS[0]), (2025, 28, 5));
        assert_eq!(counts(SHIPPED_YEARS[1]), (2026, 33, 6));
        assert_eq!(counts(SHIPPED_YEARS[2]), (2027, 13, 0));
        let cal = Calendar::shipped();
        assert_eq!(cal.years().collect::<Vec<_>>(), vec![2025, 2026, 2027]);
        assert_eq!(
            cal.day_override(date("2026-10-10")).unwrap().name,
            "国庆节调休"
        );
    }

    #[test]
    fn weekday_holidays_stop_work_and_weekend_make_up_days_start_it() {
        let cal = Calendar::shipped();
        for d in [
            "2026-10-01",
            "2026-10-07",
            "2026-02-16",
            "2025-01-01",
            "2025-10-06",
        ] {
            assert!(!date(d).weekday().is_weekend(), "{d}");
            assert!(!cal.is_working_day(date(d)), "{d}");
        }
        for d in [
            "2026-10-10",
            "2026-09-20",
            "2026-02-14",
            "2026-01-04",
            "2025-09-28",
        ] {
            assert!(date(d).weekday().is_weekend(), "{d}");
            assert!(cal.is_working_day(date(d)), "{d}");
        }
        assert!(cal.is_working_day(date("2026-10-08")));
        assert!(!cal.is_working_day(date("2026-10-11")));
        // Nothing passes on a weekday holiday.
        assert_eq!(
            cal.working_minutes_between(at("2026-10-01 00:00"), at("2026-10-02 23:59")),
            0
        );
        assert!(!cal.is_working_time(at("2026-10-01 10:00")));
    }

    #[test]
    fn national_day_2026_pushes_four_working_hours_past_the_block() {
        let cal = Calendar::shipped();
        // 90 minutes on Wednesday 30 September, then 1-7 October are off, and
        // the other 150 minutes run from 08:30 on Thursday 8 October.
        let start = at("2026-09-30 16:00");
        let due = TimeLimit::WorkingHours(4).deadline(&cal, start);
        assert_eq!(show(due), "2026-10-08 11:00:00");
        assert_eq!(cal.working_minutes_between(start, due), 240);
        // Seven working days: 8, 9, 10 (Saturday, made up), 12, 13, 14, 15 October.
        let due = TimeLimit::WorkingDays(7).deadline(&cal, start);
        assert_eq!(show(due), "2026-10-15 16:00:00");
    }

    #[test]
    fn a_saturday_make_up_day_counts() {
        let cal = Calendar::shipped();
        let due = cal.add_working_duration(at("2026-10-09 16:00"), 240);
        assert_eq!(show(due), "2026-10-10 11:00:00");
        // Spring Festival 2026: Saturday 14 February works, 15-23 do not.
        let due = cal.add_working_duration(at("2026-02-13 17:00"), 60);
        assert_eq!(show(due), "2026-02-14 09:00:00");
        let due = cal.add_working_duration(at("2026-02-14 17:00"), 60);
        assert_eq!(show(due), "2026-02-24 09:00:00");
        assert_eq!(
            show(cal.add_working_days(at("2026-02-13 10:00"), 2)),
            "2026-02-24 10:00:00"
        );
    }

    #[test]
    fn year_boundaries_follow_both_years() {
        let cal = Calendar::shipped();
        // 2026 New Year is 1-3 January with Sunday 4 January made up.
        assert_eq!(
            show(cal.add_working_duration(at("2025-12-31 17:00"), 60)),
            "2026-01-04 09:00:00"
        );
        assert_eq!(
            show(cal.add_working_duration(at("2024-12-31 17:00"), 60)),
            "2025-01-02 09:00:00"
        );
        assert_eq!(
            show(cal.add_working_duration(at("2026-12-31 17:00"), 60)),
            "2027-01-04 09:00:00"
        );
        assert_eq!(
            show(cal.add_working_days(at("2025-12-30 09:00"), 2)),
            "2026-01-04 09:00:00"
        );
    }

    #[test]
    fn period_ends_are_working_time() {
        let cal = Calendar::shipped();
        assert!(cal.is_working_time(at("2026-03-02 08:30")));
        assert!(cal.is_working_time(at("2026-03-02 12:00")));
        assert!(!cal.is_working_time(at("2026-03-02 12:00:00.001")));
        assert!(!cal.is_working_time(at("2026-03-02 13:29:59.999")));
        assert!(cal.is_working_time(at("2026-03-02 17:30")));
        assert!(!cal.is_working_time(at("2026-03-02 08:29:59.999")));
        // A morning's work is due at noon, not after lunch.
        let s = at("2026-03-02 08:30");
        assert_eq!(
            show(cal.add_working_duration(s, 210)),
            "2026-03-02 12:00:00"
        );
        assert_eq!(
            show(cal.add_working_duration(s, 211)),
            "2026-03-02 13:31:00"
        );
        assert_eq!(
            show(cal.add_working_duration(s, 450)),
            "2026-03-02 17:30:00"
        );
        assert_eq!(
            show(cal.add_working_duration(s, 451)),
            "2026-03-03 08:31:00"
        );
        // Backwards, the latest such moment: the start of the period.
        let e = at("2026-03-02 17:30");
        assert_eq!(
            show(cal.add_working_duration(e, -240)),
            "2026-03-02 13:30:00"
        );
        assert_eq!(
            show(cal.add_working_duration(e, -241)),
            "2026-03-02 11:59:00"
        );
        // Zero minutes: the next working moment; a period end is one.
        assert_eq!(
            cal.add_working_duration(at("2026-03-02 12:00"), 0),
            at("2026-03-02 12:00")
        );
        assert_eq!(
            show(cal.add_working_duration(at("2026-03-02 12:30"), 0)),
            "2026-03-02 13:30:00"
        );
    }

    #[test]
    fn next_working_moment_skips_nights_weekends_and_holidays() {
        let cal = Calendar::shipped();
        let next = |s: &str| show(cal.next_working_moment(at(s)));
        assert_eq!(next("2026-03-06 18:00"), "2026-03-09 08:30:00");
        assert_eq!(next("2026-03-06 12:30"), "2026-03-06 13:30:00");
        assert_eq!(next("2026-03-06 07:00"), "2026-03-06 08:30:00");
        assert_eq!(next("2026-03-06 10:00"), "2026-03-06 10:00:00");
        assert_eq!(next("2026-09-30 18:00"), "2026-10-08 08:30:00");
        assert_eq!(next("2026-02-14 17:31"), "2026-02-24 08:30:00");
    }

    #[test]
    fn working_days_keep_the_clock_time() {
        let cal = Calendar::shipped();
        let plus = |s: &str, n| show(cal.add_working_days(at(s), n));
        assert_eq!(plus("2026-03-06 20:00", 2), "2026-03-11 08:30:00");
        assert_eq!(plus("2026-03-04 15:20", 0), "2026-03-04 15:20:00");
        assert_eq!(plus("2026-03-04 15:20", 3), "2026-03-09 15:20:00");
        assert_eq!(plus("2026-03-04 12:00", 1), "2026-03-05 12:00:00");
        assert_eq!(plus("2026-03-04 12:10", 1), "2026-03-05 13:30:00");
        // 13:30 plus a day is 13:30 by days but 12:00 by minutes.
        assert_eq!(
            show(cal.add_working_duration(at("2026-03-04 13:30"), 450)),
            "2026-03-05 12:00:00"
        );
        // The 12345 "13 working days" across the 2026 National Day block:
        // 30 September, 8, 9, 10 (Saturday, made up), 12-16 and 19-22 October.
        assert_eq!(plus("2026-09-29 09:00", 13), "2026-10-22 09:00:00");
    }

    #[test]
    fn large_limits_step_over_days_not_minutes() {
        let cal = Calendar::shipped();
        let s = at("2026-05-06 09:00");
        let due = cal.add_working_duration(s, 10_000);
        assert!(cal.is_working_time(due));
        assert_eq!(cal.working_minutes_between(s, due), 10_000);
        // 7, 8, 9 (Saturday, made up), 11-15, 18-22, 25-29 May, 1 and 2 June.
        assert_eq!(show(cal.add_working_days(s, 20)), "2026-06-02 09:00:00");
        // Thousands of years ahead still answers at once.
        let far = cal.add_working_duration(s, i64::from(u32::MAX));
        assert!(cal.is_working_time(far));
        assert_eq!(cal.working_minutes_between(s, far), i64::from(u32::MAX));
        let far = cal.add_working_days(s, u32::MAX);
        assert!(cal.is_working_time(far));
        let back = cal.add_working_duration(s, -i64::from(u32::MAX));
        assert_eq!(cal.working_minutes_between(back, s), i64::from(u32::MAX));
    }

    #[test]
    fn property_deadlines_are_working_time_and_inverted_by_between() {
        let mut rng = SplitMix64::new(0x5EED_0001);
        for cal in calendars() {
            for _ in 0..3_000 {
                let s = random_instant(&mut rng, &cal);
                let m = random_minutes(&mut rng);
                let due = cal.add_working_duration(s, m);
                let ctx = || format!("{} + {m} wm under {} = {}", show(s), cal.hours, show(due));
                assert!(cal.is_working_time(due), "{}", ctx());
                assert!(due >= s, "{}", ctx());
                assert_eq!(cal.working_minutes_between(s, due), m, "{}", ctx());
                assert_eq!(cal.working_minutes_between(due, s), -m, "{}", ctx());
                assert_eq!(
                    cal.working_ms_between(s, due),
                    m * MS_PER_MINUTE,
                    "{}",
                    ctx()
                );
                if m > 0 {
                    // The earliest such moment.
                    assert!(
                        cal.working_ms_between(s, due - 1) < m * MS_PER_MINUTE,
                        "{}",
                        ctx()
                    );
                } else {
                    assert_eq!(due, cal.next_working_moment(s), "{}", ctx());
                }
                // Monotonic, and strictly so in the minutes.
                let k = rng.range_i64(0, 3_000);
                let later = cal.add_working_duration(s, m + k);
                assert!(later >= due, "{} then +{k}", ctx());
                if k > 0 {
                    assert!(later > due, "{} then +{k}", ctx());
                }
                // Backwards (zero minutes mean the next working moment, as
                // above): working time, the latest such moment.
                if m > 0 {
                    let back = cal.add_working_duration(s, -m);
                    assert!(cal.is_working_time(back), "{} back {}", ctx(), show(back));
                    assert!(back < s, "{}", ctx());
                    assert_eq!(cal.working_minutes_between(back, s), m, "{}", ctx());
                    assert_eq!(cal.working_minutes_between(s, back), -m, "{}", ctx());
                    assert!(cal.working_ms_between(back + 1, s) < m * MS_PER_MINUTE);
                }
            }
        }
    }

    #[test]
    fn property_deadlines_match_a_minute_by_minute_count() {
        let entries = shipped_entries();
        let mut rng = SplitMix64::new(0x5EED_0002);
        for cal in calendars() {
            for _ in 0..150 {
                let s = random_instant(&mut rng, &cal).div_euclid(MS_PER_MINUTE) * MS_PER_MINUTE;
                let m = rng.range_i64(1, 1_500);
                let (mut t, mut left) = (s, m);
                while left > 0 {
                    if oracle_working_minute(&cal, &entries, t) {
                        left -= 1;
                    }
                    t += MS_PER_MINUTE;
                }
                assert_eq!(
                    show(cal.add_working_duration(s, m)),
                    show(t),
                    "{} + {m} wm under {}",
                    show(s),
                    cal.hours
                );
            }
        }
    }

    #[test]
    fn property_working_time_matches_the_files() {
        let entries = shipped_entries();
        let mut rng = SplitMix64::new(0x5EED_0003);
        for cal in calendars() {
            for _ in 0..3_000 {
                let t = random_instant(&mut rng, &cal);
                let local = LocalDateTime::from_utc_ms(t);
                let ms = i64::from(local.ms_of_day());
                let in_period = |d: LocalDate, ms: i64| {
                    oracle_day_works(&entries, d)
                        && cal
                            .working_hours()
                            .periods()
                            .iter()
                            .any(|p| p.start_ms() <= ms && ms <= p.end_ms())
                };
                let expected = in_period(local.date(), ms)
                    || (ms == 0 && in_period(local.date().add_days(-1), MS_PER_DAY));
                assert_eq!(
                    cal.is_working_time(t),
                    expected,
                    "{} under {}",
                    show(t),
                    cal.hours
                );
                assert_eq!(
                    cal.is_working_day(local.date()),
                    oracle_day_works(&entries, local.date())
                );
            }
        }
    }

    #[test]
    fn property_next_working_moment_is_the_first_one() {
        let mut rng = SplitMix64::new(0x5EED_0004);
        for cal in calendars() {
            for _ in 0..300 {
                let t = random_instant(&mut rng, &cal);
                let n = cal.next_working_moment(t);
                assert!(n >= t && cal.is_working_time(n), "{}", show(t));
                assert_eq!(cal.working_ms_between(t, n), 0);
                // No working moment before it: probe every minute and the last millisecond.
                let mut probe = t;
                while probe < n {
                    assert!(!cal.is_working_time(probe), "{} -> {}", show(t), show(n));
                    probe += MS_PER_MINUTE;
                }
                if n > t {
                    assert!(!cal.is_working_time(n - 1));
                }
            }
        }
    }

    #[test]
    fn property_working_days_keep_the_clock_and_count_days() {
        let entries = shipped_entries();
        let mut rng = SplitMix64::new(0x5EED_0005);
        for cal in calendars() {
            for _ in 0..1_000 {
                let s = random_instant(&mut rng, &cal);
                let n = rng.range_i64(0, 40) as u32;
                let due = cal.add_working_days(s, n);
                let from = cal.next_working_moment(s);
                let ctx = || format!("{} + {n} wd under {} = {}", show(s), cal.hours, show(due));
                assert!(cal.is_working_time(due), "{}", ctx());
                assert!(due >= from, "{}", ctx());
                // Same clock time, whole days later (periods ending 24:00 read as 00:00).
                assert_eq!((due - from).rem_euclid(MS_PER_DAY), 0, "{}", ctx());
                // Exactly n working days after the day counting began on. A
                // local midnight that ends a 24:00 period belongs to the day before.
                let shift = i64::from(!oracle_day_works(&entries, LocalDate::from_utc_ms(from)));
                let first = LocalDateTime::from_utc_ms(from - shift);
                let last = LocalDateTime::from_utc_ms(due - shift);
                let mut count = 0;
                let mut d = first.date();
                while d < last.date() {
                    d = d.add_days(1);
                    count += u32::from(oracle_day_works(&entries, d));
                }
                assert_eq!(count, n, "{}", ctx());
                assert!(oracle_day_works(&entries, last.date()), "{}", ctx());
            }
        }
    }

    #[test]
    fn property_between_is_additive_and_antisymmetric() {
        let mut rng = SplitMix64::new(0x5EED_0006);
        for cal in calendars() {
            for _ in 0..2_000 {
                let a = random_instant(&mut rng, &cal);
                let b = random_instant(&mut rng, &cal);
                let c = random_instant(&mut rng, &cal);
                assert_eq!(
                    cal.working_ms_between(a, b) + cal.working_ms_between(b, c),
                    cal.working_ms_between(a, c)
                );
                assert_eq!(cal.working_ms_between(a, b), -cal.working_ms_between(b, a));
                assert_eq!(
                    cal.working_minutes_between(a, b),
                    -cal.working_minutes_between(b, a)
                );
            }
        }
    }

    #[test]
    fn property_day_counts_match_a_walk() {
        let cal = Calendar::shipped();
        let mut rng = SplitMix64::new(0x5EED_0007);
        let first = date("2024-12-01").days_since_epoch();
        for _ in 0..2_000 {
            let a = rng.range_i64(first, first + 1_200);
            let b = rng.range_i64(first, first + 1_200);
            let (lo, hi) = (a.min(b), a.max(b));
            let walked = (lo..hi).filter(|d| cal.day_works(*d)).count() as i64;
            let sign = if a <= b { 1 } else { -1 };
            assert_eq!(cal.working_days_in(a, b), sign * walked);
            let n = rng.range_i64(-60, 60);
            let d = cal.nth_working_day(a, n);
            assert!(cal.day_works(d));
            assert_eq!(cal.working_days_in(a, d), n, "base {a} n {n}");
        }
    }

    #[test]
    fn admins_can_override_a_year() {
        let text = "# our county's own 2026\nyear 2026\n2026-10-09 holiday 县庆 # local\n";
        let cal = Calendar::shipped().with_year_text(text).unwrap();
        // The shipped 2026 is gone entirely, other years stay.
        assert!(cal.is_working_day(date("2026-10-01")));
        assert!(!cal.is_working_day(date("2026-10-10")));
        assert!(!cal.is_working_day(date("2026-10-09")));
        assert_eq!(cal.day_override(date("2026-10-09")).unwrap().name, "县庆");
        assert!(!cal.is_working_day(date("2025-10-01")));
        assert_eq!(cal.years().collect::<Vec<_>>(), vec![2025, 2026, 2027]);
        // A file with Windows line ends and a byte-order mark reads the same.
        let crlf = "\u{feff}year 2028\r\n2028-01-03 holiday x\r\n";
        let cal = Calendar::new(WorkingHours::default())
            .with_year_text(crlf)
            .unwrap();
        assert!(!cal.is_working_day(date("2028-01-03")));
    }

    #[test]
    fn bad_holiday_lines_are_refused_naming_the_line() {
        type Check = fn(&LineError) -> bool;
        let cases: [(&str, usize, Check); 10] = [
            ("year 2026\n2026-13-01 holiday x", 2, |e| {
                matches!(e, LineError::InvalidDate(_))
            }),
            ("year 2026\n\n2026-02-30 holiday x", 3, |e| {
                matches!(e, LineError::InvalidDate(_))
            }),
            ("year 2026\n2026-10-01 vacation", 2, |e| {
                matches!(e, LineError::UnknownKind(_))
            }),
            ("year 2026\n2026-10-01", 2, |e| {
                *e == LineError::Unrecognised
            }),
            ("# c\n2026-10-01 holiday\nyear 2026", 2, |e| {
                *e == LineError::DateBeforeYear
            }),
            ("year 2026\nyear 2027", 2, |e| {
                *e == LineError::RepeatedYear(1)
            }),
            ("year 26", 1, |e| matches!(e, LineError::InvalidYear(_))),
            ("year 2026\n2027-01-01 holiday", 2, |e| {
                matches!(e, LineError::OutsideYear { year: 2026, .. })
            }),
            (
                "year 2026\n2026-10-01 holiday\n# x\n2026-10-01 holiday",
                4,
                |e| matches!(e, LineError::Duplicate { first_line: 2, .. }),
            ),
            ("year 2026\n2026-10-09 workday", 2, |e| {
                matches!(
                    e,
                    LineError::WorkdayOnWeekday {
                        weekday: Weekday::Friday,
                        ..
                    }
                )
            }),
        ];
        for (text, want_line, check) in cases {
            let err = Calendar::parse_year(text).unwrap_err();
            match &err {
                CalendarError::Line { line, error, .. } => {
                    assert_eq!(*line, want_line, "{text:?}: {err}");
                    assert!(check(error), "{text:?}: {err}");
                    assert!(
                        err.to_string().contains(&format!("line {want_line} ")),
                        "{err}"
                    );
                }
                other => panic!("{text:?}: {other}"),
            }
        }
        assert_eq!(
            Calendar::parse_year("# nothing\n"),
            Err(CalendarError::MissingYear)
        );
        assert!(Calendar::shipped().with_year_text("garbage").is_err());
    }

    #[test]
    fn time_limits_parse_format_and_round_trip() {
        use serde::de::IntoDeserializer;
        assert_eq!("4wh".parse(), Ok(TimeLimit::WorkingHours(4)));
        assert_eq!("7wd".parse(), Ok(TimeLimit::WorkingDays(7)));
        assert_eq!("30wm".parse(), Ok(TimeLimit::WorkingMinutes(30)));
        assert_eq!("8m".parse(), Ok(TimeLimit::CalendarMinutes(8)));
        for bad in [
            "",
            "wh",
            "4",
            "4 wh",
            " 4wh",
            "-4wh",
            "+4wh",
            "4WH",
            "4h",
            "4whx",
            "4294967296m",
        ] {
            assert!(bad.parse::<TimeLimit>().is_err(), "{bad:?}");
        }
        let mut rng = SplitMix64::new(0x5EED_0008);
        for _ in 0..2_000 {
            let n = rng.next_u64() as u32 >> rng.range_i64(0, 32);
            let limit = *rng.pick(&[
                TimeLimit::WorkingMinutes(n),
                TimeLimit::WorkingHours(n),
                TimeLimit::WorkingDays(n),
                TimeLimit::CalendarMinutes(n),
            ]);
            let text = limit.to_string();
            assert_eq!(text.parse::<TimeLimit>(), Ok(limit));
            let de: Result<TimeLimit, serde::de::value::Error> =
                TimeLimit::deserialize(text.as_str().into_deserializer());
            assert_eq!(de, Ok(limit));
        }
        let de: Result<TimeLimit, serde::de::value::Error> =
            TimeLimit::deserialize("4 hours".into_deserializer());
        assert!(de.is_err());
    }

    #[test]
    fn emergencies_run_on_the_wall_clock() {
        let cal = Calendar::shipped();
        let start = at("2026-10-01 03:00"); // a holiday night
        let due = |s: &str| show(s.parse::<TimeLimit>().unwrap().deadline(&cal, start));
        assert_eq!(due("1m"), "2026-10-01 03:01:00");
        assert_eq!(due("8m"), "2026-10-01 03:08:00");
        assert_eq!(due("60m"), "2026-10-01 04:00:00");
        assert_eq!(due("30wm"), "2026-10-08 09:00:00");
    }

    #[test]
    fn working_hours_are_validated() {
        let h: WorkingHours = "08:30-12:00,13:30-17:30".parse().unwrap();
        assert_eq!(h, WorkingHours::default());
        assert_eq!(h.to_string(), "08:30-12:00,13:30-17:30");
        assert_eq!(h.minutes_per_day(), 450);
        let whole: WorkingHours = "00:00-24:00".parse().unwrap();
        assert_eq!(whole.to_string(), "00:00-24:00");
        for bad in [
            "",
            "12:00-08:30",
            "08:30-08:30",
            "08:30-12:00,11:00-17:30",
            "08:30-12:00,12:00-17:30",
            "13:30-17:30,08:30-12:00",
            "08:30-24:01",
            "25:00-26:00",
            "8:30-12:00",
            "08:60-12:00",
            "08:30",
        ] {
            let err = bad.parse::<WorkingHours>().unwrap_err();
            assert!(
                matches!(err, CalendarError::InvalidWorkingHours { .. }),
                "{bad:?}"
            );
        }
        assert!(WorkingHours::new(Vec::new()).is_err());
    }

    #[test]
    fn dates_convert_and_know_their_weekday() {
        // Walk day by day from 1600 to 2400 against the day numbers.
        let mut d = date("1600-01-01");
        let mut n = d.days_since_epoch();
        while d.year() <= 2400 {
            assert_eq!(LocalDate::from_days_since_epoch(n), d);
            let next = LocalDate::new(d.year(), d.month(), d.day() + 1)
                .or_else(|| LocalDate::new(d.year(), d.month() + 1, 1))
                .or_else(|| LocalDate::new(d.year() + 1, 1, 1))
                .unwrap();
            d = next;
            n += 1;
        }
        assert_eq!(date("1970-01-01").days_since_epoch(), 0);
        assert_eq!(date("1970-01-01").weekday(), Weekday::Thursday);
        assert_eq!(date("2000-02-29").weekday(), Weekday::Tuesday);
        assert_eq!(date("2026-10-01").weekday(), Weekday::Thursday);
        assert_eq!(date("2026-10-10").weekday(), Weekday::Saturday);
        assert_eq!(date("2027-02-06").weekday(), Weekday::Saturday);
        assert!("2025-02-29".parse::<LocalDate>().is_err());
        assert!("2024-02-29".parse::<LocalDate>().is_ok());
        for bad in [
            "2026-1-01",
            "2026/01/01",
            "26-01-01",
            "2026-01-01x",
            "2026-00-10",
            "",
        ] {
            assert!(bad.parse::<LocalDate>().is_err(), "{bad:?}");
        }
        assert_eq!(date("0987-06-05").to_string(), "0987-06-05");
        assert_eq!(date("2026-12-31").add_days(1), date("2027-01-01"));
    }

    #[test]
    fn shanghai_is_utc_plus_eight() {
        assert_eq!(at("1970-01-01 08:00"), 0);
        assert_eq!(at("2000-01-01 00:00"), 946_656_000_000);
        assert_eq!(
            LocalDate::from_utc_ms(946_656_000_000 - 1),
            date("1999-12-31")
        );
        assert_eq!(date("2000-01-01").start_utc_ms(), 946_656_000_000);
        let t = at("2026-09-30 16:00:05.123");
        assert_eq!(show(t), "2026-09-30 16:00:05.123");
        assert_eq!(LocalDateTime::from_utc_ms(t).hour(), 16);
        assert_eq!(
            "2026-09-30T16:00"
                .parse::<LocalDateTime>()
                .unwrap()
                .to_utc_ms(),
            at("2026-09-30 16:00")
        );
        for bad in [
            "2026-09-30",
            "2026-09-30 24:00",
            "2026-09-30 16:00.123",
            "2026-09-30 16:0",
        ] {
            assert!(bad.parse::<LocalDateTime>().is_err(), "{bad:?}");
        }
        let mut rng = SplitMix64::new(0x5EED_0009);
        for _ in 0..2_000 {
            let t = rng.range_i64(-10_000_000_000_000, 10_000_000_000_000);
            let local = LocalDateTime::from_utc_ms(t);
            assert_eq!(local.to_utc_ms(), t);
            if (0..=9999).contains(&local.date().year()) {
                assert_eq!(local.to_string().parse::<LocalDateTime>(), Ok(local));
            }
        }
    }
}
