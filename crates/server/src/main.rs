//! `finsync-server`: run the reference server, or administer its database.

use clap::{Parser, Subcommand};
use finsync_core::api::{OrganisationRole, PopulationRole};
use finsync_server::error::AppError;
use finsync_server::{accounts, auth, build, db, demo, serve, Config};

#[derive(Parser)]
#[command(
    name = "finsync-server",
    version,
    about = "finsync's reference sync server"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Administer organisations, populations and API keys.
    #[command(subcommand)]
    Admin(Admin),
    /// Print the API's OpenAPI 3 document (docs/openapi.json is this output).
    Openapi,
}

#[derive(Subcommand)]
enum Admin {
    /// Create an organisation; prints its id.
    CreateOrganisation { name: String },
    /// Create a population with browser sync enabled; prints its id.
    CreatePopulation {
        #[arg(long)]
        organisation: i64,
        name: String,
    },
    /// Create an API key for a population; prints the key (shown only once).
    CreateKey {
        #[arg(long)]
        population: i64,
        #[arg(long, default_value = "admin")]
        label: String,
    },
    /// Revoke an API key (read from standard input, so it stays out of shell history).
    RevokeKey,
    /// Turn browser sync on or off for a population.
    SetSync {
        #[arg(long)]
        population: i64,
        #[arg(long, action = clap::ArgAction::Set)]
        enabled: bool,
    },
    /// Create a user who can sign in; the password is read from standard input (first line).
    /// Prints the user's id.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long)]
        first_name: String,
        #[arg(long)]
        last_name: String,
    },
    /// Set a user's password (read from standard input).
    SetPassword {
        #[arg(long)]
        email: String,
    },
    /// Add a user to an organisation (or change their role there).
    AddMember {
        #[arg(long)]
        organisation: i64,
        #[arg(long)]
        email: String,
        /// member or admin
        #[arg(long, default_value = "member")]
        role: String,
    },
    /// Give a user a role in a population (viewer, expert, professional, admin), or remove it
    /// with `none`.
    SetRole {
        #[arg(long)]
        population: i64,
        #[arg(long)]
        email: String,
        #[arg(long)]
        role: String,
    },
}

/// The actor of every admin command's audit entries.
const ADMIN: &str = "admin-cli";

fn read_password() -> Result<String, Box<dyn std::error::Error>> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn user_id(db: &db::Db, email: &str) -> Result<i64, AppError> {
    let email = accounts::normalize_email(email).ok_or_else(|| {
        AppError::bad("invalidEmail", format!("{email:?} is not an email address"))
    })?;
    db.tx_blocking(|tx| {
        accounts::user_by_email(tx, &email)?
            .map(|u| u.id)
            .ok_or_else(|| AppError::NotFound(format!("user {email}")))
    })
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "finsync_server=info,tower_http=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        None | Some(Command::Serve) => run(cli.config).await,
        Some(Command::Admin(a)) => admin(&cli.config, a),
        Some(Command::Openapi) => {
            print!("{}", finsync_server::routes::openapi::document_text());
            Ok(())
        }
    };
    if let Err(e) = result {
        eprintln!("finsync-server: {e}");
        std::process::exit(1);
    }
}

