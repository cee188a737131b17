//! `finsync-server`: run the reference server, or administer its database.

use clap::{Parser, Subcommand};
use finsync_server::{auth, build, db, demo, serve, Config};

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
    let (router, state) = build(config).await?;
    if demo_mode {
        let (key, created) = demo::ensure(&state.db, &database)?;
        println!(
            "demo population ready ({}); API key: {key}",
            if created {
                "created now"
            } else {
                "from an earlier start"
            }
        );
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
            let id = db.tx_blocking(|tx| db::create_organisation(tx, &name))?;
            println!("{id}");
        }
        Admin::CreatePopulation { organisation, name } => {
            let id = db.tx_blocking(|tx| db::create_population(tx, organisation, &name, true))?;
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
            db.tx_blocking(|tx| db::set_sync_enabled(tx, population, enabled))?;
            println!(
                "population {population}: browser sync {}",
                if enabled { "on" } else { "off" }
            );
        }
    }
    Ok(())
}
