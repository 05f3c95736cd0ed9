//! ISO 8601 calendar dates as the Berlin Group and ISO 20022 write them:
//! exactly `YYYY-MM-DD`. The `time` crate's `[year]` alone would also take a
//! sign (`+2028-02-29`) and more than four digits.

use time::Date;
use time::macros::format_description;

/// `text` as a date, if it is exactly `YYYY-MM-DD` and a real day.
pub fn parse_iso_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shaped {
        return None;
    }
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

/// `date` as `YYYY-MM-DD`. On hot paths (every balance's reference date,
/// every rate-limit key), so the digits are pushed, not formatted.
pub fn format_iso_date(date: Date) -> String {
    let Ok(year @ 0..=9999) = u32::try_from(date.year()) else {
        return date
            .format(format_description!("[year]-[month]-[day]"))
            .unwrap_or_default();
    };
    let mut text = String::with_capacity(10);
    push_zero_padded(&mut text, year, 4);
    text.push('-');
    push_zero_padded(&mut text, u32::from(u8::from(date.month())), 2);
    text.push('-');
    push_zero_padded(&mut text, u32::from(date.day()), 2);
    text
}

fn push_zero_padded(text: &mut String, n: u32, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n);
    for _ in digits.len()..width {
        text.push('0');
    }
    text.push_str(digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_digit_years_without_a_sign_and_real_days() {
        let leap = parse_iso_date("2028-02-29").unwrap();
        assert_eq!(format_iso_date(leap), "2028-02-29");
        for refused in [
            "+2028-02-29",
            "-2028-02-29",
            "02028-02-29",
            "2027-02-29",
            "2028-2-29",
            "2028/02/29",
            " 2028-02-29",
            "2028-02-29T00:00",
        ] {
            assert_eq!(parse_iso_date(refused), None, "{refused}");
        }
        for date in [
            time::macros::date!(2026 - 12 - 06),
            time::macros::date!(0042 - 01 - 31),
            time::macros::date!(9999 - 12 - 31),
            time::macros::date!(-0001 - 06 - 15),
        ] {
            assert_eq!(
                format_iso_date(date),
                date.format(format_description!("[year]-[month]-[day]"))
                    .unwrap()
            );
        }
    }
}