async fn run(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let listen = config.listen.clone();
    let demo_mode = config.demo;
    let database = config.database.clone();
    let public_url = config.public_url.clone();
    let cost = auth::PasswordCost::from_config(&config);
    let test_mode = config.test_mode;
    let (router, state) = build(config).await?;
    if demo_mode {
        let (key, created) = demo::ensure(&state.db, &database)?;
        let population = demo::population_of(&state.db, &key)?;
        println!("{}", demo::banner(&key, created, population.as_ref()));
        let user = demo::ensure_user(&state.db, &database, cost)?;
        println!("demo user: email {} password {}", user.email, user.password);
    }
    if test_mode {
        println!("TEST MODE: /api/v1/test/* (fault injection, key-status switch) is enabled");
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    println!("finsync-server listening on {public_url}");
    serve(listener, router, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}

fn admin(config: &Config, cmd: Admin) -> Result<(), Box<dyn std::error::Error>> {
    let db = db::Db::open(&config.database)?;
    match cmd {
        Admin::CreateOrganisation { name } => {
            let id = db.tx_blocking(|tx| {
                let id = db::create_organisation(tx, &name)?;
                db::audit(
                    tx,
                    ADMIN,
                    "organisation.create",
                    &format!("organisation {id} {name:?}"),
                )?;
                Ok(id)
            })?;
            println!("{id}");
        }
        Admin::CreatePopulation { organisation, name } => {
            let id = db.tx_blocking(|tx| {
                if !db::organisation_exists(tx, organisation)? {
                    return Err(AppError::NotFound(format!("organisation {organisation}")));
                }
                let id = db::create_population(tx, organisation, &name, true)?;
                db::audit_in(
                    tx,
                    Some(id),
                    ADMIN,
                    "population.create",
                    &format!(
                        "population {id} {name:?} in organisation {organisation}, browser sync on"
                    ),
                )?;
                Ok(id)
            })?;
            println!("{id}");
        }
        Admin::CreateKey { population, label } => {
            let key = db.tx_blocking(|tx| {
                if db::population(tx, population)?.is_none() {
                    return Err(finsync_server::error::AppError::NotFound(format!(
                        "population {population}"
                    )));
                }
                auth::create_key(tx, population, &label)
            })?;
            println!("{key}");
        }
        Admin::RevokeKey => {
            let mut key = String::new();
            std::io::stdin().read_line(&mut key)?;
            let revoked = db.tx_blocking(|tx| auth::revoke_key(tx, key.trim()))?;
            println!(
                "{}",
                if revoked {
                    "revoked"
                } else {
                    "no such active key"
                }
            );
        }
        Admin::SetSync {
            population,
            enabled,
        } => {
            db.tx_blocking(|tx| {
                db::set_sync_enabled(tx, population, enabled)?;
                db::audit_in(
                    tx,
                    Some(population),
                    ADMIN,
                    "population.sync",
                    &format!(
                        "browser sync {}",
                        if enabled { "enabled" } else { "disabled" }
                    ),
                )
            })?;
            println!(
                "population {population}: browser sync {}",
                if enabled { "on" } else { "off" }
            );
        }
        Admin::CreateUser {
            email,
            first_name,
            last_name,
        } => {
            let email = accounts::normalize_email(&email)
                .ok_or_else(|| format!("{email:?} is not an email address"))?;
            let first = accounts::clean_name("first name", &first_name)?;
            let last = accounts::clean_name("last name", &last_name)?;
            let phc =
                auth::hash_password(&read_password()?, auth::PasswordCost::from_config(config))?;
            let id = db.tx_blocking(|tx| {
                let id = accounts::create_user(tx, &email, &first, &last, Some(&phc), false)?;
                db::audit(tx, ADMIN, "user.create", &format!("user {id}"))?;
                Ok(id)
            })?;
            println!("{id}");
        }
        Admin::SetPassword { email } => {
            let id = user_id(&db, &email)?;
            let phc =
                auth::hash_password(&read_password()?, auth::PasswordCost::from_config(config))?;
            db.tx_blocking(|tx| {
                accounts::set_password_hash(tx, id, &phc)?;
                db::audit(tx, ADMIN, "user.password", &format!("user {id}"))
            })?;
            println!("password of user {id} set");
        }
        Admin::AddMember {
            organisation,
            email,
            role,
        } => {
            let role: OrganisationRole = accounts::parse_org_role(&role)
                .ok_or_else(|| format!("role {role:?}: use member or admin"))?;
            let id = user_id(&db, &email)?;
            db.tx_blocking(|tx| {
                if !db::organisation_exists(tx, organisation)? {
                    return Err(AppError::NotFound(format!("organisation {organisation}")));
                }
                accounts::set_member(tx, organisation, id, role)?;
                db::audit(
                    tx,
                    ADMIN,
                    "member.set",
                    &format!(
                        "user {id} is {} of organisation {organisation}",
                        accounts::org_role_str(role)
                    ),
                )
            })?;
            println!(
                "user {id}: {} of organisation {organisation}",
                accounts::org_role_str(role)
            );
        }
        Admin::SetRole {
            population,
            email,
            role,
        } => {
            let role: Option<PopulationRole> = match role.as_str() {
                "none" => None,
                r => Some(accounts::parse_pop_role(r).ok_or_else(|| {
                    format!("role {r:?}: use viewer, expert, professional, admin or none")
                })?),
            };
            let id = user_id(&db, &email)?;
            db.tx_blocking(|tx| {
                accounts::require_population(tx, population)?;
                accounts::set_population_role(tx, population, id, role)?;
                db::audit_in(
                    tx,
                    Some(population),
                    ADMIN,
                    "role.set",
                    &format!(
                        "user {id}: {}",
                        role.map(accounts::pop_role_str).unwrap_or("none")
                    ),
                )
            })?;
            println!(
                "user {id}: {} in population {population}",
                role.map(accounts::pop_role_str).unwrap_or("no role")
            );
        }
    }
    Ok(())
}
