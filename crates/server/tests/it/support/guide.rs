//! The docs' guide and journey pages as a reader follows them: their code
//! blocks run as written in a shell, their programs run with the demo
//! customer approving in the browser.

use serde_json::Value;

use super::{Browser, SANDBOX_CODE, TestServer, accounts_of, iban};

/// The demo customer who approves in the docs' journeys.
pub const DOCS_PSU: (&str, &str) = ("alice", "alice-demo-2026");

/// The code blocks of a page (`<pre tabindex="0"><code>`, reachable by
/// keyboard since they scroll), in order, unescaped.
pub fn code_blocks(html: &str) -> Vec<String> {
    html.split(r#"<pre tabindex="0"><code>"#)
        .skip(1)
        .map(|b| {
            b[..b.find("</code></pre>").unwrap()]
                .replace("&#34;", "\"")
                .replace("&#39;", "'")
                .replace("&lt;", "<")
                .replace("&#60;", "<")
                .replace("&gt;", ">")
                .replace("&#62;", ">")
                .replace("&amp;", "&")
                .replace("&#38;", "&")
        })
        .collect()
}

/// Text as the templates escape it.
pub fn escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Runs a page's block up to its first `# →` comment (the answer shown to
/// the reader) with `vars` set, `curl` silent but for errors; its JSON answer.
pub fn run_block(block: &str, vars: &[(&str, &str)]) -> Value {
    let command = block.split_once("\n# →").map_or(block, |(c, _)| c);
    let out = run_shell(
        &format!("curl() {{ command curl -sS \"$@\"; }}\n{command}"),
        vars,
    );
    serde_json::from_str(&out).unwrap_or_else(|_| panic!("{command}\n{out}"))
}

/// Asserts that `answer` holds every field of the answer `block` shows.
#[track_caller]
pub fn assert_as_shown(block: &str, answer: &Value) {
    let shown = block.split_once("\n# →").map_or("", |(_, s)| s);
    for field in fields_shown(shown.lines().next().unwrap_or_default()) {
        assert!(
            holds_field(answer, field),
            "the page shows {field:?} in the answer to\n{block}\nbut it is\n{answer}"
        );
    }
}

/// The field names an answer shown on a page mentions: each `"name":`.
fn fields_shown(shown: &str) -> Vec<&str> {
    // Split at quotes, the odd parts are quoted; a quoted part followed by `:` is a name.
    let parts: Vec<&str> = shown.split('"').collect();
    (1..parts.len().saturating_sub(1))
        .step_by(2)
        .filter(|&i| parts[i + 1].starts_with(':'))
        .map(|i| parts[i])
        .collect()
}

/// Whether `value` has a field `name` at any depth.
fn holds_field(value: &Value, name: &str) -> bool {
    match value {
        Value::Object(fields) => {
            fields.contains_key(name) || fields.values().any(|v| holds_field(v, name))
        }
        Value::Array(items) => items.iter().any(|v| holds_field(v, name)),
        _ => false,
    }
}

/// Runs a page's block as a shell script with `vars` set; its output.
pub fn run_shell(script: &str, vars: &[(&str, &str)]) -> String {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The reader's shell: the variables the page's blocks set so far.
#[derive(Default)]
pub struct Shell {
    vars: Vec<(String, String)>,
}

impl Shell {
    pub fn set(&mut self, name: &str, value: &str) {
        self.vars.retain(|(k, _)| k != name);
        self.vars.push((name.to_owned(), value.to_owned()));
    }

    /// `name` set to the string `field` of `answer`, which must hold it.
    pub fn take(&mut self, name: &str, answer: &Value, field: &str) -> String {
        let value = answer[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} in {answer}"))
            .to_owned();
        self.set(name, &value);
        value
    }

    pub fn vars(&self) -> Vec<(&str, &str)> {
        self.vars
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// [`run_block`] in this shell; the answer holds what the page shows of it.
    #[track_caller]
    pub fn run(&self, block: &str) -> Value {
        let answer = run_block(block, &self.vars());
        assert_as_shown(block, &answer);
        answer
    }

    /// [`run_shell`] in this shell.
    pub fn shell(&self, block: &str) -> String {
        run_shell(block, &self.vars())
    }
}

/// An account list of some of the demo customer alice's accounts, and no one else's.
pub async fn assert_alices_accounts(server: &TestServer, read: &Value) {
    let ibans: Vec<&str> = read["accounts"]
        .as_array()
        .unwrap_or_else(|| panic!("{read}"))
        .iter()
        .filter_map(|a| a["iban"].as_str())
        .collect();
    let alices: Vec<String> = accounts_of(server, "alice")
        .await
        .iter()
        .map(iban)
        .collect();
    assert!(
        !ibans.is_empty() && ibans.iter().all(|i| alices.iter().any(|a| a == i)),
        "{read}"
    );
}

/// Runs a docs program (`program` is its interpreter, `source` its text) as
/// a TPP developer would, with `vars` in its environment: each line it
/// prints that is an address of this bank goes to the browser, where the
/// demo customer approves, and the address the browser came back to goes
/// to its input. The JSON documents it printed otherwise.
pub async fn run_program(
    server: &TestServer,
    program: &str,
    source: &str,
    vars: &[(&str, &str)],
) -> Vec<Value> {
    run(server, program, source, vars, Approval::InTheBrowser).await
}

/// [`run_program`] for a program of the Decoupled approach: while it waits,
/// the demo customer approves its request in online banking.
pub async fn run_decoupled_program(
    server: &TestServer,
    program: &str,
    source: &str,
    vars: &[(&str, &str)],
) -> Vec<Value> {
    run(server, program, source, vars, Approval::InOnlineBanking).await
}

/// Where the demo customer approves what a docs program asks.
#[derive(PartialEq)]
enum Approval {
    InTheBrowser,
    InOnlineBanking,
}

async fn run(
    server: &TestServer,
    program: &str,
    source: &str,
    vars: &[(&str, &str)],
    approval: Approval,
) -> Vec<Value> {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let extension = if program == "node" { "mjs" } else { "py" };
    let path = dir.path().join(format!("journey.{extension}"));
    std::fs::write(&path, source).unwrap();
    let mut child = std::process::Command::new(program)
        .arg(&path)
        .envs(vars.iter().copied())
        .env("NODE_EXTRA_CA_CERTS", &server.ca)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, mut printed) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let mut approvals = 0;
    if approval == Approval::InOnlineBanking {
        approve_in_online_banking(server, DOCS_PSU).await;
        approvals += 1;
    }
    let mut stdin = child.stdin.take().unwrap();
    let mut output = String::new();
    while let Some(line) = printed.recv().await {
        if line.starts_with(&format!("{}/", server.base_url)) {
            let mut psu = Browser::new(server);
            let screen = psu.authorise(line.trim(), DOCS_PSU.0, DOCS_PSU.1).await;
            let approved = psu.decide(&screen, "approve").await;
            writeln!(stdin, "{}", approved.location.as_deref().unwrap()).unwrap();
            approvals += 1;
        } else {
            output.push_str(&line);
            output.push('\n');
        }
    }
    drop(stdin);
    let done = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert!(done.status.success(), "{program}: {stderr}\n{output}");
    assert!(approvals > 0, "{program} sent the customer to the bank");
    serde_json::Deserializer::from_str(&output)
        .into_iter::<Value>()
        .map(|v| v.unwrap_or_else(|e| panic!("{program}: {e}\n{output}")))
        .collect()
}

/// The customer `(login, password)` signs in to online banking with both
/// factors, waits (10 s at most) for one request among the pending
/// approvals, and approves it with the sandbox code.
pub async fn approve_in_online_banking(server: &TestServer, (login, password): (&str, &str)) {
    let mut psu = Browser::new(server);
    psu.online_login(login, password)
        .await
        .assert_location("/bank/online/sca");
    psu.online_second_factor(SANDBOX_CODE)
        .await
        .assert_location("/bank/online/consents");
    let mut href = None;
    for _ in 0..200 {
        let list = psu.get("/bank/online/approvals.json").await;
        let list: Value = serde_json::from_str(&list.body).unwrap();
        href = list["pending"][0]["href"].as_str().map(str::to_owned);
        if href.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let href = href.expect("a pending approval within 10 s");
    let page = psu.get(&href).await;
    let answered = psu
        .submit(
            &href,
            &[("decision", "approve"), ("code", SANDBOX_CODE)],
            &page.csrf(),
        )
        .await;
    answered.assert_location("/bank/online/approvals?answered=approved");
}
