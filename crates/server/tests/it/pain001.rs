//! Single payments as ISO 20022 pain.001 XML over HTTPS, on both stores: a
//! TPP initiates on a `pain.001-…` product, gets the document back as the
//! payment's information, the PSU authorises it like a JSON payment and the
//! ledger executes it; and every way such a request is refused.

use crate::support::Browser;
use crate::support::accounts_of;
use crate::support::xs2a::{Answer, Tpp, demo_tpp};
use fintechapi_domain::ledger::LedgerRepository;
use fintechapi_domain::{Clock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use reqwest::StatusCode;
use serde_json::json;

const PRODUCT: &str = "/v1/payments/pain.001-sepa-credit-transfers";
const CREDITOR: &str = "DE02120300000000202051";

/// A pain.001.001.03 single transfer from `debtor`, for execution on `date`.
fn document(debtor: &str, date: &str, amount: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">
  <CstmrCdtTrfInitn>
    <GrpHdr>
      <MsgId>MSG-0001</MsgId>
      <CreDtTm>2026-11-25T09:30:00Z</CreDtTm>
      <NbOfTxs>1</NbOfTxs>
      <CtrlSum>{amount}</CtrlSum>
      <InitgPty><Nm>Acme TPP GmbH</Nm></InitgPty>
    </GrpHdr>
    <PmtInf>
      <PmtInfId>PMT-0001</PmtInfId>
      <PmtMtd>TRF</PmtMtd>
      <ReqdExctnDt>{date}</ReqdExctnDt>
      <Dbtr><Nm>Carol Rossi</Nm></Dbtr>
      <DbtrAcct><Id><IBAN>{debtor}</IBAN></Id></DbtrAcct>
      <CdtTrfTxInf>
        <PmtId><EndToEndId>E2E-42</EndToEndId></PmtId>
        <Amt><InstdAmt Ccy="EUR">{amount}</InstdAmt></Amt>
        <Cdtr><Nm>Corner Shop &amp; Co</Nm></Cdtr>
        <CdtrAcct><Id><IBAN>{CREDITOR}</IBAN></Id></CdtrAcct>
        <RmtInf><Ustrd>Invoice 42</Ustrd></RmtInf>
      </CdtTrfTxInf>
    </PmtInf>
  </CstmrCdtTrfInitn>
</Document>"#
    )
}

fn today() -> String {
    SystemClock.now().date().to_string()
}

async fn an_xml_payment_is_created_once_read_back_as_sent_and_executed_after_sca(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let store = server.db.store().await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let debtor_iban = crate::support::iban(&debtor);
    let xml = document(&debtor_iban, &today(), "12.34");

    // Created: RCVD, the OAuth SCA approach, and a Location under the pain.001 product.
    let request_id = uuid::Uuid::new_v4().to_string();
    let first = tpp
        .post_body(PRODUCT, &cc, &request_id, "application/xml", &xml)
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(first.body["transactionStatus"], "RCVD");
    assert_eq!(first.headers["aspsp-sca-approach"], "REDIRECT");
    let payment = first.body["paymentId"].as_str().unwrap().to_owned();
    let resource = format!("{PRODUCT}/{payment}");
    assert_eq!(first.headers["location"], resource.as_str());
    assert_eq!(first.body["_links"]["self"]["href"], resource.as_str());

    // The same X-Request-ID and document: the same payment; another document: refused.
    let again = tpp
        .post_body(PRODUCT, &cc, &request_id, "application/xml", &xml)
        .await;
    assert_eq!(
        (again.status, again.body["paymentId"].as_str()),
        (StatusCode::CREATED, Some(payment.as_str()))
    );
    let other = document(&debtor_iban, &today(), "99.00");
    let conflict = tpp
        .post_body(PRODUCT, &cc, &request_id, "application/xml", &other)
        .await;
    conflict.assert_refusal(StatusCode::BAD_REQUEST, "FORMAT_ERROR", "X-Request-ID");
    assert_eq!(server.db.count_rows("payments").await, 1, "one payment");

    // Its information is the document as sent; under the JSON product it is not this TPP's resource.
    let info = tpp.get(&resource, &cc, &[]).await;
    assert_eq!(info.status, StatusCode::OK);
    assert_eq!(info.headers["content-type"], "application/xml");
    assert_eq!(info.text, xml);
    let json_path = tpp
        .get(
            &format!("/v1/payments/sepa-credit-transfers/{payment}"),
            &cc,
            &[],
        )
        .await;
    json_path.assert_refusal(StatusCode::FORBIDDEN, "RESOURCE_UNKNOWN", "paymentId");
    let status = tpp.get(&format!("{resource}/status"), &cc, &[]).await;
    assert_eq!(status.body, json!({"transactionStatus": "RCVD"}));
    assert_status_report(&tpp, &resource, &cc, "<GrpSts>RCVD</GrpSts>").await;

    // Carol sees amount and payee at the bank, confirms with the sandbox code and approves.
    let mut psu = Browser::new(&server);
    let screen = psu
        .authorise(
            &tpp.link(&tpp.par_scope(&format!("PIS:{payment}")).await),
            "carol",
            "carol-demo-2026",
        )
        .await;
    screen.assert_shows(&["12.34 EUR", "Corner Shop &#38; Co", "Invoice 42"]);
    let tokens = tpp.approve_for_tokens(&mut psu, &screen).await;
    let token = tokens.body["access_token"].as_str().unwrap();

    let status = tpp.get(&format!("{resource}/status"), token, &[]).await;
    assert_eq!(status.body["transactionStatus"], "ACSC", "{}", status.text);
    assert_status_report(&tpp, &resource, token, "<GrpSts>ACSC</GrpSts>").await;
    let moved = store.account(debtor.id).await.unwrap().unwrap();
    assert_eq!(
        moved.balances.booked,
        debtor.balances.booked - 1234,
        "the ledger moved once"
    );
    assert!(store.audit().await.unwrap().is_consistent());
    server.stop().await;
}
both_stores!(an_xml_payment_is_created_once_read_back_as_sent_and_executed_after_sca);

