//! `fintechapi admin …`: operator commands for scripts and first setup.

use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use fintechapi_domain::ids::{ApplicationId, UserId};
use fintechapi_domain::password::PasswordHash;
use fintechapi_domain::portal::{Email, NewUser, PortalError, PortalRepository, UserKind};
use fintechapi_domain::registry::{
    ApiProduct, Application, Environment, Psd2Roles, SecurityProfile, Status,
};
use fintechapi_domain::secret::random_token;
use fintechapi_domain::{Clock, SystemClock};
use fintechapi_registry::{
    Actor, IssuedCredential, NewApplication, NewOrganisation, Registry, RegistryError,
};
use fintechapi_storage::Store;
use serde_json::json;

use crate::app::{open_store, registry};
use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a bank operator account for the admin console; prints a generated password once.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// TPP applications.
    #[command(subcommand)]
    App(AppCommand),
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Create (or reuse) an organisation and an application with approved
    /// subscriptions, and print a fresh consumer key and secret.
    Create(CreateApp),
    /// List every application.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Suspend an application: no token and no API call from the next request on.
    Suspend { application_id: String },
    /// Lift a suspension.
    Unsuspend { application_id: String },
    /// Issue a new consumer key and secret; the old ones work for the grace period.
    RotateSecret {
        application_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CreateApp {
    /// Legal name of the TPP organisation (created if it does not exist).
    #[arg(long)]
    org: String,
    #[arg(long)]
    name: String,
    /// Exact redirect URI; repeat for several.
    #[arg(long = "redirect-uri", required = true)]
    redirect_uris: Vec<String>,
    #[arg(long, default_value = "basic", value_parser = parse_profile)]
    profile: SecurityProfile,
    #[arg(long, value_delimiter = ',', default_value = "ais,pis,piis", value_parser = parse_product)]
    products: Vec<ApiProduct>,
    #[arg(long = "env", default_value = "sandbox", value_parser = parse_environment)]
    environment: Environment,
    /// fapi2 with private_key_jwt: a file holding the client's public JWKS.
    #[arg(long = "jwks")]
    jwks_file: Option<std::path::PathBuf>,
    /// fapi2 with private_key_jwt: the https URI where the client publishes its JWKS (fetched and cached by the server).
    #[arg(long)]
    jwks_uri: Option<String>,
    /// fapi2 with mutual TLS: the client certificate's subject DN.
    #[arg(long)]
    tls_subject_dn: Option<String>,
    /// FAPI 2.0 Message Signing: pushed requests only as request objects signed with the client's keys (needs --jwks or --jwks-uri).
    #[arg(long)]
    require_signed_request_object: bool,
    #[arg(long)]
    json: bool,
}

fn parse_profile(s: &str) -> Result<SecurityProfile, String> {
    s.parse().map_err(|_| "expected basic or fapi2".to_owned())
}

fn parse_product(s: &str) -> Result<ApiProduct, String> {
    s.parse()
        .map_err(|_| "expected ais, pis or piis".to_owned())
}

fn parse_environment(s: &str) -> Result<Environment, String> {
    s.parse()
        .map_err(|_| "expected sandbox or production".to_owned())
}

fn cli_actor() -> Actor {
    Actor("cli".into())
}

pub async fn run(config: Config, command: AdminCommand) -> anyhow::Result<ExitCode> {
    let store = open_store(&config).await?;
    store.migrate().await.context("migrating the database")?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let registry = registry(&config, store.clone(), clock.clone())?;
    let result = match command {
        AdminCommand::CreateAdmin {
            email,
            name,
            password_stdin,
        } => create_admin(&store, clock, &email, &name, password_stdin).await,
        AdminCommand::App(AppCommand::Create(args)) => create_app(&registry, args).await,
        AdminCommand::App(AppCommand::List { json }) => list_apps(&registry, json).await,
        AdminCommand::App(AppCommand::Suspend { application_id }) => {
            set_status(&registry, &application_id, Status::Suspended).await
        }
        AdminCommand::App(AppCommand::Unsuspend { application_id }) => {
            set_status(&registry, &application_id, Status::Active).await
        }
        AdminCommand::App(AppCommand::RotateSecret {
            application_id,
            json,
        }) => {
            let id = parse_app_id(&application_id)?;
            let issued = registry
                .rotate_secret(&cli_actor(), id)
                .await
                .map_err(explain)?;
            print_credentials(&issued, json, None);
            Ok(())
        }
    };
    store.close().await;
    result.map(|()| ExitCode::SUCCESS)
}

fn parse_app_id(text: &str) -> anyhow::Result<ApplicationId> {
    text.parse()
        .with_context(|| format!("application id {text:?}"))
}

fn explain(e: RegistryError) -> anyhow::Error {
    match e {
        RegistryError::NotFound => anyhow::anyhow!("no such application"),
        other => anyhow::Error::new(other),
    }
}

async fn create_admin(
    store: &Store,
    clock: Arc<dyn Clock>,
    email: &str,
    name: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let email: Email = email.parse().context("--email")?;
    let (password, generated) = if password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the password from stdin")?;
        let text = text.trim_end_matches(['\r', '\n']).to_owned();
        if text.chars().count() < 12 {
            bail!("--password-stdin: the password must have at least 12 characters");
        }
        (text, false)
    } else {
        (random_token(18)?, true)
    };
    let hash =
        tokio::task::spawn_blocking(move || PasswordHash::create(&password).map(|h| (h, password)))
            .await
            .context("hashing the password")??;
    let now = clock.now();
    match store
        .create_user(NewUser {
            id: UserId::random(),
            email: email.clone(),
            display_name: name.to_owned(),
            kind: UserKind::Admin,
            password: hash.0,
            email_verified_at: Some(now),
            created_at: now,
        })
        .await
    {
        Ok(_) => {}
        Err(PortalError::EmailTaken) => bail!("--email: an account with {email} already exists"),
        Err(e) => return Err(e.into()),
    }
    println!("created administrator {email}");
    if generated {
        println!("password (shown once): {}", hash.1);
    }
    Ok(())
}

