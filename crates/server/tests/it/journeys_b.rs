//! The docs' journey pages (funds confirmation, FAPI 2.0 with DPoP, mutual
//! TLS), followed as a TPP developer would: every command block run as
//! written in a working directory of its own, the customer's approval in the
//! browser as the demo customer alice, and the page's programs run as
//! downloaded.

use std::io::{BufRead, Read, Write};
use std::process::{Command, Stdio};

use crate::support::{
    Api, Browser, TestServer, assert_alices_accounts, code_blocks, demo_server, escaped, param,
    redirect_params,
};
use fintechapi_testkit::{TestDb, both_stores};
use serde_json::{Value, json};

const REDIRECT: &str = "https://app.example/callback";
const ALICES_IBAN: &str = "DE04765432100001000100";

/// A developer following a journey page: its command blocks, the variables
/// the reader has set so far, and a directory for the files they make.
struct Reader {
    blocks: Vec<String>,
    vars: Vec<(String, String)>,
    dir: tempfile::TempDir,
}

impl Reader {
    /// Opens `/portal/docs/journeys/<slug>` with a developer session.
    async fn open(server: &TestServer, slug: &str) -> (Self, String) {
        let html = server
            .get_text(&format!("/portal/docs/journeys/{slug}"))
            .await;
        let blocks = code_blocks(&html);
        assert!(
            blocks[0].starts_with(&format!("BASE={}\nCA=", server.base_url)),
            "{}",
            blocks[0]
        );
        let developer = Api::developer(server, "you@tpp.example").await;
        let mut reader = Self {
            blocks,
            vars: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        };
        reader.set("BASE", &server.base_url);
        reader.set("CA", &server.ca.display().to_string());
        reader.set("SESSION", developer.token.as_deref().unwrap());
        (reader, html)
    }

    fn set(&mut self, name: &str, value: &str) {
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value.to_owned()));
    }

    /// Sets `name` to the string `field` of a JSON `answer`.
    fn set_from(&mut self, name: &str, answer: &Value, field: &str) {
        let value = answer[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field}: {answer}"))
            .to_owned();
        self.set(name, &value);
    }

    /// Runs `script` with bash in the reader's directory; its output.
    fn shell(&self, script: &str) -> String {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("set -euo pipefail\n{script}"))
            .current_dir(self.dir.path())
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs block `n` up to the answer it shows (`# → …`); its output.
    fn run(&self, n: usize) -> String {
        self.shell(&command(&self.blocks[n]))
    }

    /// Runs the curl command of block `n` (silent but for errors); its JSON answer.
    fn curl(&self, n: usize) -> Value {
        let block = &self.blocks[n];
        assert!(block.starts_with("curl "), "{block}");
        let out = self.shell(&command(&block.replacen("curl ", "curl -sS ", 1)));
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("{block}\n{out}"))
    }

    /// Runs the PKCE block `n`; sets VERIFIER and CHALLENGE as it does.
    fn pkce(&mut self, n: usize) {
        let pair = self.shell(&format!(
            "{}\nprintf '%s %s' \"$VERIFIER\" \"$CHALLENGE\"",
            self.blocks[n]
        ));
        let (verifier, challenge) = pair.split_once(' ').unwrap();
        assert_eq!(challenge, fintechapi_domain::secret::pkce_s256(verifier));
        let (verifier, challenge) = (verifier.to_owned(), challenge.to_owned());
        self.set("VERIFIER", &verifier);
        self.set("CHALLENGE", &challenge);
    }

    /// Runs the block `n` that prints the bank's address, approves there as
    /// alice, and sets CODE from the address the browser came back to.
    async fn approve_as_alice(&mut self, server: &TestServer, n: usize) {
        let link = self.run(n);
        let location = alice_approves(server, link.trim()).await;
        let back = redirect_params(&location, REDIRECT);
        assert_eq!(param(&back, "state"), Some("a-random-value-you-keep"));
        let code = param(&back, "code").unwrap().to_owned();
        self.set("CODE", &code);
    }

    /// Downloads the page's program `file`, checks the page shows it, and runs
    /// it with `interpreter` and `env` in the reader's directory as a
    /// developer would: the customer approves at the address it prints, and
    /// the address the browser came back to goes to its input. Its JSON output.
    async fn run_program(
        &self,
        server: &TestServer,
        page: &str,
        file: &str,
        interpreter: &str,
        env: &[(&str, &str)],
    ) -> Value {
        let source = server
            .get_text(&format!("/portal/docs/examples/{file}"))
            .await;
        assert!(page.contains(&escaped(&source)), "the page shows {file}");
        std::fs::write(self.dir.path().join(file), &source).unwrap();
        let mut child = Command::new(interpreter)
            .arg(file)
            .current_dir(self.dir.path())
            .env("BASE", &server.base_url)
            .env("CA", &server.ca)
            .env("NODE_EXTRA_CA_CERTS", &server.ca)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (link, mut rest) = tokio::task::spawn_blocking(move || {
            let mut reader = std::io::BufReader::new(stdout);
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            (line, reader)
        })
        .await
        .unwrap();
        assert!(link.starts_with(&server.base_url), "{file}: {link:?}");
        let location = alice_approves(server, link.trim()).await;
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{location}").unwrap();
        drop(stdin);
        let (printed, output) = tokio::task::spawn_blocking(move || {
            let mut printed = String::new();
            rest.read_to_string(&mut printed).unwrap();
            (printed, child.wait_with_output().unwrap())
        })
        .await
        .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{file}: {stderr}");
        serde_json::from_str(&printed).unwrap_or_else(|_| panic!("{file}: {printed}"))
    }

    /// Runs the journey's Python and Node.js programs (`<slug>.py`,
    /// `<slug>.mjs`) with `env`; what each printed.
    async fn run_programs(
        &self,
        server: &TestServer,
        page: &str,
        slug: &str,
        env: &[(&str, &str)],
    ) -> Vec<(String, Value)> {
        let mut printed = Vec::new();
        for (extension, interpreter) in [("py", "python3"), ("mjs", "node")] {
            let file = format!("{slug}.{extension}");
            let output = self
                .run_program(server, page, &file, interpreter, env)
                .await;
            printed.push((file, output));
        }
        printed
    }

    /// Follows the OAuth approach's steps from block `first` on: the consent,
    /// PKCE, PAR, alice's approval, the code exchange (setting PSU_TOKEN) and
    /// the read of her accounts; the token answer.
    async fn read_alices_accounts(&mut self, server: &TestServer, first: usize) -> Value {
        let consent = self.curl(first);
        assert_eq!(consent["consentStatus"], "received", "{consent}");
        self.set_from("CONSENT_ID", &consent, "consentId");
        self.pkce(first + 1);
        let pushed = self.curl(first + 2);
        self.set_from("REQUEST_URI", &pushed, "request_uri");
        self.approve_as_alice(server, first + 3).await;
        let tokens = self.curl(first + 4);
        self.set_from("PSU_TOKEN", &tokens, "access_token");
        assert_alices_accounts(server, &self.curl(first + 5)).await;
        tokens
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }
}

