//! Outbox delivery over SMTP, against a minimal SMTP peer, on both stores.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::{TestServer, config_for};
use fintechapi_testkit::{TestDb, both_stores};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Accepts SMTP sessions and keeps each message's DATA.
async fn smtp_peer() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            store.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            body.push_str(&line);
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-test\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, received)
}

async fn queued_mails_are_delivered_over_smtp_once(db: TestDb) {
    let (port, received) = smtp_peer().await;
    let mut config = config_for(&db);
    config.mail.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
    config.mail.from = "FinTechAPI Sandbox <noreply@bank.example>".into();
    let server = TestServer::start_with(db, config).await;
    let signup = server.client().post(server.url("/portal/api/v1/signup"))
        .json(&serde_json::json!({"email": "mailme@tpp.example", "password": "correct horse battery staple 42", "display_name": "Mail Me"}))
        .send().await.unwrap();
    assert_eq!(signup.status(), 202);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while received.lock().unwrap().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no mail was delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Give a second poll the chance to send it again; it must not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = received.lock().unwrap().clone();
    assert_eq!(mails.len(), 1, "sent exactly once");
    let mail = &mails[0];
    assert!(mail.contains("To: mailme@tpp.example"), "{mail}");
    assert!(
        mail.contains("Subject: Confirm your FinTechAPI Demo Bank developer account"),
        "{mail}"
    );
    assert!(mail.contains("multipart/alternative"), "{mail}");
    assert!(mail.contains("/portal/verify?token="), "{mail}");
    server.stop().await;
}
both_stores!(queued_mails_are_delivered_over_smtp_once);
