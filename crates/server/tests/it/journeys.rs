//! The docs' journeys (`/portal/docs/journeys/<slug>`) as a reader follows
//! them, on both stores: every block of the page run as written with the
//! demo customer approving in the browser, then the page's Python and
//! Node.js programs, each checked by what the reader would check (the
//! accounts read, the payment's status and the debit on the ledger).

use fintechapi_domain::{Clock, SystemClock};
use fintechapi_testkit::{TestDb, both_stores};
use serde_json::Value;

use crate::support::xs2a::cli_app_of;
use crate::support::{
    Browser, DOCS_PSU, Shell, TestServer, accounts_of, approve_in_online_banking,
    assert_alices_accounts, booked_balance, code_blocks, escaped, iban, param, redirect_params,
    run_decoupled_program, run_program,
};

/// The redirect URI the guide registers.
const CALLBACK: &str = "https://app.example/callback";
/// The demo customer alice's current account, which the payment journeys debit.
const ALICES_GIROKONTO: &str = "DE04765432100001000100";

/// A reader of one journey's page, with a sandbox application of the demo
/// bank registered as the guide does it.
struct Reader {
    server: TestServer,
    slug: &'static str,
    page: String,
    blocks: Vec<String>,
    /// `BASE`, `CA`, `CLIENT_ID`, `CLIENT_SECRET`, as the page's first block has them.
    shell: Shell,
}

