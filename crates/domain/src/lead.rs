//! Demo requests ("leads") left on the public site, and what the bank's
//! operators do with them in the admin console.

use std::future::Future;

use time::OffsetDateTime;

use crate::ids::LeadId;
use crate::ledger::text_enum;
use crate::portal::Email;
use crate::store::StoreError;

text_enum!(
    /// Where an operator is with a demo request.
    LeadStatus { New = "new", Contacted = "contacted", Qualified = "qualified", Closed = "closed" }
);

/// Longest name, organisation or role, in characters.
pub const MAX_SHORT_FIELD: usize = 120;
/// Longest message or operator note, in characters.
pub const MAX_LONG_FIELD: usize = 2_000;

/// A demo request as a visitor filled it in, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLead {
    pub name: String,
    pub organisation: String,
    pub role: String,
    pub email: Email,
    pub message: String,
}

/// Which field of a demo request is wrong, and why (shown beside the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct LeadFieldError {
    pub field: &'static str,
    pub problem: &'static str,
}

impl NewLead {
    /// Trims every field and checks lengths; every error found, not just the first.
    pub fn parse(
        name: &str,
        organisation: &str,
        role: &str,
        email: &str,
        message: &str,
    ) -> Result<Self, Vec<LeadFieldError>> {
        let mut errors = Vec::new();
        let mut short = |field, value: &str| {
            let value = single_line(value);
            if value.is_empty() {
                errors.push(LeadFieldError {
                    field,
                    problem: "required",
                });
            } else if value.chars().count() > MAX_SHORT_FIELD {
                errors.push(LeadFieldError {
                    field,
                    problem: "at most 120 characters",
                });
            }
            value
        };
        let name = short("name", name);
        let organisation = short("organisation", organisation);
        let role = short("role", role);
        let email = email.parse::<Email>().map_err(|_| LeadFieldError {
            field: "email",
            problem: "not a valid e-mail address",
        });
        let message = message.trim().to_owned();
        if message.chars().count() > MAX_LONG_FIELD {
            errors.push(LeadFieldError {
                field: "message",
                problem: "at most 2,000 characters",
            });
        }
        match email {
            Ok(email) if errors.is_empty() => Ok(Self {
                name,
                organisation,
                role,
                email,
                message,
            }),
            Ok(_) => Err(errors),
            Err(e) => {
                errors.push(e);
                Err(errors)
            }
        }
    }
}

/// Collapses whitespace runs (newlines included) into single spaces: a name
/// never carries a line break into a CSV export or a mail header.
fn single_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A stored demo request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lead {
    pub id: LeadId,
    pub name: String,
    pub organisation: String,
    pub role: String,
    pub email: Email,
    pub message: String,
    pub status: LeadStatus,
    /// The operators' notes.
    pub notes: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

pub trait LeadRepository: Send + Sync {
    fn create_lead(
        &self,
        id: LeadId,
        lead: NewLead,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<Lead, StoreError>> + Send;

    /// The newest `limit` requests, newest first, optionally of one status.
    fn leads(
        &self,
        status: Option<LeadStatus>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<Lead>, StoreError>> + Send;

    fn lead(&self, id: LeadId) -> impl Future<Output = Result<Option<Lead>, StoreError>> + Send;

    /// Sets status and notes; false if there is no such request.
    fn update_lead(
        &self,
        id: LeadId,
        status: LeadStatus,
        notes: &str,
        at: OffsetDateTime,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_trimmed_to_single_lines_and_every_wrong_field_is_named() {
        let lead = NewLead::parse(
            "  Ada\r\nLovelace ",
            "Bank",
            "CTO",
            " Ada@Bank.example ",
            " hi ",
        )
        .unwrap();
        assert_eq!(lead.name, "Ada Lovelace");
        assert_eq!(lead.email.as_str(), "ada@bank.example");
        assert_eq!(lead.message, "hi");

        let errors =
            NewLead::parse("", &"x".repeat(121), "r", "nope", &"m".repeat(2_001)).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name", "organisation", "message", "email"]);
    }

    #[test]
    fn statuses_round_trip_through_their_text() {
        for &status in LeadStatus::ALL {
            assert_eq!(status.as_str().parse::<LeadStatus>().unwrap(), status);
        }
    }
}