/// Asked for XML only, the status is a pain.002.001.03 report of this payment;
/// asked for JSON or anything, it stays JSON; asked for neither, 406.
async fn assert_status_report(tpp: &Tpp, resource: &str, token: &str, group_status: &str) {
    let path = format!("{resource}/status");
    let report = tpp
        .get(&path, token, &[("accept", "application/xml")])
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    assert_eq!(report.headers["content-type"], "application/xml");
    let payment = resource.rsplit('/').next().unwrap().replace('-', "");
    for part in [
        r#"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt><GrpHdr><MsgId>"#,
        &format!("<OrgnlMsgId>{payment}</OrgnlMsgId>"),
        "<OrgnlMsgNmId>pain.001.001.03</OrgnlMsgNmId>",
        group_status,
    ] {
        assert!(report.text.contains(part), "{part} in {}", report.text);
    }
    for accept in [
        "application/json",
        "*/*",
        "application/xml, application/json",
    ] {
        let json = tpp.get(&path, token, &[("accept", accept)]).await;
        assert!(
            json.body["transactionStatus"].is_string(),
            "{accept}: {}",
            json.text
        );
    }
    tpp.get(&path, token, &[("accept", "text/plain")])
        .await
        .assert_tpp_message(StatusCode::NOT_ACCEPTABLE, "REQUESTED_FORMATS_INVALID");
}

