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

/// `date` as `YYYY-MM-DD`.
pub fn format_iso_date(date: Date) -> String {
    date.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
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
    }
}
