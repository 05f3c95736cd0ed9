//! When a payment executes: now, on a date, or as a standing order, whose
//! nominal dates and business days are computed here.

use time::{Date, Month, Weekday};

use crate::ledger::text_enum;

text_enum!(
    /// Berlin Group `frequencyCode` of a standing order.
    Frequency {
        Daily = "Daily",
        Weekly = "Weekly",
        EveryTwoWeeks = "EveryTwoWeeks",
        Monthly = "Monthly",
        EveryTwoMonths = "EveryTwoMonths",
        Quarterly = "Quarterly",
        SemiAnnual = "SemiAnnual",
        Annual = "Annual",
        MonthlyVariable = "MonthlyVariable",
    }
);

text_enum!(
    /// Berlin Group `executionRule`: where a date on a weekend moves.
    ExecutionRule { Following = "following", Preceding = "preceding" }
);

/// A periodic payment's schedule. Dates here are nominal; the execution
/// rule moves one that falls on a weekend to a business day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingOrder {
    pub start_date: Date,
    pub end_date: Option<Date>,
    pub frequency: Frequency,
    pub execution_rule: Option<ExecutionRule>,
    /// Day of the month (1–31) for monthly-based frequencies; the start day otherwise.
    pub day_of_execution: Option<u8>,
}

impl StandingOrder {
    /// The first nominal date of the schedule; None when none falls
    /// between the start and the end date.
    pub fn first(&self) -> Option<Date> {
        let first = match self.months() {
            Some(_) => {
                let anchor = self.anchor_day();
                let candidate = on_day(self.start_date.year(), self.start_date.month(), anchor);
                if candidate >= self.start_date {
                    candidate
                } else {
                    add_months(self.start_date, 1, anchor)
                }
            }
            None => self.start_date,
        };
        match self.end_date {
            Some(end) if first > end => None,
            _ => Some(first),
        }
    }

    /// The first nominal date on or after `day`: a standing order authorised
    /// late starts from its next date instead of paying the missed ones.
    pub fn first_on_or_after(&self, day: Date) -> Option<Date> {
        let mut date = self.first()?;
        while date < day {
            date = self.after(date)?;
        }
        Some(date)
    }

    /// The nominal date after `nominal`, or None past the end date.
    pub fn after(&self, nominal: Date) -> Option<Date> {
        let next = match self.months() {
            Some(months) => add_months(nominal, months, self.anchor_day()),
            None => {
                let days = match self.frequency {
                    Frequency::Weekly => 7,
                    Frequency::EveryTwoWeeks => 14,
                    _ => 1,
                };
                nominal.checked_add(time::Duration::days(days))?
            }
        };
        match self.end_date {
            Some(end) if next > end => None,
            _ => Some(next),
        }
    }

    /// The day `nominal` executes on: weekends move by the execution rule
    /// (following by default). Public holidays are not modelled.
    pub fn business_day(&self, nominal: Date) -> Date {
        let step = match self.execution_rule {
            Some(ExecutionRule::Preceding) => Date::previous_day,
            _ => Date::next_day,
        };
        let mut day = nominal;
        while matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            match step(day) {
                Some(d) => day = d,
                None => break,
            }
        }
        day
    }

    fn months(&self) -> Option<u8> {
        match self.frequency {
            Frequency::Monthly | Frequency::MonthlyVariable => Some(1),
            Frequency::EveryTwoMonths => Some(2),
            Frequency::Quarterly => Some(3),
            Frequency::SemiAnnual => Some(6),
            Frequency::Annual => Some(12),
            _ => None,
        }
    }

    fn anchor_day(&self) -> u8 {
        self.day_of_execution.unwrap_or(self.start_date.day())
    }
}

/// `day` of the month, or its last day when the month is shorter.
fn on_day(year: i32, month: Month, day: u8) -> Date {
    let last = month.length(year);
    Date::from_calendar_date(year, month, day.min(last)).unwrap_or(Date::MIN)
}

/// `months` after `date`'s month, on `anchor` (or the month's last day).
fn add_months(date: Date, months: u8, anchor: u8) -> Date {
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + i32::from(months);
    let (year, month0) = (index.div_euclid(12), index.rem_euclid(12));
    let month = u8::try_from(month0 + 1)
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .unwrap_or(Month::January);
    on_day(year, month, anchor)
}

/// A standing order whose dates have all passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no execution date of the standing order is left")]
pub struct NoDateLeft;

/// When a payment executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Execution {
    /// As soon as the PSU has authorised it.
    Immediate,
    /// Once, on this date (a future-dated payment).
    OnDate(Date),
    /// A standing order.
    Periodic(StandingOrder),
}

