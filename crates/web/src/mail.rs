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
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct MailHtml<'a> {
    greeting: &'a str,
    body: &'a str,
    link: &'a str,
    action: &'a str,
}

pub fn render(kind: &MailKind<'_>) -> Rendered {
    let decision_body;
    let (subject, greeting, body, action) = match kind {
        MailKind::Invitation {
            organisation,
            inviter,
            role,
            ..
        } => {
            decision_body = format!(
                "a member of the organisation \"{organisation}\" (who signed up as \"{inviter}\") invites you to join it on the FinTechAPI Developer Portal as {role}. Log in (or sign up with this address), then open the link. It is valid for 7 days."
            );
            (
                "You are invited to a TPP organisation",
                "Hello,".to_owned(),
                decision_body.as_str(),
                "Accept the invitation",
            )
        }
        MailKind::Decision {
            application,
            product,
            approved,
            reason,
            ..
        } => {
            decision_body = if *approved {
                format!(
                    "the bank approved the {product} subscription of your application \"{application}\". It can be used now."
                )
            } else {
                format!(
                    "the bank rejected the {product} subscription of your application \"{application}\". Reason: {reason}"
                )
            };
            (
                if *approved {
                    "Subscription approved"
                } else {
                    "Subscription rejected"
                },
                "Hello,".to_owned(),
                decision_body.as_str(),
                "Open the application",
            )
        }
        MailKind::Verify { .. } => (
            "Confirm your FinTechAPI developer account",
            "Hello,".to_owned(),
            "please confirm your e-mail address to finish signing up for the FinTechAPI Developer Portal. The link is valid for 24 hours.",
            "Confirm e-mail address",
        ),
        MailKind::AlreadyRegistered { .. } => (
            "Someone tried to sign up with your address",
            "Hello,".to_owned(),
            "someone tried to create a FinTechAPI developer account with this address, which already has one. If it was you, log in or reset your password. Otherwise ignore this mail.",
            "Reset password",
        ),
        MailKind::PsuNotice { body, .. } => (
            "Your online banking access",
            "Hello,".to_owned(),
            *body,
            "Open online banking",
        ),
        MailKind::DemoRequest { .. } => (
            "We received your demo request",
            "Hello,".to_owned(),
            "thank you for your interest in FinTechAPI. We received a demo request from this address and will answer within two working days. If you did not send it, ignore this mail: we will not write again unless you reply.",
            "Read about FinTechAPI",
        ),
        MailKind::Reset { .. } => (
            "Reset your FinTechAPI password",
            "Hello,".to_owned(),
            "follow the link to choose a new password. It is valid for one hour and works once. If you did not ask for this, ignore this mail.",
            "Choose a new password",
        ),
    };
    let link = kind.link();
    let text = MailText {
        greeting: &greeting,
        body,
        link,
    }
    .render()
    .unwrap_or_default();
    let html = MailHtml {
        greeting: &greeting,
        body,
        link,
        action,
    }
    .render()
    .unwrap_or_default();
    Rendered {
        subject: subject.to_owned(),
        text,
        html,
    }
}