async fn xml_payments_are_refused_with_the_specs_code_and_the_place_in_the_document(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let iban = crate::support::iban(&accounts_of(&server, "carol").await[0]);
    let valid = document(&iban, &today(), "5.00");
    let too_late = (SystemClock.now().date() + time::Duration::days(400)).to_string();
    let two = valid
        .replace("</PmtInf>", &format!("<CdtTrfTxInf><PmtId><EndToEndId>E2E-43</EndToEndId></PmtId><Amt><InstdAmt Ccy=\"EUR\">1.00</InstdAmt></Amt><Cdtr><Nm>Other</Nm></Cdtr><CdtrAcct><Id><IBAN>{CREDITOR}</IBAN></Id></CdtrAcct></CdtTrfTxInf></PmtInf>"))
        .replace("<NbOfTxs>1</NbOfTxs>", "<NbOfTxs>2</NbOfTxs>")
        .replace("<CtrlSum>5.00</CtrlSum>", "<CtrlSum>6.00</CtrlSum>");
    let json_body = json!({"instructedAmount": {"currency": "EUR", "amount": "5.00"}, "debtorAccount": {"iban": iban}, "creditorName": "Landlord", "creditorAccount": {"iban": CREDITOR}}).to_string();
    let xml = "application/xml";
    let (bad, format, date) = (
        StatusCode::BAD_REQUEST,
        Some("FORMAT_ERROR"),
        Some("EXECUTION_DATE_INVALID"),
    );
    let amount = Some("PmtInf/CdtTrfTxInf[1]/Amt/InstdAmt");
    let cases = [
        (
            PRODUCT,
            xml,
            valid.replace("pain.001.001.03", "pain.001.001.09"),
            (bad, format, Some("Document")),
        ),
        (
            PRODUCT,
            xml,
            valid.replacen(
                "<Document",
                "<!DOCTYPE Document [<!ENTITY x \"x\">]><Document",
                1,
            ),
            (bad, format, Some("Document")),
        ),
        (
            PRODUCT,
            xml,
            valid.replace("</MsgId>", "</MsgID>"),
            (bad, format, Some("GrpHdr/MsgId")),
        ),
        (
            PRODUCT,
            xml,
            valid.replace(CREDITOR, "DE02120300000000202052"),
            (bad, format, Some("PmtInf/CdtTrfTxInf[1]/CdtrAcct/Id/IBAN")),
        ),
        (
            PRODUCT,
            xml,
            valid.replace(&format!("<IBAN>{iban}</IBAN>"), ""),
            (bad, format, Some("PmtInf/DbtrAcct/Id/IBAN")),
        ),
        (
            PRODUCT,
            xml,
            valid.replace("Ccy=\"EUR\"", "Ccy=\"USD\""),
            (bad, format, Some("PmtInf/CdtTrfTxInf[1]/Amt/InstdAmt/@Ccy")),
        ),
        (
            PRODUCT,
            xml,
            valid.replace(">5.00</InstdAmt>", ">5.001</InstdAmt>"),
            (bad, format, amount),
        ),
        (
            PRODUCT,
            xml,
            valid.replace("<CtrlSum>5.00</CtrlSum>", "<CtrlSum>5.01</CtrlSum>"),
            (bad, format, Some("GrpHdr/CtrlSum")),
        ),
        (
            PRODUCT,
            xml,
            valid.replace("Corner Shop &amp; Co", &"N".repeat(71)),
            (bad, format, Some("PmtInf/CdtTrfTxInf[1]/Cdtr/Nm")),
        ),
        (PRODUCT, xml, two, (bad, format, Some("PmtInf/CdtTrfTxInf"))),
        (
            PRODUCT,
            xml,
            valid.replace(&today(), "2020-01-01"),
            (bad, date, Some("PmtInf/ReqdExctnDt")),
        ),
        (
            PRODUCT,
            xml,
            valid.replace(&today(), &too_late),
            (bad, date, Some("PmtInf/ReqdExctnDt")),
        ),
        (
            "/v1/periodic-payments/pain.001-sepa-credit-transfers",
            xml,
            valid.clone(),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, format, None),
        ),
        (
            PRODUCT,
            xml,
            valid.replace("Corner Shop", "Corner\u{0}Shop"),
            (bad, format, Some("Document")),
        ),
        (
            PRODUCT,
            xml,
            document("DE89370400440532013000", &today(), "5.00"),
            (bad, format, Some("PmtInf/DbtrAcct/Id/IBAN")),
        ),
        // Each product takes one media type; another is 415 (the spec's answer).
        (
            PRODUCT,
            "application/json",
            json_body.clone(),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, format, None),
        ),
        (
            "/v1/payments/sepa-credit-transfers",
            xml,
            valid.clone(),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, format, None),
        ),
        (
            "/v1/payments/pain.001-sepa-express",
            xml,
            valid.clone(),
            (
                StatusCode::NOT_FOUND,
                Some("PRODUCT_UNKNOWN"),
                Some("payment-product"),
            ),
        ),
    ];
    for (path, content_type, body, expected) in cases {
        // Paced under the sandbox plan's 25 requests a second.
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        let a = tpp
            .post_body(
                path,
                &cc,
                &uuid::Uuid::new_v4().to_string(),
                content_type,
                &body,
            )
            .await;
        assert_eq!(
            a.refusal(),
            expected,
            "{path} {content_type}: {}\n{body}",
            a.text
        );
    }
    let no_ip = tpp
        .http
        .post(format!("{}{PRODUCT}", tpp.base))
        .bearer_auth(&cc)
        .header("x-request-id", uuid::Uuid::new_v4().to_string())
        .header("content-type", xml)
        .body(valid.clone());
    assert_eq!(
        Answer::of(no_ip.send().await.unwrap()).await.refusal(),
        (bad, format, Some("PSU-IP-Address"))
    );
    assert_eq!(
        server.db.count_rows("payments").await,
        0,
        "nothing was created"
    );

    // Every pain.001 product takes a document, and one not yet authorised is cancelled under its path.
    for product in [
        "pain.001-instant-sepa-credit-transfers",
        "pain.001-target-2-payments",
        "pain.001-cross-border-credit-transfers",
    ] {
        let path = format!("/v1/payments/{product}");
        let created = tpp
            .post_body(
                &path,
                &cc,
                &uuid::Uuid::new_v4().to_string(),
                "application/xml; charset=utf-8",
                &valid,
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "{product}: {}",
            created.text
        );
        let id = created.body["paymentId"].as_str().unwrap();
        let cancel = tpp
            .http
            .delete(format!("{}{path}/{id}", tpp.base))
            .bearer_auth(&cc)
            .header("x-request-id", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(cancel.status(), StatusCode::NO_CONTENT);
        let status = tpp.get(&format!("{path}/{id}/status"), &cc, &[]).await;
        assert_eq!(status.body["transactionStatus"], "CANC", "{}", status.text);
    }
    server.stop().await;
}
both_stores!(xml_payments_are_refused_with_the_specs_code_and_the_place_in_the_document);

