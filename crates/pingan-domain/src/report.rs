//! The monthly safety report's calendar: which month a report covers and
//! when the schedule makes it (by default the 15th at 08:00 Asia/Shanghai,
//! for the month before).
use std::fmt;

use crate::calendar::{LocalDate, LocalDateTime};
use crate::indicators::{Period, PeriodKind};

/// A calendar month (`YYYY-MM`), in Asia/Shanghai.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u8,
}

impl Month {
    pub fn new(year: i32, month: u8) -> Option<Month> {
        ((1..=12).contains(&month) && (1..=9999).contains(&year)).then_some(Month { year, month })
    }

    pub fn of(date: LocalDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub const fn year(self) -> i32 {
        self.year
    }

    pub const fn month(self) -> u8 {
        self.month
    }

    pub fn first_day(self) -> LocalDate {
        LocalDate::new(self.year, self.month, 1).expect("a valid month has a first day")
    }

    pub fn previous(self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// The month as an indicator period.
    pub fn period(self) -> Period {
        Period::containing(PeriodKind::Month, self.first_day())
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl std::str::FromStr for Month {
    type Err = String;

    /// `YYYY-MM`.
    fn from_str(s: &str) -> Result<Month, String> {
        let bad = || format!("{s:?} is not a month YYYY-MM");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        Month::new(year, month).ok_or_else(bad)
    }
}

/// When the schedule makes the monthly reports: a day of the month (1-28,
/// so every month has it) and an hour, Asia/Shanghai.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportSchedule {
    day: u8,
    hour: u8,
}

impl Default for ReportSchedule {
    /// The 15th at 08:00: late enough for the month's verifications and
    /// ratings to be in.
    fn default() -> Self {
        ReportSchedule { day: 15, hour: 8 }
    }
}

impl ReportSchedule {
    pub fn new(day: u8, hour: u8) -> Option<ReportSchedule> {
        ((1..=28).contains(&day) && hour < 24).then_some(ReportSchedule { day, hour })
    }

    /// The moment (UTC ms) the schedule makes the reports of `month`: in the
    /// month after it.
    pub fn moment_for(self, month: Month) -> i64 {
        let next = month.next();
        let date = LocalDate::new(next.year, next.month, self.day).expect("day 1-28 exists");
        LocalDateTime::new(date, self.hour, 0, 0)
            .expect("hour < 24")
            .to_utc_ms()
    }

    /// The newest month whose reports are due by `now`.
    pub fn latest_due(self, now: i64) -> Month {
        let this = Month::of(LocalDate::from_utc_ms(now));
        let previous = this.previous();
        if self.moment_for(previous) <= now {
            previous
        } else {
            previous.previous()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i32, m: u8, d: u8, h: u8, min: u8) -> i64 {
        LocalDateTime::new(LocalDate::new(y, m, d).unwrap(), h, min, 0)
            .unwrap()
            .to_utc_ms()
    }

    #[test]
    fn months_parse_and_step_over_years() {
        let m: Month = "2026-01".parse().unwrap();
        assert_eq!(m.previous().to_string(), "2025-12");
        assert_eq!(m.previous().next(), m);
        assert_eq!(
            "2026-12".parse::<Month>().unwrap().next().to_string(),
            "2027-01"
        );
        for bad in [
            "2026-13", "2026-00", "2026-1", "26-01", "2026/01", "abcd-ef", "",
        ] {
            assert!(bad.parse::<Month>().is_err(), "{bad}");
        }
        let p = m.period();
        assert_eq!(p.from.to_string(), "2026-01-01");
        assert_eq!(p.to.to_string(), "2026-02-01");
    }

    #[test]
    fn the_schedule_reports_the_month_before_from_the_15th_at_8_shanghai() {
        let s = ReportSchedule::default();
        // 2026-11-15 08:00 in Shanghai is 00:00 UTC.
        assert_eq!(
            s.moment_for("2026-10".parse().unwrap()),
            at(2026, 11, 15, 8, 0)
        );
        assert_eq!(at(2026, 11, 15, 8, 0) % 86_400_000, 0);
        assert_eq!(s.latest_due(at(2026, 11, 15, 7, 59)).to_string(), "2026-09");
        assert_eq!(s.latest_due(at(2026, 11, 15, 8, 0)).to_string(), "2026-10");
        assert_eq!(
            s.latest_due(at(2026, 11, 30, 23, 59)).to_string(),
            "2026-10"
        );
        assert_eq!(s.latest_due(at(2027, 1, 3, 0, 0)).to_string(), "2026-11");
        assert_eq!(s.latest_due(at(2027, 1, 15, 8, 0)).to_string(), "2026-12");
        let early = ReportSchedule::new(1, 0).unwrap();
        assert_eq!(
            early.latest_due(at(2026, 3, 1, 0, 0)).to_string(),
            "2026-02"
        );
        assert!(ReportSchedule::new(29, 8).is_none());
        assert!(ReportSchedule::new(15, 24).is_none());
    }
}
