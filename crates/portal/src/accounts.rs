//! Developer and operator accounts: sign-up with e-mail verification, login
//! with lockout, server-side sessions with idle and absolute expiry, logout,
//! password reset. Nothing here tells an outsider whether an address is registered.

use std::sync::Arc;

use fintechapi_domain::Clock;
use fintechapi_domain::StoreError;
use fintechapi_domain::ids::UserId;
use fintechapi_domain::otp::Seed;
use fintechapi_domain::portal::{
    Email, Mail, NewUser, PortalError, PortalRepository, Session, TokenPurpose, User, UserKind,
};
use fintechapi_domain::secret::{Pepper, SecretError, constant_time_eq, random_token};
use time::Duration;

use fintechapi_limits::throttle::NameThrottle;
use fintechapi_registry::validation::FieldErrors;
use fintechapi_web::Brand;
use fintechapi_web::mail::{self, MailKind};
use fintechapi_web::passwords::{PasswordPool, PasswordPoolError};

/// How long a password-checked login waits for its TOTP code.
const SECOND_FACTOR_TTL: Duration = Duration::minutes(5);

/// Consecutive failed logins that lock an account for [`AccountSettings::lockout`].
pub const MAX_FAILED_LOGINS: u32 = 5;
pub const MIN_PASSWORD_CHARS: usize = 12;
const MAX_PASSWORD_CHARS: usize = 256;

#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Base URL for links in mails, e.g. `https://localhost:8443`.
    pub public_url: String,
    pub session_idle: Duration,
    pub session_absolute: Duration,
    pub verify_ttl: Duration,
    pub reset_ttl: Duration,
    pub lockout: Duration,
    /// Sign-up and reset mails to one address per hour; more are dropped
    /// silently, so the forms cannot flood an inbox.
    pub mails_per_recipient_per_hour: u32,
    /// Development only: log the links sent by mail.
    pub log_mail_links: bool,
    /// The bank whose Developer Portal the mails come from.
    pub bank_name: Arc<str>,
}

impl AccountSettings {
    pub fn new(public_url: String) -> Self {
        Self {
            public_url,
            session_idle: Duration::minutes(30),
            session_absolute: Duration::hours(12),
            verify_ttl: Duration::hours(24),
            reset_ttl: Duration::hours(1),
            lockout: Duration::minutes(15),
            mails_per_recipient_per_hour: 3,
            log_mail_links: false,
            bank_name: Brand::default().name.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(FieldErrors),
    /// Wrong e-mail or password, or a locked account: one message for all.
    #[error(
        "e-mail or password is wrong, or the account is locked for a while after too many attempts"
    )]
    BadCredentials,
    #[error("confirm your e-mail address first: follow the link we sent you")]
    Unverified,
    #[error("this link is invalid or has expired")]
    BadToken,
    #[error("the code is wrong or was already used; log in again")]
    BadCode,
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Hashing,
    /// Every core is busy checking passwords: try again in a moment.
    #[error("too many password checks at once; try again in a moment")]
    Busy,
}

impl From<PasswordPoolError> for AccountError {
    fn from(e: PasswordPoolError) -> Self {
        match e {
            PasswordPoolError::Busy => AccountError::Busy,
            PasswordPoolError::Hashing => AccountError::Hashing,
        }
    }
}

impl From<PortalError> for AccountError {
    fn from(e: PortalError) -> Self {
        match e {
            PortalError::Store(e) => AccountError::Store(e),
            other => AccountError::Store(StoreError::new(other)),
        }
    }
}

/// What a correct password leads to.
#[derive(Debug)]
pub enum LoginOutcome {
    Session(NewSession),
    /// The account has a second factor: present this ticket with a TOTP code.
    SecondFactor {
        ticket: fintechapi_domain::secret::Secret,
    },
}

/// A new session: the cookie value (secret) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub cookie: fintechapi_domain::secret::Secret,
    pub csrf_token: String,
    pub user: User,
    /// The device cookie's value for this browser.
    pub device: String,
}

pub struct Accounts<R> {
    repo: R,
    pepper: Pepper,
    clock: Arc<dyn Clock>,
    settings: AccountSettings,
    /// Every argon2 job, bounded; unknown e-mails verify its dummy hash.
    passwords: Arc<PasswordPool>,
    mails_per_recipient: NameThrottle,
}