/// A block's commands: its lines up to the answer it shows (`# → …`).
fn command(block: &str) -> String {
    let lines: Vec<&str> = block
        .lines()
        .take_while(|l| !l.starts_with("# →"))
        .collect();
    lines.join("\n")
}

/// The demo customer alice signs in at `link` and approves; where the bank
/// sends the browser back to.
async fn alice_approves(server: &TestServer, link: &str) -> String {
    let mut psu = Browser::new(server);
    let screen = psu.authorise(link, "alice", "alice-demo-2026").await;
    let approved = psu.decide(&screen, "approve").await;
    approved.location.unwrap()
}

async fn the_funds_confirmation_journey_works_as_written(db: TestDb) {
    let server = demo_server(db).await;
    let (mut reader, page) = Reader::open(&server, "funds-confirmation").await;
    let org = reader.curl(1);
    reader.set_from("ORG_ID", &org, "id");
    let app = reader.curl(2);
    let (key, secret) = (
        app["credentials"]["client_id"].as_str().unwrap().to_owned(),
        app["credentials"]["client_secret"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    reader.set("CLIENT_ID", &key);
    reader.set("CLIENT_SECRET", &secret);
    reader.pkce(3);
    let pushed = reader.curl(4);
    reader.set_from("REQUEST_URI", &pushed, "request_uri");
    reader.approve_as_alice(&server, 5).await;
    let tokens = reader.curl(6);
    let consent = tokens["authorization_details"][0]["consentId"]
        .as_str()
        .unwrap_or_else(|| panic!("{tokens}"));
    assert_eq!(tokens["scope"], format!("PIIS:{consent}"));
    reader.set_from("PSU_TOKEN", &tokens, "access_token");
    assert_eq!(reader.curl(7), json!({"fundsAvailable": true}));
    assert_eq!(reader.curl(8), json!({"fundsAvailable": false}));

    // The account the page names is alice's.
    let alices = crate::support::accounts_of(&server, "alice").await;
    assert_eq!(crate::support::iban(&alices[0]), ALICES_IBAN);

    let client = [
        ("CLIENT_ID", key.as_str()),
        ("CLIENT_SECRET", secret.as_str()),
    ];
    for (file, answers) in reader
        .run_programs(&server, &page, "funds-confirmation", &client)
        .await
    {
        assert_eq!(answers["25.00"], true, "{file}: {answers}");
        assert_eq!(answers["1000000.00"], false, "{file}: {answers}");
        assert!(answers["consentId"].is_string(), "{file}: {answers}");
    }
    server.stop().await;
}
both_stores!(the_funds_confirmation_journey_works_as_written);

async fn the_fapi2_journey_with_private_key_jwt_and_dpop_works_as_written(db: TestDb) {
    let server = demo_server(db).await;
    let (mut reader, page) = Reader::open(&server, "fapi2-dpop").await;
    let org = reader.curl(1);
    reader.set_from("ORG_ID", &org, "id");
    reader.run(2);
    assert_eq!(
        std::fs::read_to_string(reader.path("jose.mjs")).unwrap(),
        server.get_text("/portal/docs/examples/jose.mjs").await,
        "the helper is downloaded as the page says"
    );
    let app = reader.curl(3);
    assert!(app["credentials"]["client_secret"].is_null(), "{app}");
    reader.set(
        "CLIENT_ID",
        app["credentials"]["client_id"].as_str().unwrap(),
    );
    assert_eq!(reader.blocks[4], "export BASE CLIENT_ID");
    reader.run(4);
    let header = reader.run(5);
    let nonce = header
        .trim()
        .split_once(':')
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{header}"));
    reader.set("DPOP_NONCE", &nonce);
    let issued = reader.curl(6);
    assert_eq!(issued["token_type"], "DPoP", "{issued}");
    reader.set_from("ACCESS_TOKEN", &issued, "access_token");
    let tokens = reader.read_alices_accounts(&server, 7).await;
    assert_eq!(tokens["token_type"], "DPoP", "{tokens}");
    let refused = reader.curl(13);
    assert_eq!(
        refused["tppMessages"][0],
        json!({"category": "ERROR", "code": "TOKEN_INVALID", "text": "send exactly one DPoP proof header"}),
        "as the page shows"
    );

    let key = reader.path("client-key.pem");
    let client_id = app["credentials"]["client_id"].as_str().unwrap();
    let client = [("CLIENT_ID", client_id), ("KEY", key.as_str())];
    for (file, read) in reader
        .run_programs(&server, &page, "fapi2-dpop", &client)
        .await
    {
        assert!(read["accounts"].is_array(), "{file}: {read}");
        assert_alices_accounts(&server, &read).await;
    }
    server.stop().await;
}
both_stores!(the_fapi2_journey_with_private_key_jwt_and_dpop_works_as_written);

async fn the_mtls_journey_works_as_written(db: TestDb) {
    let server = demo_server(db).await;
    let (mut reader, page) = Reader::open(&server, "mtls").await;
    let pki = fintechapi_server::tls::DevPki::in_data_dir(server.db.data_dir());
    assert!(reader.blocks[0].ends_with("\nCA_KEY=fintechapi-data/tls/dev-ca-key.pem"));
    reader.set("CA_KEY", &pki.ca_key.display().to_string());
    let org = reader.curl(1);
    reader.set_from("ORG_ID", &org, "id");
    reader.run(2);
    assert_eq!(
        reader.run(3).trim(),
        "subject=CN=app.tpp.example,O=Your TPP GmbH"
    );
    let app = reader.curl(4);
    let client_id = app["credentials"]["client_id"].as_str().unwrap().to_owned();
    reader.set("CLIENT_ID", &client_id);
    let issued = reader.curl(5);
    assert_eq!(issued["token_type"], "Bearer", "{issued}");
    reader.set_from("ACCESS_TOKEN", &issued, "access_token");
    reader.read_alices_accounts(&server, 6).await;
    assert!(!reader.blocks[12].contains("--cert"));
    let refused = &reader.curl(12)["tppMessages"][0];
    assert_eq!(refused["code"], "TOKEN_INVALID", "{refused}");
    assert!(
        refused["text"]
            .as_str()
            .unwrap()
            .starts_with("this access token is bound to a client certificate"),
        "{refused}"
    );

    let client = [
        ("CLIENT_ID", client_id.as_str()),
        ("CERT", "client.pem"),
        ("KEY", "client-key.pem"),
    ];
    for (file, read) in reader.run_programs(&server, &page, "mtls", &client).await {
        assert!(read["accounts"].is_array(), "{file}: {read}");
        assert_alices_accounts(&server, &read).await;
    }
    server.stop().await;
}
both_stores!(the_mtls_journey_works_as_written);
