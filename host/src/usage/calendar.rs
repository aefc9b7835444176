//! UTC hour buckets and calendar months, in Unix seconds.

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

/// Returns the start of the UTC hour that contains `unix`.
pub fn hour_start(unix: u64) -> u64 {
    unix - unix % HOUR
}

/// Returns the start of the UTC calendar month that contains `unix`, and the start of the
/// next.
pub fn month_bounds(unix: u64) -> (u64, u64) {
    let (year, month, _) = civil_from_days(unix / DAY);
    let (next_year, next_month) = if month == 12 { (year + 1, 1) } else { (year, month + 1) };
    (days_from_civil(year, month, 1) * DAY, days_from_civil(next_year, next_month, 1) * DAY)
}

/// Formats the month that contains `unix` as `YYYY-MM`.
pub fn month_label(unix: u64) -> String {
    let (year, month, _) = civil_from_days(unix / DAY);
    format!("{year:04}-{month:02}")
}

/// Year, month (1–12) and day (1–31) of a day count since 1970-01-01, in the proleptic
/// Gregorian calendar.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Count from 0000-03-01, so that each 400-year era starts with March and the leap day
    // is the last day of its year. 719,468 days separate 0000-03-01 from 1970-01-01.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted % 146_097;
    // Years of 365 days, corrected for the leap days of each 4, 100 and 400 years.
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 153 days per 5 months (31+30+31+30+31).
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// Days since 1970-01-01 of a date in the proleptic Gregorian calendar; the inverse of
/// [`civil_from_days`] for dates from 1970 on.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let month_from_march = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = 365 * year_of_era + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).saturating_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from GNU date: `date -u -d 2024-02-01 +%s` and so on.
    #[test]
    fn month_bounds_match_date() {
        assert_eq!(month_bounds(1_709_164_800), (1_706_745_600, 1_709_251_200)); // 2024-02-29
        assert_eq!(month_bounds(1_706_745_600), (1_706_745_600, 1_709_251_200)); // 2024-02-01 00:00
        assert_eq!(month_bounds(1_709_251_199), (1_706_745_600, 1_709_251_200)); // last second of Feb
        assert_eq!(month_bounds(1_733_011_200 + 5), (1_733_011_200, 1_735_689_600)); // December
        assert_eq!(month_bounds(0).0, 0);
    }

    #[test]
    fn labels() {
        assert_eq!(month_label(1_709_164_800), "2024-02");
        assert_eq!(month_label(1_735_689_600 - 1), "2024-12");
        assert_eq!(month_label(1_735_689_600), "2025-01");
        assert_eq!(month_label(951_782_400), "2000-02");
        assert_eq!(month_label(4_107_542_400), "2100-03");
    }

    #[test]
    fn every_day_round_trips() {
        // 1970 to past 2400, so both century rules and the 400-year rule are crossed.
        for days in 0..160_000 {
            let (year, month, day) = civil_from_days(days);
            assert!((1..=12).contains(&month), "day {days}");
            assert!((1..=31).contains(&day), "day {days}");
            assert_eq!(days_from_civil(year, month, day), days, "{year}-{month}-{day}");
        }
    }

    #[test]
    fn hours() {
        assert_eq!(hour_start(7_199), 3_600);
        assert_eq!(hour_start(7_200), 7_200);
    }
}