/// Checks the password policy: length, and not guessable (zxcvbn score 3+,
/// which rejects the common and breached passwords of its shipped lists).
pub fn check_password(
    errors: &mut FieldErrors,
    field: &'static str,
    password: &str,
    context: &[&str],
) {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        errors.add(
            field,
            format!("must have at least {MIN_PASSWORD_CHARS} characters"),
        );
    } else if chars > MAX_PASSWORD_CHARS {
        errors.add(
            field,
            format!("must have at most {MAX_PASSWORD_CHARS} characters"),
        );
    } else if (zxcvbn::zxcvbn(password, context).score() as u8) < 3 {
        errors.add(
            field,
            "is too common or too easy to guess; use a longer passphrase",
        );
    }
}

impl<R: PortalRepository> Accounts<R> {
    /// The server pepper: keys hashes and seals stored secrets.
    pub fn pepper(&self) -> &Pepper {
        &self.pepper
    }

    pub fn new(
        repo: R,
        pepper: Pepper,
        clock: Arc<dyn Clock>,
        settings: AccountSettings,
        passwords: Arc<PasswordPool>,
    ) -> Self {
        let mails_per_recipient = NameThrottle::new(
            settings.mails_per_recipient_per_hour,
            Duration::hours(1),
            clock.clone(),
        );
        Self {
            repo,
            pepper,
            clock,
            settings,
            passwords,
            mails_per_recipient,
        }
    }

    /// Counts mails per recipient in `limits`, so that with Redis every node
    /// shares the hourly limit instead of each allowing it anew.
    pub fn with_shared_mail_limits(mut self, limits: fintechapi_limits::Limits) -> Self {
        self.mails_per_recipient = NameThrottle::shared(
            limits,
            "mail-recipient",
            self.settings.mails_per_recipient_per_hour,
            Duration::hours(1),
        );
        self
    }

    /// The bounded argon2 pool, shared with the admin console's PSU passwords.
    pub fn passwords(&self) -> &Arc<PasswordPool> {
        &self.passwords
    }

    pub fn settings(&self) -> &AccountSettings {
        &self.settings
    }

