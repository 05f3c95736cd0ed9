//! Delivers the outbox over SMTP when `mail.smtp_url` is set. Mails are stored
//! first (so none is lost when the relay is down) and claimed per node, so
//! several nodes never send the same mail; a failed send is retried later.

use std::sync::Arc;
use std::time::Duration;

use fintechapi_domain::Clock;
use fintechapi_domain::portal::{Mail, PortalRepository};
use fintechapi_storage::Store;
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const BATCH: u32 = 20;
const POLL: Duration = Duration::from_secs(2);
/// A claim older than this (a node died mid-send) is taken again.
const CLAIM_TIMEOUT: time::Duration = time::Duration::minutes(5);

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("mail.smtp_url: {0}")]
    Url(String),
    #[error("mail.from: {0}")]
    From(String),
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, MailerError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
            .map_err(|e| MailerError::Url(e.to_string()))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = from
            .parse()
            .map_err(|e: lettre::address::AddressError| MailerError::From(e.to_string()))?;
        Ok(Self { transport, from })
    }

    async fn send(&self, mail: &Mail) -> Result<(), String> {
        let to: Mailbox = mail
            .recipient
            .as_str()
            .parse()
            .map_err(|e: lettre::address::AddressError| e.to_string())?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                mail.body_text.clone(),
                mail.body_html.clone(),
            ))
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Delivers until `stop` turns true.
    pub fn spawn(
        self,
        store: Store,
        clock: Arc<dyn Clock>,
        mut stop: watch::Receiver<bool>,
    ) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let now = clock.now();
                match store.claim_mails(BATCH, now, now - CLAIM_TIMEOUT).await {
                    Ok(batch) => {
                        for (id, mail) in batch {
                            match self.send(&mail).await {
                                Ok(()) => {
                                    if let Err(e) = store.mark_mail_sent(id, clock.now()).await {
                                        tracing::warn!(error = %e, outbox_id = id, "sent mail not marked; it may be sent again");
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, outbox_id = id, "mail delivery failed; will retry")
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "reading the outbox failed"),
                }
                tokio::select! {
                    _ = stop.changed() => return,
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        })
    }
}