async fn create_app(registry: &Registry<Store>, args: CreateApp) -> anyhow::Result<()> {
    let repo = registry.repo();
    let wanted_roles = args
        .products
        .iter()
        .fold(Psd2Roles::default(), |r, p| r.with(p.required_role()));
    let organisation = match repo.organisation_by_name(args.org.trim()).await? {
        Some(org) => org,
        None => registry
            .create_organisation(
                &cli_actor(),
                None,
                NewOrganisation {
                    legal_name: args.org.clone(),
                    country: "DE".into(),
                    roles: wanted_roles,
                    competent_authority: "Sandbox".into(),
                    authorisation_number: "SANDBOX".into(),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("--org: {e}"))?,
    };
    let existing = repo
        .applications_of(organisation.id)
        .await?
        .into_iter()
        .find(|a| a.name == args.name.trim());
    let (application, issued) = match existing {
        Some(app) => {
            if app.environment != args.environment || app.security_profile != args.profile {
                bail!(
                    "--name: application {:?} exists as {} {}; choose another name",
                    app.name,
                    app.environment,
                    app.security_profile
                );
            }
            registry
                .approve_products(&cli_actor(), &organisation, &app, &args.products)
                .await
                .map_err(|e| anyhow::anyhow!("--products: {e}"))?;
            let issued = registry
                .rotate_secret(&cli_actor(), app.id)
                .await
                .map_err(explain)?;
            (app, issued)
        }
        None => registry
            .create_application(
                &cli_actor(),
                &organisation,
                NewApplication {
                    name: args.name.clone(),
                    description: "Created with fintechapi admin app create".into(),
                    redirect_uris: args.redirect_uris.clone(),
                    security_profile: args.profile,
                    jwks: match &args.jwks_file {
                        Some(path) => {
                            Some(std::fs::read_to_string(path).with_context(|| {
                                format!("--jwks: cannot read {}", path.display())
                            })?)
                        }
                        None => None,
                    },
                    jwks_uri: args.jwks_uri.clone(),
                    tls_subject_dn: args.tls_subject_dn.clone(),
                    require_signed_request_object: args.require_signed_request_object,
                    environment: args.environment,
                    products: args.products.clone(),
                },
                true,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    print_credentials(&issued, args.json, Some(&application));
    Ok(())
}

fn print_credentials(issued: &IssuedCredential, json: bool, application: Option<&Application>) {
    if json {
        let mut out = json!({
            "client_id": issued.consumer_key,
            "client_secret": issued.secret(),
            "application_id": issued.application.to_string(),
        });
        if let Some(app) = application {
            out["organisation_id"] = json!(app.organisation_id.to_string());
            out["environment"] = json!(app.environment.as_str());
            out["security_profile"] = json!(app.security_profile.as_str());
        }
        println!("{out}");
    } else {
        println!("application   {}", issued.application);
        println!("consumer key  {}", issued.consumer_key);
        match issued.secret() {
            Some(secret) => println!("secret        {secret}  (shown once; store it now)"),
            None => println!(
                "secret        none: this application authenticates with its key or certificate"
            ),
        }
    }
}

async fn list_apps(registry: &Registry<Store>, json: bool) -> anyhow::Result<()> {
    let repo = registry.repo();
    let mut rows = Vec::new();
    for app in repo.all_applications().await? {
        let org = repo.organisation(app.organisation_id).await?;
        let products: Vec<String> = repo
            .subscriptions_of(app.id)
            .await?
            .iter()
            .map(|s| format!("{}:{}", s.product, s.status))
            .collect();
        rows.push(json!({
            "application_id": app.id.to_string(),
            "organisation": org.map(|o| o.legal_name).unwrap_or_default(),
            "name": app.name,
            "environment": app.environment.as_str(),
            "security_profile": app.security_profile.as_str(),
            "status": app.status.as_str(),
            "subscriptions": products,
        }));
    }
    if json {
        println!("{}", serde_json::Value::Array(rows));
    } else {
        for r in rows {
            println!(
                "{}  {:<10} {:<9} {:<6} {} / {}  [{}]",
                r["application_id"].as_str().unwrap_or_default(),
                r["environment"].as_str().unwrap_or_default(),
                r["status"].as_str().unwrap_or_default(),
                r["security_profile"].as_str().unwrap_or_default(),
                r["organisation"].as_str().unwrap_or_default(),
                r["name"].as_str().unwrap_or_default(),
                r["subscriptions"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(" "))
                    .unwrap_or_default(),
            );
        }
    }
    Ok(())
}

async fn set_status(registry: &Registry<Store>, id: &str, status: Status) -> anyhow::Result<()> {
    let id = parse_app_id(id)?;
    registry
        .set_application_status(&cli_actor(), id, status)
        .await
        .map_err(explain)?;
    println!("application {id} is now {status}");
    Ok(())
}