    /// Registers a developer and mails a verification link. An address that is
    /// already registered gets a notice by mail instead; the caller sees the same outcome.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
    ) -> Result<(), AccountError> {
        let mut errors = FieldErrors::new();
        let parsed = email.parse::<Email>();
        if parsed.is_err() {
            errors.add("email", "is not a valid e-mail address");
        }
        let display_name = errors.text("display_name", display_name, 100);
        let local = email.split('@').next().unwrap_or_default();
        check_password(
            &mut errors,
            "password",
            password,
            &[local, &display_name, "fintechapi"],
        );
        let Ok(email) = parsed else {
            return Err(AccountError::Invalid(errors));
        };
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let hash = self.passwords.hash(password.to_owned()).await?;
        let now = self.clock.now();
        let created = self
            .repo
            .create_user(NewUser {
                id: UserId::random(),
                email: email.clone(),
                display_name: display_name.clone(),
                kind: UserKind::Developer,
                password: hash,
                email_verified_at: None,
                created_at: now,
            })
            .await;
        match created {
            Ok(user) => {
                let link = self
                    .token_link(
                        user.id,
                        TokenPurpose::VerifyEmail,
                        self.settings.verify_ttl,
                        "/portal/verify",
                    )
                    .await?;
                self.send(&email, MailKind::Verify { link: &link }).await
            }
            Err(PortalError::EmailTaken) => {
                let link = format!("{}/portal/reset", self.settings.public_url);
                self.send(&email, MailKind::AlreadyRegistered { link: &link })
                    .await
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn token_link(
        &self,
        user: UserId,
        purpose: TokenPurpose,
        ttl: Duration,
        path: &str,
    ) -> Result<String, AccountError> {
        let token = random_token(32)?;
        let expires = self.clock.now() + ttl;
        self.repo
            .create_token(&self.pepper.hash(&token), user, purpose, expires)
            .await?;
        Ok(format!("{}{path}?token={token}", self.settings.public_url))
    }

    async fn send(&self, to: &Email, kind: MailKind<'_>) -> Result<(), AccountError> {
        if self
            .mails_per_recipient
            .allow(to.as_str().to_ascii_lowercase())
            .await
            .is_err()
        {
            tracing::info!(
                mail = kind.label(),
                "mail dropped: too many to this recipient this hour"
            );
            return Ok(());
        }
        let rendered = mail::render(&kind, &self.settings.bank_name);
        if self.settings.log_mail_links {
            tracing::info!(to = %to, subject = %rendered.subject, link = kind.link(), "mail queued (development: link logged)");
        } else {
            tracing::info!(subject = %rendered.subject, "mail queued");
        }
        self.repo
            .enqueue_mail(Mail {
                recipient: to.clone(),
                subject: rendered.subject,
                body_text: rendered.text,
                body_html: rendered.html,
                created_at: self.clock.now(),
            })
            .await?;
        Ok(())
    }

    pub async fn verify_email(&self, token: &str) -> Result<(), AccountError> {
        let now = self.clock.now();
        let user = self
            .repo
            .consume_token(&self.pepper.hash(token), TokenPurpose::VerifyEmail, now)
            .await?
            .ok_or(AccountError::BadToken)?;
        self.repo.mark_email_verified(user, now).await?;
        Ok(())
    }

    /// The value of the device cookie a browser gets when it logs in to
    /// `user`: a keyed hash, so only this server can make one.
    pub fn device_token(&self, user: UserId) -> String {
        self.pepper
            .hash(&format!("portal-device:{user}"))
            .as_str()
            .to_owned()
    }

    /// Whether a check for `user` may run now. A browser that has logged in
    /// to the account before (its device cookie) is never locked out, so a
    /// stranger's guesses cannot keep the owner out; every other check is
    /// counted first, and the [`MAX_FAILED_LOGINS`]th locks the account for
    /// [`AccountSettings::lockout`] against them.
    async fn admits(&self, user: &User, device: Option<&str>) -> Result<bool, AccountError> {
        if device.is_some_and(|d| constant_time_eq(d, &self.device_token(user.id))) {
            return Ok(true);
        }
        let now = self.clock.now();
        let admitted = self
            .repo
            .begin_login_attempt(user.id, MAX_FAILED_LOGINS, now + self.settings.lockout, now)
            .await?;
        if !admitted {
            tracing::info!(user = %user.id, "login refused: account locked for unknown browsers");
        }
        Ok(admitted)
    }

    /// Checks the credentials and opens a session; `device` is the browser's
    /// device cookie, if any. The answer never says which part was wrong, and
    /// every path costs one argon2 verification.
    pub async fn log_in(
        &self,
        email: &str,
        password: &str,
        kind: UserKind,
        device: Option<&str>,
    ) -> Result<LoginOutcome, AccountError> {
        let now = self.clock.now();
        let found = match email.parse::<Email>() {
            Ok(email) => self.repo.user_by_email(&email).await?,
            Err(_) => None,
        };
        let Some((user, hash)) = found.filter(|(u, _)| u.kind == kind) else {
            self.passwords.verify(None, password.to_owned()).await?;
            return Err(AccountError::BadCredentials);
        };
        if !self.admits(&user, device).await? {
            self.passwords.verify(None, password.to_owned()).await?;
            return Err(AccountError::BadCredentials);
        }
        if !self
            .passwords
            .verify(Some(hash), password.to_owned())
            .await?
        {
            return Err(AccountError::BadCredentials);
        }
        if user.totp_enabled {
            // The count stays until the code is right too.
            let ticket = random_token(32)?;
            self.repo
                .create_token(
                    &self.pepper.hash(&ticket),
                    user.id,
                    TokenPurpose::SecondFactor,
                    now + SECOND_FACTOR_TTL,
                )
                .await?;
            return Ok(LoginOutcome::SecondFactor {
                ticket: fintechapi_domain::secret::Secret::new(ticket),
            });
        }
        self.repo.reset_login_failures(user.id).await?;
        if user.email_verified_at.is_none() {
            return Err(AccountError::Unverified);
        }
        self.open_session(user).await.map(LoginOutcome::Session)
    }

    /// Finishes a login that needs a TOTP code. The ticket works once: a wrong
    /// code means entering the password again, and counts as a failed login.
    pub async fn complete_second_factor(
        &self,
        ticket: &str,
        code: &str,
        device: Option<&str>,
    ) -> Result<NewSession, AccountError> {
        let now = self.clock.now();
        let user_id = self
            .repo
            .consume_token(&self.pepper.hash(ticket), TokenPurpose::SecondFactor, now)
            .await?
            .ok_or(AccountError::BadToken)?;
        let user = self
            .repo
            .user(user_id)
            .await?
            .ok_or(AccountError::BadToken)?;
        if !self.admits(&user, device).await? || !self.check_totp(&user, code).await? {
            return Err(AccountError::BadCode);
        }
        self.repo.reset_login_failures(user.id).await?;
        if user.email_verified_at.is_none() {
            return Err(AccountError::Unverified);
        }
        self.open_session(user).await
    }

    /// Checks a TOTP code of `user`, once: a code's time step is not accepted twice.
    pub async fn check_totp(&self, user: &User, code: &str) -> Result<bool, AccountError> {
        let Some(sealed) = self.repo.totp_seed(user.id).await? else {
            return Ok(false);
        };
        let Some(seed) = self.pepper.sealer().open(&sealed).map(Seed::from_bytes) else {
            tracing::error!(user = %user.id, "a stored TOTP seed does not open with this pepper");
            return Ok(false);
        };
        match seed.matching_step(code, self.clock.now()) {
            Some(step) => Ok(self.repo.accept_totp_step(user.id, step).await?),
            None => Ok(false),
        }
    }

    /// Turns on TOTP once the user proved their app holds `seed` with a current code.
    pub async fn enable_totp(
        &self,
        user: &User,
        seed_base32: &str,
        code: &str,
    ) -> Result<(), AccountError> {
        let seed = Seed::from_base32(seed_base32).ok_or(AccountError::BadCode)?;
        let step = seed
            .matching_step(code, self.clock.now())
            .ok_or(AccountError::BadCode)?;
        self.repo
            .set_totp(user.id, Some(self.pepper.sealer().seal(seed.as_bytes())?))
            .await?;
        self.repo.accept_totp_step(user.id, step).await?;
        Ok(())
    }

    /// Turns TOTP off; needs a current code. Wrong codes count like failed
    /// logins, so a stolen session cannot try every code.
    pub async fn disable_totp(&self, user: &User, code: &str) -> Result<(), AccountError> {
        if !self.admits(user, None).await? || !self.check_totp(user, code).await? {
            return Err(AccountError::BadCode);
        }
        self.repo.reset_login_failures(user.id).await?;
        self.repo.set_totp(user.id, None).await?;
        Ok(())
    }

    async fn open_session(&self, user: User) -> Result<NewSession, AccountError> {
        let now = self.clock.now();
        let cookie = random_token(32)?;
        let csrf_token = random_token(32)?;
        self.repo
            .create_session(
                &self.pepper.hash(&cookie),
                Session {
                    user_id: user.id,
                    csrf_token: csrf_token.clone(),
                    created_at: now,
                    last_seen_at: now,
                    expires_at: now + self.settings.session_absolute,
                },
            )
            .await?;
        Ok(NewSession {
            cookie: fintechapi_domain::secret::Secret::new(cookie),
            csrf_token,
            device: self.device_token(user.id),
            user,
        })
    }

    /// The live session behind a cookie value, refreshed; None when unknown,
    /// idle too long or past its absolute end (and then deleted).
    pub async fn session(&self, cookie: &str) -> Result<Option<(Session, User)>, AccountError> {
        let key = self.pepper.hash(cookie);
        let Some(session) = self.repo.session(&key).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        if now >= session.expires_at || now - session.last_seen_at >= self.settings.session_idle {
            self.repo.delete_session(&key).await?;
            return Ok(None);
        }
        let Some(user) = self.repo.user(session.user_id).await? else {
            return Ok(None);
        };
        // One write a minute at most per session.
        if now - session.last_seen_at >= Duration::minutes(1) {
            self.repo.touch_session(&key, now).await?;
        }
        Ok(Some((session, user)))
    }

    /// Removes sessions and one-time tokens nobody can use any more.
    pub async fn prune(&self) -> Result<u64, AccountError> {
        let now = self.clock.now();
        Ok(self
            .repo
            .prune_expired(now, now - self.settings.session_idle)
            .await?)
    }

    pub async fn log_out(&self, cookie: &str) -> Result<(), AccountError> {
        self.repo.delete_session(&self.pepper.hash(cookie)).await?;
        Ok(())
    }

    /// Mails a reset link if the address is registered; the caller cannot tell.
    pub async fn request_password_reset(&self, email: &str) -> Result<(), AccountError> {
        let Ok(email) = email.parse::<Email>() else {
            return Ok(());
        };
        if let Some((user, _)) = self.repo.user_by_email(&email).await? {
            let link = self
                .token_link(
                    user.id,
                    TokenPurpose::ResetPassword,
                    self.settings.reset_ttl,
                    "/portal/reset/confirm",
                )
                .await?;
            self.send(&email, MailKind::Reset { link: &link }).await?;
        }
        Ok(())
    }

    /// Sets a new password with a reset token; ends every session of the account
    /// and lifts a lockout. A reset also proves the address.
    pub async fn reset_password(&self, token: &str, password: &str) -> Result<(), AccountError> {
        let mut errors = FieldErrors::new();
        check_password(&mut errors, "password", password, &["fintechapi"]);
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let now = self.clock.now();
        let user = self
            .repo
            .consume_token(&self.pepper.hash(token), TokenPurpose::ResetPassword, now)
            .await?
            .ok_or(AccountError::BadToken)?;
        self.repo
            .set_password(user, self.passwords.hash(password.to_owned()).await?)
            .await?;
        self.repo.mark_email_verified(user, now).await?;
        self.repo.delete_sessions_of(user).await?;
        Ok(())
    }
}