/// A `multipart/form-data` body with the named parts.
fn multipart(parts: &[(&str, &str, &str)]) -> String {
    let mut body = String::new();
    for (name, content_type, content) in parts {
        body.push_str(&format!(
            "--XS2A-BOUNDARY\r\nContent-Disposition: form-data; name=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n{content}\r\n"
        ));
    }
    body.push_str("--XS2A-BOUNDARY--\r\n");
    body
}

async fn a_standing_order_comes_as_pain001_and_its_schedule_as_a_json_part(db: TestDb) {
    let (server, tpp, cc) = demo_tpp(db, "ais,pis").await;
    let debtor = accounts_of(&server, "carol").await.remove(0);
    let start = (SystemClock.now().date() + time::Duration::days(1)).to_string();
    let xml = document(debtor.iban.as_ref().unwrap().as_str(), &start, "15.00");
    let order =
        json!({"startDate": start, "frequency": "Monthly", "dayOfExecution": "15"}).to_string();
    let path = "/v1/periodic-payments/pain.001-sepa-credit-transfers";
    let form = "multipart/form-data; boundary=XS2A-BOUNDARY";
    let body = multipart(&[
        ("xml_sct", "application/xml", &xml),
        ("json_standingorderType", "application/json", &order),
    ]);
    let created = tpp
        .post_body(path, &cc, &uuid::Uuid::new_v4().to_string(), form, &body)
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["paymentId"].as_str().unwrap();
    assert_eq!(created.headers["location"], format!("{path}/{id}"));
    let read = tpp.get(&format!("{path}/{id}"), &cc, &[]).await;
    assert_eq!(read.text, xml, "the document as sent");
    let status = tpp.get(&format!("{path}/{id}/status"), &cc, &[]).await;
    assert_eq!(status.body["transactionStatus"], "RCVD");
    let stored = server
        .db
        .raw_strings(&format!("SELECT frequency FROM payments WHERE id = '{id}'"))
        .await;
    assert_eq!(stored, ["Monthly"]);

    // A retry with the same X-Request-ID and parts under another boundary: the same payment.
    let request_id = uuid::Uuid::new_v4().to_string();
    let first = tpp.post_body(path, &cc, &request_id, form, &body).await;
    let other_boundary = body.replace("XS2A-BOUNDARY", "RETRY-BOUNDARY");
    let again = tpp
        .post_body(
            path,
            &cc,
            &request_id,
            "multipart/form-data; boundary=RETRY-BOUNDARY",
            &other_boundary,
        )
        .await;
    assert_eq!(
        (again.status, &again.body["paymentId"]),
        (StatusCode::CREATED, &first.body["paymentId"]),
        "{}",
        again.text
    );

    let no_order = multipart(&[("xml_sct", "application/xml", &xml)]);
    let bad_order = multipart(&[
        ("xml_sct", "application/xml", &xml),
        (
            "json_standingorderType",
            "application/json",
            &json!({"frequency": "Monthly"}).to_string(),
        ),
    ]);
    let extra = multipart(&[
        ("xml_sct", "application/xml", &xml),
        ("json_standingorderType", "application/json", &order),
        ("other", "text/plain", "x"),
    ]);
    for (body, at) in [
        (no_order, "json_standingorderType"),
        (bad_order, "startDate"),
        (extra, "multipart/form-data"),
    ] {
        let refused = tpp
            .post_body(path, &cc, &uuid::Uuid::new_v4().to_string(), form, &body)
            .await;
        assert_eq!(
            refused.refusal(),
            (StatusCode::BAD_REQUEST, Some("FORMAT_ERROR"), Some(at)),
            "{}",
            refused.text
        );
    }
    server.stop().await;
}
both_stores!(a_standing_order_comes_as_pain001_and_its_schedule_as_a_json_part);