impl Reader {
    async fn open(db: TestDb, slug: &'static str) -> Self {
        let server = crate::support::demo_server(db).await;
        let (_, key, secret) = cli_app_of(&server.db, "Acme TPP GmbH", &[CALLBACK], "ais,pis");
        let index = server.get_text("/portal/docs").await;
        assert!(
            index.contains(&format!(r#"<a href="/portal/docs/journeys/{slug}">"#)),
            "the docs list the journey"
        );
        let answer = server.get(&format!("/portal/docs/journeys/{slug}")).await;
        assert_eq!(answer.status(), 200);
        let page = answer.text().await.unwrap();
        let blocks = code_blocks(&page);
        assert!(
            blocks[0].starts_with(&format!("BASE={}\n", server.base_url))
                && blocks[0].contains("CLIENT_SECRET="),
            "{}",
            blocks[0]
        );
        let mut shell = Shell::default();
        shell.set("BASE", &server.base_url);
        shell.set("CA", &server.ca.display().to_string());
        shell.set("CLIENT_ID", &key);
        shell.set("CLIENT_SECRET", &secret);
        Self {
            server,
            slug,
            page,
            blocks,
            shell,
        }
    }

    /// Runs block `n` of the page; its JSON answer.
    fn run(&self, n: usize) -> Value {
        self.shell.run(&self.blocks[n])
    }

    /// Runs the PKCE block `n` and keeps its `VERIFIER` and `CHALLENGE`.
    fn pkce(&mut self, n: usize) {
        let pair = self.shell.shell(&format!(
            "{}\nprintf '%s %s' \"$VERIFIER\" \"$CHALLENGE\"",
            self.blocks[n]
        ));
        let (verifier, challenge) = pair.split_once(' ').unwrap();
        assert_eq!(challenge, fintechapi_domain::secret::pkce_s256(verifier));
        self.shell.set("VERIFIER", verifier);
        self.shell.set("CHALLENGE", challenge);
    }

    /// Runs the pushed request of block `n` as written; the link of block
    /// `n + 1` for the customer's browser.
    fn push(&mut self, n: usize) -> String {
        let pushed = self.run(n);
        self.shell.take("REQUEST_URI", &pushed, "request_uri");
        self.shell.shell(&self.blocks[n + 1])
    }

    /// Steps 1 to 5 of a payment journey as written: the client's token, the
    /// initiation (received), a PKCE pair, the pushed request and the link,
    /// where the customer sees each of `shown` and approves. The payment's
    /// id, and the code the browser came back with.
    async fn initiate_and_approve(&mut self, shown: &[&str]) -> (String, String) {
        let issued = self.run(1);
        self.shell.take("ACCESS_TOKEN", &issued, "access_token");
        let created = self.run(2);
        assert_eq!(created["transactionStatus"], "RCVD", "{created}");
        let payment = self.shell.take("PAYMENT_ID", &created, "paymentId");
        self.pkce(3);
        let link = self.push(4);
        let back = self.approve(&link, shown).await;
        (payment, Self::code(&back, "a-random-value-you-keep"))
    }

    /// The demo customer opens `link`, sees each of `shown` on the bank's
    /// screen, and approves; where the browser is sent back to.
    async fn approve(&self, link: &str, shown: &[&str]) -> String {
        let mut psu = Browser::new(&self.server);
        let screen = psu.authorise(link.trim(), DOCS_PSU.0, DOCS_PSU.1).await;
        screen.assert_shows(shown);
        let approved = psu.decide(&screen, "approve").await;
        approved.location.expect("back to the application")
    }

    /// The code on the way back from the bank, whose `state` must be `state`.
    fn code(back: &str, state: &str) -> String {
        let params = redirect_params(back, CALLBACK);
        assert_eq!(param(&params, "state"), Some(state));
        param(&params, "code").expect("a code").to_owned()
    }

    /// The page's programs as downloaded (and shown on the page): what each printed.
    async fn programs(&self) -> Vec<Vec<Value>> {
        let mut printed = Vec::new();
        for (extension, program) in [("py", "python3"), ("mjs", "node")] {
            let file = format!("/portal/docs/examples/{}.{extension}", self.slug);
            let source = self.server.get_text(&file).await;
            assert!(
                self.page.contains(&escaped(&source)),
                "the page shows {file}"
            );
            printed.push(run_program(&self.server, program, &source, &self.shell.vars()).await);
        }
        printed
    }

    /// What alice's current account has booked now, in minor units.
    async fn alices_booked(&self) -> i64 {
        let girokonto = accounts_of(&self.server, "alice").await.remove(0);
        assert_eq!(iban(&girokonto), ALICES_GIROKONTO, "the IBAN the docs give");
        booked_balance(&self.server, girokonto.id).await
    }
}

async fn the_redirect_approach_journey_reads_the_accounts_as_written(db: TestDb) {
    let mut reader = Reader::open(db, "ais-redirect").await;
    let issued = reader.run(1);
    reader.shell.take("ACCESS_TOKEN", &issued, "access_token");
    let created = reader.run(2);
    assert_eq!(created["consentStatus"], "received", "{created}");
    reader.shell.take("CONSENT_ID", &created, "consentId");
    let link = created["_links"]["scaRedirect"]["href"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/bank/redirect?token=", reader.server.base_url)),
        "{link}"
    );
    assert_eq!(reader.run(3)["consentStatus"], "received");
    let back = reader.approve(link, &["Budget App"]).await;
    assert_eq!(back, CALLBACK, "back without a code");
    assert_eq!(reader.run(3)["consentStatus"], "valid");
    let accounts = reader.run(4);
    assert_alices_accounts(&reader.server, &accounts).await;
    reader
        .shell
        .take("ACCOUNT_ID", &accounts["accounts"][0], "resourceId");
    let balances = reader.run(5);
    assert_eq!(balances["account"]["iban"], accounts["accounts"][0]["iban"]);
    assert!(
        !balances["balances"].as_array().unwrap().is_empty(),
        "{balances}"
    );

    for printed in reader.programs().await {
        assert_alices_accounts(&reader.server, &printed[0]).await;
    }
    for unknown in [
        "/portal/docs/journeys/nope",
        "/portal/docs/examples/nope.py",
        "/portal/docs/examples/payment.sh",
    ] {
        assert_eq!(reader.server.get(unknown).await.status(), 404, "{unknown}");
    }
    reader.server.stop().await;
}
both_stores!(the_redirect_approach_journey_reads_the_accounts_as_written);

async fn the_decoupled_approach_journey_reads_the_accounts_as_written(db: TestDb) {
    let mut reader = Reader::open(db, "ais-decoupled").await;
    let issued = reader.run(1);
    reader.shell.take("ACCESS_TOKEN", &issued, "access_token");
    let created = reader.run(2);
    assert_eq!(created["consentStatus"], "received", "{created}");
    reader.shell.take("CONSENT_ID", &created, "consentId");
    let status = created["_links"]["scaStatus"]["href"].as_str().unwrap();
    reader.shell.set("SCA_STATUS", status);
    let waiting = reader.run(3);
    assert_eq!(waiting["scaStatus"], "received", "{waiting}");
    assert_eq!(waiting["psuMessage"], created["psuMessage"]);
    approve_in_online_banking(&reader.server, DOCS_PSU).await;
    assert_eq!(reader.run(3)["scaStatus"], "finalised");
    assert_eq!(reader.run(4)["consentStatus"], "valid");
    let accounts = reader.run(5);
    assert_alices_accounts(&reader.server, &accounts).await;

    reader.shell.set("PSU_ID", DOCS_PSU.0);
    for (extension, program) in [("py", "python3"), ("mjs", "node")] {
        let file = format!("/portal/docs/examples/ais-decoupled.{extension}");
        let source = reader.server.get_text(&file).await;
        assert!(
            reader.page.contains(&escaped(&source)),
            "the page shows {file}"
        );
        let vars = reader.shell.vars();
        let printed = run_decoupled_program(&reader.server, program, &source, &vars).await;
        assert_alices_accounts(&reader.server, &printed[0]).await;
    }
    reader.server.stop().await;
}
both_stores!(the_decoupled_approach_journey_reads_the_accounts_as_written);

async fn the_payment_journey_pays_once_with_dynamic_linking_as_written(db: TestDb) {
    let mut reader = Reader::open(db, "payment").await;
    let before = reader.alices_booked().await;
    // The bank's screen names what the customer authorises: amount and payee.
    let shown = ["12.34 EUR", "Corner Shop", "DE02 1203 0000 0000 2020 51"];
    let (payment, code) = reader.initiate_and_approve(&shown).await;
    reader.shell.set("CODE", &code);
    let tokens = reader.run(6);
    assert_eq!(
        tokens["authorization_details"][0]["paymentId"], payment,
        "{tokens}"
    );
    assert!(tokens.get("refresh_token").is_none(), "{tokens}");
    reader.shell.take("PSU_TOKEN", &tokens, "access_token");
    assert_eq!(reader.run(7)["transactionStatus"], "ACSC");
    assert_eq!(reader.alices_booked().await, before - 1234, "debited once");

    let printed = reader.programs().await;
    for status in &printed {
        assert_eq!(status[0]["transactionStatus"], "ACSC", "{status:?}");
    }
    assert_eq!(
        reader.alices_booked().await,
        before - 3 * 1234,
        "each program paid once"
    );
    reader.server.stop().await;
}
both_stores!(the_payment_journey_pays_once_with_dynamic_linking_as_written);

async fn the_standing_order_journey_sets_one_up_and_cancels_it_as_written(db: TestDb) {
    let mut reader = Reader::open(db, "standing-order").await;
    let before = reader.alices_booked().await;
    let shown = [
        "Approve this payment?",
        "25.00 EUR",
        "Landlord",
        "standing order",
    ];
    reader.initiate_and_approve(&shown).await;
    let tomorrow = SystemClock.now().date().next_day().unwrap();
    let order = reader.run(6);
    assert_eq!(
        (
            order["transactionStatus"].as_str(),
            order["frequency"].as_str(),
            order["startDate"].as_str()
        ),
        (
            Some("ACCP"),
            Some("Monthly"),
            Some(tomorrow.to_string().as_str())
        ),
        "{order}"
    );
    let asked = reader.run(7);
    assert_eq!(asked["transactionStatus"], "ACCP", "{asked}");
    assert!(asked["_links"]["scaOAuth"].is_object(), "{asked}");
    let link = reader.push(8);
    let back = reader.approve(&link, &["Cancel this payment?"]).await;
    Reader::code(&back, "another-random-value-you-keep");
    assert_eq!(reader.run(10)["transactionStatus"], "CANC");

    for printed in reader.programs().await {
        let states: Vec<&Value> = printed.iter().map(|p| &p["transactionStatus"]).collect();
        assert_eq!(states, ["ACCP", "CANC"], "{printed:?}");
        assert_eq!(printed[0]["frequency"], "Monthly");
    }
    assert_eq!(reader.alices_booked().await, before, "nothing paid");
    reader.server.stop().await;
}
both_stores!(the_standing_order_journey_sets_one_up_and_cancels_it_as_written);

async fn the_bulk_payment_journey_books_one_debit_as_written(db: TestDb) {
    let mut reader = Reader::open(db, "bulk-payment").await;
    let before = reader.alices_booked().await;
    let shown = ["2 transfers", "42.50 EUR", "Landlord", "Corner Shop"];
    reader.initiate_and_approve(&shown).await;
    let assert_booked = |bulk: &Value| {
        assert_eq!(
            (
                bulk["transactionStatus"].as_str(),
                bulk["batchBookingPreferred"].as_bool()
            ),
            (Some("ACSC"), Some(true)),
            "{bulk}"
        );
        let entries = bulk["payments"].as_array().unwrap();
        assert!(
            entries.len() == 2 && entries.iter().all(|p| p["transactionStatus"] == "ACSC"),
            "{bulk}"
        );
    };
    assert_booked(&reader.run(6));
    assert_eq!(reader.alices_booked().await, before - 4250, "one debit");

    for printed in reader.programs().await {
        assert_booked(&printed[0]);
    }
    assert_eq!(reader.alices_booked().await, before - 3 * 4250);
    reader.server.stop().await;
}
both_stores!(the_bulk_payment_journey_books_one_debit_as_written);
