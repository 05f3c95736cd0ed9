//! Rate plans: how many calls an application may make per second and per
//! day. The operator configures them; a subscription names one of the three
//! tiers ([`Plan`]), and an operator may assign any configured plan to an
//! application, which then applies to all of its calls.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::registry::Plan;

/// One plan's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatePlan {
    pub name: String,
    /// Sustained calls per second; none: no rate limit.
    pub per_second: Option<u32>,
    /// Calls allowed at once (at least 1); the sustained rate when not set.
    pub burst: u32,
    /// Calls per UTC day; none: no quota.
    pub per_day: Option<u64>,
}

impl RatePlan {
    /// A rate with its burst defaulting to the rate.
    pub fn new(
        name: &str,
        per_second: Option<u32>,
        burst: Option<u32>,
        per_day: Option<u64>,
    ) -> Self {
        let per_second = per_second.filter(|n| *n > 0);
        Self {
            name: name.to_owned(),
            per_second,
            burst: burst.or(per_second).unwrap_or(1).max(1),
            per_day: per_day.filter(|n| *n > 0),
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.per_second.is_none() && self.per_day.is_none()
    }
}

impl fmt::Display for RatePlan {
    /// For people: "25 requests per second (bursts of 25), 10000 per day".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.per_second, self.per_day) {
            (None, None) => f.write_str("no limit"),
            (Some(s), None) => write!(f, "{s} requests per second (bursts of {})", self.burst),
            (None, Some(d)) => write!(f, "{d} requests per day"),
            (Some(s), Some(d)) => write!(
                f,
                "{s} requests per second (bursts of {}), {d} per day",
                self.burst
            ),
        }
    }
}

/// A plan's name: 1 to 40 of `a-z`, `0-9`, `-` and `_`.
pub fn is_plan_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPlan {
    #[error("{0:?} is not a plan name (1 to 40 of a-z, 0-9, - and _)")]
    Name(String),
}

/// The plans an installation offers.
#[derive(Debug, Clone)]
pub struct PlanCatalog {
    plans: BTreeMap<String, Arc<RatePlan>>,
}

impl Default for PlanCatalog {
    fn default() -> Self {
        Self::builtin()
    }
}

impl PlanCatalog {
    /// The tiers subscriptions name, and `unlimited` for benchmarks.
    pub fn builtin() -> Self {
        let plans = [
            RatePlan::new("sandbox", Some(25), None, Some(10_000)),
            RatePlan::new("standard", Some(50), None, Some(500_000)),
            RatePlan::new("premium", Some(200), None, Some(5_000_000)),
            RatePlan::new("unlimited", None, None, None),
        ];
        Self {
            plans: plans
                .into_iter()
                .map(|p| (p.name.clone(), Arc::new(p)))
                .collect(),
        }
    }

    /// The built-in plans, each replaced or joined by a configured one.
    pub fn with(plans: impl IntoIterator<Item = RatePlan>) -> Result<Self, InvalidPlan> {
        let mut catalog = Self::builtin();
        for plan in plans {
            if !is_plan_name(&plan.name) {
                return Err(InvalidPlan::Name(plan.name));
            }
            catalog.plans.insert(plan.name.clone(), Arc::new(plan));
        }
        Ok(catalog)
    }

    pub fn get(&self, name: &str) -> Option<Arc<RatePlan>> {
        self.plans.get(name).cloned()
    }

    pub fn iter(&self) -> impl Iterator<Item = &RatePlan> {
        self.plans.values().map(|p| &**p)
    }

    /// The plan in force: the one an operator assigned to the application
    /// while it is configured, else its subscription's tier.
    pub fn in_force(&self, assigned: Option<&str>, tier: Plan) -> Arc<RatePlan> {
        assigned
            .and_then(|name| self.get(name))
            .or_else(|| self.get(tier.as_str()))
            // The built-in tiers cannot be removed, only redefined.
            .unwrap_or_else(|| Arc::new(RatePlan::new(tier.as_str(), Some(1), None, Some(1))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_plans_redefine_or_join_the_builtin_ones() {
        let catalog = PlanCatalog::with([
            RatePlan::new("sandbox", Some(5), Some(10), None),
            RatePlan::new("gold", Some(1000), None, Some(1)),
        ])
        .unwrap();
        let sandbox = catalog.in_force(None, Plan::Sandbox);
        assert_eq!(
            (sandbox.per_second, sandbox.burst, sandbox.per_day),
            (Some(5), 10, None)
        );
        assert_eq!(catalog.in_force(Some("gold"), Plan::Sandbox).burst, 1000);
        // An assigned plan no longer configured falls back to the tier.
        assert_eq!(
            catalog.in_force(Some("silver"), Plan::Premium).name,
            "premium"
        );
        assert!(catalog.get("unlimited").unwrap().is_unlimited());
        assert_eq!(
            catalog.get("standard").unwrap().to_string(),
            "50 requests per second (bursts of 50), 500000 per day"
        );
        assert!(PlanCatalog::with([RatePlan::new("Gold Plan", None, None, None)]).is_err());
    }
}
