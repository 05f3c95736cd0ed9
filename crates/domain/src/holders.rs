//! Multilevel SCA: an account's holders and whose approvals a payment
//! drawn on it needs. A `sole` holder authorises alone; on an account with
//! `joint` holders, a joint holder's approval counts only once every joint
//! holder has given theirs.

use crate::ids::PsuId;
use crate::ledger::text_enum;

text_enum!(
    /// What a holder may authorise on the account.
    Mandate { Sole = "sole", Joint = "joint" }
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountHolder {
    pub psu_id: PsuId,
    pub mandate: Mandate,
}

/// Where a payment's authorisation stands after `approver`'s approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    /// Authorised: a sole holder, or the last joint holder, approved.
    Complete,
    /// These joint holders have yet to approve.
    Awaiting(Vec<PsuId>),
    /// The approver holds no mandate on the account.
    NotAHolder,
}

/// What the approvals of `approved` (the approver's own included or not)
/// come to for an account held by `holders`, approved now by `approver`.
pub fn approval(holders: &[AccountHolder], approver: PsuId, approved: &[PsuId]) -> Approval {
    match holders.iter().find(|h| h.psu_id == approver) {
        None => Approval::NotAHolder,
        Some(h) if h.mandate == Mandate::Sole => Approval::Complete,
        Some(_) => {
            let missing: Vec<PsuId> = holders
                .iter()
                .filter(|h| h.mandate == Mandate::Joint)
                .map(|h| h.psu_id)
                .filter(|p| *p != approver && !approved.contains(p))
                .collect();
            if missing.is_empty() {
                Approval::Complete
            } else {
                Approval::Awaiting(missing)
            }
        }
    }
}

/// Whether an account held by `holders` needs several approvals: it has a
/// joint holder. Anyone else's approval is refused on such an account
/// rather than rejecting the payment the holders are deciding.
pub fn is_joint(holders: &[AccountHolder]) -> bool {
    holders.iter().any(|h| h.mandate == Mandate::Joint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(mandate: Mandate) -> AccountHolder {
        AccountHolder {
            psu_id: PsuId::random(),
            mandate,
        }
    }

    #[test]
    fn a_sole_holder_authorises_alone() {
        let owner = holder(Mandate::Sole);
        let other = holder(Mandate::Joint);
        assert_eq!(
            approval(&[owner, other], owner.psu_id, &[]),
            Approval::Complete
        );
        assert!(!is_joint(&[owner]));
    }

    #[test]
    fn every_joint_holder_must_approve() {
        let (carol, dave, erin) = (
            holder(Mandate::Joint),
            holder(Mandate::Joint),
            holder(Mandate::Joint),
        );
        let holders = [carol, dave, erin];
        assert!(is_joint(&holders));
        assert_eq!(
            approval(&holders, carol.psu_id, &[carol.psu_id]),
            Approval::Awaiting(vec![dave.psu_id, erin.psu_id])
        );
        assert_eq!(
            approval(&holders, dave.psu_id, &[carol.psu_id, carol.psu_id]),
            Approval::Awaiting(vec![erin.psu_id]),
            "the same holder twice counts once"
        );
        assert_eq!(
            approval(&holders, erin.psu_id, &[carol.psu_id, dave.psu_id]),
            Approval::Complete
        );
    }

    #[test]
    fn nobody_else_approves() {
        let carol = holder(Mandate::Joint);
        let stranger = PsuId::random();
        assert_eq!(
            approval(&[carol], stranger, &[carol.psu_id]),
            Approval::NotAHolder
        );
    }
}
