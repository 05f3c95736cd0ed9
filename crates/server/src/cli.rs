//! The `fintechapi` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use fintechapi_domain::SystemClock;
use fintechapi_ledger::Ledger;
use fintechapi_ledger::demo::{DEMO_PSUS, JOINT_DEMO_PSUS};
use std::sync::Arc;

use crate::app::{Application, open_store};
use crate::config::{Config, LogFormat, Overrides, Profile};
use crate::telemetry;

#[derive(Debug, Parser)]
#[command(
    name = "fintechapi",
    version,
    about = "PSD2 open-banking platform: XS2A API, OAuth2/SCA, developer portal, core-banking ledger"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings that every subcommand understands; they override file and environment.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// TOML configuration file.
    #[arg(long, global = true, env = "FINTECHAPI_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory for the SQLite database, TLS material and other state [default: ./fintechapi-data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTPS listen address [default: 127.0.0.1:8443].
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// postgres://… or sqlite:… [default: SQLite in the data directory].
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log as human-readable text or JSON lines.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Do not seed the demo bank into an empty database.
    #[arg(long, global = true)]
    pub no_demo: bool,
    /// PEM CA bundle trusted, besides the system's roots, when fetching a client's jwks_uri.
    #[arg(long, global = true, value_name = "FILE")]
    pub client_jwks_ca_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the platform over HTTPS.
    Serve {
        /// development (demo data, dev certificate) or production (refuses both).
        #[arg(long, value_enum)]
        profile: Option<Profile>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Core-banking ledger tools.
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Operator commands: administrators and TPP applications.
    #[command(subcommand)]
    Admin(crate::admin::AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (flags > environment > file > defaults), secrets redacted.
    Show {
        #[arg(long, value_enum)]
        profile: Option<Profile>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Check that every currency sums to zero and every balance equals its postings.
    Verify,
}

impl GlobalArgs {
    fn overrides(&self, profile: Option<Profile>) -> Overrides {
        Overrides {
            profile,
            data_dir: self.data_dir.clone(),
            listen: self.listen.clone(),
            database_url: self.database_url.clone(),
            log_format: self.log_format,
            no_demo: self.no_demo,
            client_jwks_ca_file: self.client_jwks_ca_file.clone(),
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let profile = match &cli.command {
        Command::Serve { profile } | Command::Config(ConfigCommand::Show { profile }) => *profile,
        _ => None,
    };
    let loaded = Config::load(cli.global.config.as_deref(), &cli.global.overrides(profile))?;
    let config = loaded.config;
    telemetry::init(config.log.format, &config.log.filter);
    for key in &loaded.unknown_keys {
        tracing::warn!(setting = %key, "unknown setting ignored");
    }
    match cli.command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            let store = open_store(&config).await?;
            store.migrate().await.context("migrating the database")?;
            println!("migrations applied ({})", store.backend().as_str());
            Ok(ExitCode::SUCCESS)
        }
        Command::Config(ConfigCommand::Show { .. }) => {
            print!("{}", config.to_redacted_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger(LedgerCommand::Verify) => verify(config).await,
        Command::Admin(command) => crate::admin::run(config, command).await,
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let profile = config.profile;
    let data_dir = config.data_dir.clone();
    let store_desc = match &config.database_url {
        Some(url) => fintechapi_storage::redact_database_url(url),
        None => format!("SQLite at {}", config.sqlite_path().display()),
    };
    let shutdown = shutdown_signal()?;
    let app = Application::build(config).await?;
    print_banner(&app, profile, &store_desc, &data_dir);
    app.run_until_stopped(shutdown).await;
    Ok(ExitCode::SUCCESS)
}

fn print_banner(app: &Application, profile: Profile, store: &str, data_dir: &std::path::Path) {
    let s = app.started();
    let url = s.base_url.trim_end_matches('/');
    let profile = match profile {
        Profile::Development => "development",
        Profile::Production => "production",
    };
    // The operator command as it can be typed here: this very binary.
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "fintechapi".to_owned());
    let mut out = format!(
        "\nFinTechAPI is running ({profile} profile, {store})\n\n\
         \x20 Public site       {url}/\n\
         \x20 Developer Portal  {url}/portal\n\
         \x20 Online banking    {url}/bank/online\n\
         \x20 Admin console     {url}/admin\n\
         \x20 XS2A API          {url}/v1\n\
         \x20 OAuth metadata    {url}/.well-known/oauth-authorization-server\n\
         \x20 Health            {url}/healthz\n\n\
         Create an operator for the admin console:\n\
         \x20 {exe} --data-dir {data_dir} admin create-admin --email ops@bank.example\n",
        data_dir = data_dir.display(),
    );
    if let Some(ca) = &s.dev_ca {
        let ca = ca.display();
        let created = if s.dev_ca_created { "created" } else { "using" };
        out.push_str(&format!(
            "\nTLS: {created} a development CA at {ca}. Trust it with:\n\
             \x20 curl --cacert {ca} {url}/healthz\n\
             \x20 export NODE_EXTRA_CA_CERTS={ca}\n\
             \x20 export REQUESTS_CA_BUNDLE={ca}\n"
        ));
    }
    if s.has_demo_data {
        out.push_str("\nDemo bank customers (PSU login / password):\n");
        for psu in DEMO_PSUS.iter().chain(&JOINT_DEMO_PSUS) {
            out.push_str(&format!(
                "  {:<8} {:<18} {}\n",
                psu.login, psu.password, psu.name
            ));
        }
        out.push_str("  (dave and erin hold a joint account: each approves its payments)\n");
    }
    if let Some(code) = &s.sandbox_code {
        out.push_str(&format!(
            "\nSandbox second factor on the bank's pages: the one-time code {code} \
             (development profile only).\n"
        ));
    }
    println!("{out}");
}

async fn verify(config: Config) -> anyhow::Result<ExitCode> {
    let store = open_store(&config).await?;
    let readiness = store.readiness().await;
    if !readiness.migrations_current {
        anyhow::bail!("database: migrations are not current; run `fintechapi migrate` first");
    }
    let ledger = Ledger::new(store.clone(), Arc::new(SystemClock));
    let audit = ledger.audit().await.context("reading the ledger")?;
    store.close().await;
    println!(
        "ledger: {} accounts, {} transactions",
        audit.accounts, audit.transactions
    );
    for t in &audit.currency_totals {
        println!(
            "  {}: booked sum {}, pending sum {}",
            t.currency, t.booked, t.pending
        );
    }
    for m in &audit.balance_mismatches {
        println!(
            "  MISMATCH account {}: stored {:?}, from postings {:?}",
            m.account, m.stored, m.from_postings
        );
    }
    for t in &audit.unbalanced_transactions {
        println!("  UNBALANCED transaction {t}");
    }
    if audit.is_consistent() {
        println!("OK: every currency sums to zero and every balance equals its postings");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("INCONSISTENT: see the lines above");
        Ok(ExitCode::from(1))
    }
}

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is
/// called, not when it is first polled: a signal right after "serving" must
/// already shut down gracefully rather than kill the process.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {},
            _ = interrupt.recv() => {},
        }
        tracing::info!("shutdown signal received");
    })
}