/// What the PSU reads about when a payment executes.
impl std::fmt::Display for Execution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Execution::Immediate => f.write_str("now"),
            Execution::OnDate(date) => write!(f, "on {date}"),
            Execution::Periodic(order) => {
                match order.first() {
                    Some(first) => write!(f, "{} from {first}", order.frequency)?,
                    None => write!(f, "{} (no date left)", order.frequency)?,
                }
                match order.end_date {
                    Some(end) => write!(f, " until {end}")?,
                    None => f.write_str(" until cancelled")?,
                }
                let rule = match order.execution_rule {
                    Some(ExecutionRule::Preceding) => "preceding",
                    _ => "following",
                };
                write!(f, "; a date on a weekend moves to the {rule} business day")
            }
        }
    }
}

impl Execution {
    /// For a payment authorised on `today`: None when it executes now,
    /// otherwise its first nominal date (a past requested date is today;
    /// a standing order skips the dates it missed). `Err` when a standing
    /// order has no date left.
    pub fn first_due(&self, today: Date) -> Result<Option<Date>, NoDateLeft> {
        match self {
            Execution::Immediate => Ok(None),
            Execution::OnDate(date) => Ok(Some((*date).max(today))),
            Execution::Periodic(order) => {
                order.first_on_or_after(today).map(Some).ok_or(NoDateLeft)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use time::macros::date;

    use super::*;

    fn order(start: Date, frequency: Frequency, day: Option<u8>) -> StandingOrder {
        StandingOrder {
            start_date: start,
            end_date: None,
            frequency,
            execution_rule: None,
            day_of_execution: day,
        }
    }

    #[test]
    fn monthly_dates_keep_their_day_and_clamp_to_short_months() {
        let o = order(date!(2027 - 01 - 10), Frequency::Monthly, Some(31));
        assert_eq!(o.first(), Some(date!(2027 - 01 - 31)));
        assert_eq!(o.after(date!(2027 - 01 - 31)), Some(date!(2027 - 02 - 28)));
        assert_eq!(o.after(date!(2027 - 02 - 28)), Some(date!(2027 - 03 - 31)));
        let late = order(date!(2027 - 01 - 20), Frequency::Monthly, Some(5));
        assert_eq!(
            late.first(),
            Some(date!(2027 - 02 - 05)),
            "day 5 of January has passed"
        );
        let ended = StandingOrder {
            end_date: Some(date!(2027 - 01 - 31)),
            ..late
        };
        assert_eq!(ended.first(), None, "no day 5 before the end date");
        let q = order(date!(2027 - 11 - 15), Frequency::Quarterly, None);
        assert_eq!(q.after(date!(2027 - 11 - 15)), Some(date!(2028 - 02 - 15)));
        assert_eq!(
            q.first_on_or_after(date!(2028 - 01 - 01)),
            Some(date!(2028 - 02 - 15))
        );
    }

    #[test]
    fn weekly_schedules_end_at_the_end_date() {
        let mut o = order(date!(2027 - 03 - 01), Frequency::EveryTwoWeeks, None);
        o.end_date = Some(date!(2027 - 03 - 20));
        assert_eq!(o.after(date!(2027 - 03 - 01)), Some(date!(2027 - 03 - 15)));
        assert_eq!(o.after(date!(2027 - 03 - 15)), None);
        assert_eq!(
            o.first_on_or_after(date!(2027 - 03 - 16)),
            None,
            "all dates passed"
        );
    }

    #[test]
    fn a_late_authorisation_skips_the_past_dates_and_a_past_date_is_today() {
        let o = order(date!(2027 - 03 - 01), Frequency::Daily, None);
        let periodic = Execution::Periodic(o);
        assert_eq!(
            periodic.first_due(date!(2027 - 03 - 31)),
            Ok(Some(date!(2027 - 03 - 31)))
        );
        let once = Execution::OnDate(date!(2027 - 03 - 01));
        assert_eq!(
            once.first_due(date!(2027 - 03 - 05)),
            Ok(Some(date!(2027 - 03 - 05)))
        );
        assert_eq!(
            Execution::Immediate.first_due(date!(2027 - 03 - 05)),
            Ok(None)
        );
    }

    #[test]
    fn weekends_move_by_the_execution_rule() {
        let mut o = order(date!(2027 - 03 - 06), Frequency::Monthly, None); // a Saturday
        assert_eq!(o.business_day(o.start_date), date!(2027 - 03 - 08));
        o.execution_rule = Some(ExecutionRule::Preceding);
        assert_eq!(o.business_day(o.start_date), date!(2027 - 03 - 05));
    }
}
