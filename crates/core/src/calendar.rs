//! Proleptic Gregorian calendar arithmetic for local dates and wall-clock times, without a
//! clock or a time-zone database: just enough for metadata dates, folder-name dates and time
//! proximity grouping.

use std::fmt;

/// A calendar day, `YYYY-MM-DD` when displayed. Ordered chronologically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day {
    pub year: i32,
    pub month: u8,
    pub day: u8,
}

impl Day {
    /// `None` unless the day exists (months 1–12, day within the month, leap years).
    pub fn new(year: i32, month: u32, day: u32) -> Option<Day> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Day {
            year,
            month: month as u8,
            day: day as u8,
        })
    }

    /// Parses exactly `YYYY-MM-DD`.
    pub fn parse_iso(s: &str) -> Option<Day> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        Day::new(
            digits(&b[0..4])? as i32,
            digits(&b[5..7])?,
            digits(&b[8..10])?,
        )
    }

    /// Days since 1970-01-01 (negative before).
    pub fn days_since_epoch(self) -> i64 {
        days_from_civil(self.year as i64, self.month as u32, self.day as u32)
    }

    /// The day `days` days after 1970-01-01.
    pub fn from_days_since_epoch(days: i64) -> Day {
        let (y, m, d) = civil_from_days(days);
        Day {
            year: y.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            month: m as u8,
            day: d as u8,
        }
    }

    /// The UTC day of a Unix time in milliseconds (e.g. JavaScript's `Date.now()`).
    pub fn from_unix_ms(ms: f64) -> Day {
        let days = if ms.is_finite() {
            (ms / 86_400_000.0).floor().clamp(-1e9, 1e9) as i64
        } else {
            0
        };
        Day::from_days_since_epoch(days)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A wall-clock time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay {
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl TimeOfDay {
    /// `None` unless 00:00:00 ≤ time ≤ 23:59:59.
    pub fn new(hour: u32, minute: u32, second: u32) -> Option<TimeOfDay> {
        (hour < 24 && minute < 60 && second < 60).then_some(TimeOfDay {
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
        })
    }

    /// Parses exactly `HH:MM:SS`.
    pub fn parse(s: &str) -> Option<TimeOfDay> {
        let b = s.as_bytes();
        if b.len() != 8 || b[2] != b':' || b[5] != b':' {
            return None;
        }
        TimeOfDay::new(digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?)
    }

    pub fn seconds(self) -> i64 {
        self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}:{:02}", self.hour, self.minute, self.second)
    }
}

/// Seconds since 1970-01-01 00:00:00 of a local wall-clock time (no time zone applied).
pub fn local_seconds(day: Day, time: TimeOfDay) -> i64 {
    day.days_since_epoch() * 86_400 + time.seconds()
}

/// Parses a UTC offset `+HH:MM` / `-HH:MM` (EXIF OffsetTime*, up to ±14:00); returns it
/// normalised.
pub fn parse_utc_offset(s: &str) -> Option<String> {
    let b = s.trim().as_bytes();
    if b.len() != 6 || !(b[0] == b'+' || b[0] == b'-') || b[3] != b':' {
        return None;
    }
    let h = digits(&b[1..3])?;
    let m = digits(&b[4..6])?;
    if h > 14 || m > 59 || (h == 14 && m > 0) {
        return None;
    }
    Some(format!("{}{:02}:{:02}", b[0] as char, h, m))
}

pub(crate) fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, d| n * 10 + (d - b'0') as u32))
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days: the crate's one copy (SAS times in
// `sas` and `sas_token` use them too).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_days() {
        assert!(Day::new(2024, 2, 29).is_some());
        assert!(Day::new(2023, 2, 29).is_none());
        assert!(Day::new(1900, 2, 29).is_none());
        assert!(Day::new(2000, 2, 29).is_some());
        assert!(Day::new(2024, 13, 1).is_none());
        assert!(Day::new(0, 0, 0).is_none());
        assert_eq!(
            Day::parse_iso("2024-07-15")
                .map(|d| d.to_string())
                .as_deref(),
            Some("2024-07-15")
        );
        assert!(Day::parse_iso("2024-7-15").is_none());
    }

    #[test]
    fn epoch_round_trips() {
        for days in [-800_000, -1, 0, 1, 19_000, 2_932_896] {
            assert_eq!(Day::from_days_since_epoch(days).days_since_epoch(), days);
        }
        assert_eq!(
            Day::from_unix_ms(1_721_001_600_000.0).to_string(),
            "2024-07-15"
        );
        assert_eq!(Day::from_unix_ms(f64::NAN).to_string(), "1970-01-01");
    }

    #[test]
    fn times_and_offsets() {
        assert_eq!(
            TimeOfDay::parse("23:59:59").map(|t| t.seconds()),
            Some(86_399)
        );
        assert!(TimeOfDay::parse("24:00:00").is_none());
        assert_eq!(parse_utc_offset("+02:00").as_deref(), Some("+02:00"));
        assert_eq!(parse_utc_offset("-09:30").as_deref(), Some("-09:30"));
        assert!(parse_utc_offset("+15:00").is_none());
        assert!(parse_utc_offset("   :  ").is_none());
    }
}
