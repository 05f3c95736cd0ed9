//! The payment status as an ISO 20022 pain.002.001.03 customer payment status
//! report, for a TPP whose `Accept` asks for XML rather than JSON.

use fintechapi_domain::payment::{Payment, PaymentFormat, PaymentStatus};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub(crate) const MEDIA_TYPE: &str = "application/xml";

/// The report of `payment` at `now`. Every value written is a code from a
/// closed set, a generated id or a time: nothing the TPP sent, so nothing
/// needs escaping.
pub(crate) fn status_report(payment: &Payment, now: OffsetDateTime) -> String {
    let id = payment.id.as_uuid().simple().to_string();
    let created = now
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    let original_message = match payment.format {
        PaymentFormat::Pain001 { .. } => "pain.001.001.03",
        PaymentFormat::Json => "NextGenPSD2-JSON",
    };
    let group_status = group_status(payment.status)
        .map(|code| format!("<GrpSts>{code}</GrpSts>"))
        .unwrap_or_default();
    let reason = match (payment.reason, group_status.is_empty()) {
        (Some(reason), _) => format!(
            "<StsRsnInf><Rsn><Cd>{}</Cd></Rsn></StsRsnInf>",
            reason.as_code()
        ),
        // A Berlin Group status the report's code list lacks (CANC, PATC, ACCC).
        (None, true) => format!(
            "<StsRsnInf><AddtlInf>transactionStatus {}</AddtlInf></StsRsnInf>",
            payment.status.as_str()
        ),
        (None, false) => String::new(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:pain.002.001.03\">\
         <CstmrPmtStsRpt>\
         <GrpHdr><MsgId>{message}</MsgId><CreDtTm>{created}</CreDtTm></GrpHdr>\
         <OrgnlGrpInfAndSts><OrgnlMsgId>{id}</OrgnlMsgId>\
         <OrgnlMsgNmId>{original_message}</OrgnlMsgNmId>{group_status}{reason}\
         </OrgnlGrpInfAndSts>\
         </CstmrPmtStsRpt></Document>\n",
        // Each report a message of its own: 32 characters of the 35 allowed.
        message = uuid::Uuid::new_v4().simple(),
    )
}

/// pain.002.001.03's TransactionGroupStatus3Code, where the status is one.
fn group_status(status: PaymentStatus) -> Option<&'static str> {
    use PaymentStatus::*;
    match status {
        Received
        | PartiallyExecuted
        | AcceptedTechnical
        | AcceptedCustomerProfile
        | AcceptedSettlementInProcess
        | AcceptedSettlementCompleted
        | Rejected
        | Pending => Some(status.as_str()),
        PartiallyAccepted | AcceptedCreditSettlementCompleted | Cancelled => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_but_three_is_a_group_status_of_the_report() {
        let missing: Vec<_> = PaymentStatus::ALL
            .iter()
            .filter(|s| group_status(**s).is_none())
            .map(|s| s.as_str())
            .collect();
        assert_eq!(missing, ["PATC", "ACCC", "CANC"]);
    }
}
