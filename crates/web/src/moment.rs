//! A point in time as pages show it: readable in UTC without a script, and
//! marked up so `local-time.js` can show it in the viewer's own time zone.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment(OffsetDateTime);

impl Moment {
    pub fn new(at: &OffsetDateTime) -> Self {
        Self(at.to_offset(UtcOffset::UTC))
    }

    /// The `datetime` attribute: RFC 3339 to the second.
    pub fn machine(&self) -> String {
        self.0
            .replace_nanosecond(0)
            .ok()
            .and_then(|at| at.format(&Rfc3339).ok())
            .unwrap_or_default()
    }
}

/// `2026-12-04 21:13 UTC`: minutes are what a reader compares.
impl fmt::Display for Moment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:02}:{:02} UTC",
            self.0.date(),
            self.0.hour(),
            self.0.minute()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_moment_reads_to_the_minute_in_utc_and_is_marked_up_to_the_second() {
        let at = Moment::new(&datetime!(2026-12-04 22:13:07.123456789 +01:00));
        assert_eq!(at.to_string(), "2026-12-04 21:13 UTC");
        assert_eq!(at.machine(), "2026-12-04T21:13:07Z");
    }
}
