//! Mails as text and HTML pairs, rendered from templates (every value escaped in HTML).

use askama::Template;

pub enum MailKind<'a> {
    /// No name in it: whatever a visitor types must not reach someone else's inbox.
    Verify {
        link: &'a str,
    },
    AlreadyRegistered {
        link: &'a str,
    },
    Reset {
        link: &'a str,
    },
    /// A bank customer's block alert; `body` is the bank's own text.
    PsuNotice {
        body: &'a str,
        link: &'a str,
    },
    Decision {
        application: &'a str,
        product: &'a str,
        approved: bool,
        reason: &'a str,
        link: &'a str,
    },
    Invitation {
        organisation: &'a str,
        inviter: &'a str,
        role: &'a str,
        link: &'a str,
    },
    /// The confirmation of a demo request: nothing the visitor typed is in
    /// it, so the form cannot send a stranger words of someone else's choosing.
    DemoRequest {
        link: &'a str,
    },
}

impl MailKind<'_> {
    /// Who signs the mail: the bank itself for its customers and the site's
    /// visitors, its Developer Portal for developers.
    fn signature(&self, bank: &str) -> String {
        match self {
            MailKind::PsuNotice { .. } | MailKind::DemoRequest { .. } => bank.to_owned(),
            _ => format!("{bank} Developer Portal"),
        }
    }

    /// Which mail, for logs.
    pub fn label(&self) -> &'static str {
        match self {
            MailKind::Verify { .. } => "verify",
            MailKind::AlreadyRegistered { .. } => "already registered",
            MailKind::Reset { .. } => "reset",
            MailKind::PsuNotice { .. } => "psu notice",
            MailKind::Decision { .. } => "decision",
            MailKind::Invitation { .. } => "invitation",
            MailKind::DemoRequest { .. } => "demo request",
        }
    }

    pub fn link(&self) -> &str {
        match self {
            MailKind::Verify { link }
            | MailKind::AlreadyRegistered { link }
            | MailKind::Reset { link }
            | MailKind::PsuNotice { link, .. }
            | MailKind::Decision { link, .. }
            | MailKind::Invitation { link, .. }
            | MailKind::DemoRequest { link } => link,
        }
    }
}

pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "mail/message.txt")]
struct MailText<'a> {
    greeting: &'a str,
    body: &'a str,
    link: &'a str,
    signature: &'a str,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct MailHtml<'a> {
    greeting: &'a str,
    body: &'a str,
    link: &'a str,
    action: &'a str,
    signature: &'a str,
}

/// The mail `kind` in the name of `bank` (configuration `[brand] name`).
pub fn render(kind: &MailKind<'_>, bank: &str) -> Rendered {
    let (subject, body, action): (String, String, &str) = match kind {
        MailKind::Invitation {
            organisation,
            inviter,
            role,
            ..
        } => (
            format!("You are invited to a TPP organisation at {bank}"),
            format!(
                "a member of the organisation \"{organisation}\" (who signed up as \"{inviter}\") invites you to join it on the {bank} Developer Portal as {role}. Log in (or sign up with this address), then open the link. It is valid for 7 days."
            ),
            "Accept the invitation",
        ),
        MailKind::Decision {
            application,
            product,
            approved,
            reason,
            ..
        } => {
            let (decided, body) = if *approved {
                (
                    "approved",
                    format!(
                        "{bank} approved the {product} subscription of your application \"{application}\". It can be used now."
                    ),
                )
            } else {
                (
                    "rejected",
                    format!(
                        "{bank} rejected the {product} subscription of your application \"{application}\". Reason: {reason}"
                    ),
                )
            };
            (
                format!("Subscription {decided} by {bank}"),
                body,
                "Open the application",
            )
        }
        MailKind::Verify { .. } => (
            format!("Confirm your {bank} developer account"),
            format!(
                "please confirm your e-mail address to finish signing up for the {bank} Developer Portal. The link is valid for 24 hours."
            ),
            "Confirm e-mail address",
        ),
        MailKind::AlreadyRegistered { .. } => (
            format!("Someone tried to sign up at {bank} with your address"),
            format!(
                "someone tried to create a developer account on the {bank} Developer Portal with this address, which already has one. If it was you, log in or reset your password. Otherwise ignore this mail."
            ),
            "Reset password",
        ),
        MailKind::PsuNotice { body, .. } => (
            format!("Your {bank} online banking access"),
            (*body).to_owned(),
            "Open online banking",
        ),
        MailKind::DemoRequest { .. } => (
            format!("{bank} received your demo request"),
            format!(
                "thank you for your interest in the open banking APIs of {bank}. We received a demo request from this address and will answer within two working days. If you did not send it, ignore this mail: we will not write again unless you reply."
            ),
            "Read about our APIs",
        ),
        MailKind::Reset { .. } => (
            format!("Reset your {bank} Developer Portal password"),
            format!(
                "follow the link to choose a new password for your {bank} Developer Portal account. It is valid for one hour and works once. If you did not ask for this, ignore this mail."
            ),
            "Choose a new password",
        ),
    };
    let (link, signature) = (kind.link(), kind.signature(bank));
    let text = MailText {
        greeting: "Hello,",
        body: &body,
        link,
        signature: &signature,
    }
    .render()
    .unwrap_or_default();
    let html = MailHtml {
        greeting: "Hello,",
        body: &body,
        link,
        action,
        signature: &signature,
    }
    .render()
    .unwrap_or_default();
    Rendered {
        subject,
        text,
        html,
    }
}
