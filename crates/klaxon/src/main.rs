//! The `klaxon` binary: `serve`, plus administration commands that work directly on the database
//! (and so work while a server runs: a key created or revoked takes effect at once).

mod cli;
mod settings;

use anyhow::{Context, Result, bail};
use clap::Parser;
use cli::{Cli, Command, ConfigCommand, TokenCommand, UserCommand};
use klaxon_core::clock::Clock;
use klaxon_core::role::Role;
use klaxon_server::clock::SystemClock;
use klaxon_store::Store;
use klaxon_store::tokens::NewApiKey;

/// mimalloc instead of glibc's allocator: the events write path allocates on the HTTP threads and frees on
/// the database thread, which glibc's per-thread arenas handle poorly (a sixth of the CPU under load went
/// to malloc, free and arena locks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use klaxon_store::users::NewUser;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("klaxon: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("klaxon: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let config = settings::load(&cli)?;
    match cli.command {
        Command::Serve(_) => serve(config).await,
        Command::Config { command: ConfigCommand::Default } => {
            print!("{}", settings::default_toml()?);
            Ok(())
        }
        Command::Openapi => {
            println!("{}", serde_json::to_string_pretty(&klaxon_server::openapi_document())?);
            Ok(())
        }
        Command::User { command } => {
            settings::init_logging(&config, true)?;
            let store = open_store(&config).await?;
            let result = user_command(&store, command).await;
            store.close().await;
            result
        }
        Command::Token { command } => {
            settings::init_logging(&config, true)?;
            let store = open_store(&config).await?;
            let result = token_command(&store, command).await;
            store.close().await;
            result
        }
    }
}

async fn open_store(config: &klaxon_server::ServerConfig) -> Result<Store> {
    let location = match &config.database_url {
        Some(url) => klaxon_store::Location::Postgres(url),
        None => klaxon_store::Location::SqliteDir(&config.data_dir),
    };
    Store::open(location).await.context("cannot open the database")
}

async fn serve(config: klaxon_server::ServerConfig) -> Result<()> {
    settings::init_logging(&config, false)?;
    tracing::info!(?config, "starting klaxon");
    let store = open_store(&config).await?;
    bootstrap(&store).await?;
    let app = klaxon_server::App::builder(store, config.public_base())
        .events_rate_limit_per_minute(config.events_rate_limit_per_minute)
        .build();
    // The port opens only now, after migrations: a 200 from /healthz means ready for traffic.
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %listener.local_addr()?, public_url = %app.public_url, "listening");
    klaxon_server::serve(app, listener, shutdown_signal()).await.context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// With `KLAXON_BOOTSTRAP_TOKEN` set, ensures an owner exists and that the token is a full-access
/// account key. Idempotent; the secret is never logged.
async fn bootstrap(store: &Store) -> Result<()> {
    let Ok(secret) = std::env::var("KLAXON_BOOTSTRAP_TOKEN") else { return Ok(()) };
    if secret.trim().is_empty() {
        bail!("KLAXON_BOOTSTRAP_TOKEN is set but empty");
    }
    let email = std::env::var("KLAXON_BOOTSTRAP_EMAIL").unwrap_or_else(|_| "admin@klaxon.local".into());
    let now = SystemClock::new().now().as_millisecond();
    if store.user_by_email(&email).await?.is_none() {
        let name = email.split('@').next().unwrap_or("admin").to_string();
        let user = store.create_user(&NewUser::new(name, email.clone(), Role::Owner), now).await?;
        tracing::info!(user_id = %user.id, %email, "bootstrap: created owner");
    }
    let key = store.ensure_account_key(secret.trim(), "bootstrap key (KLAXON_BOOTSTRAP_TOKEN)", now).await?;
    tracing::info!(key_id = %key.id, "bootstrap: account key ready");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}

async fn user_command(store: &Store, command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add { email, name, role } => {
            let role: Role = role.parse().map_err(|e| anyhow::anyhow!("--role: {e}"))?;
            if !klaxon_core::validate::is_email(&email) {
                bail!("--email: '{email}' is not an email address");
            }
            let now = SystemClock::new().now().as_millisecond();
            let user = store.create_user(&NewUser::new(name, email, role), now).await?;
            println!("{}", user.id);
            Ok(())
        }
    }
}

async fn token_command(store: &Store, command: TokenCommand) -> Result<()> {
    let now = SystemClock::new().now().as_millisecond();
    match command {
        TokenCommand::Create { account, read_only, user, description } => {
            let kind = match (account, user) {
                (true, None) => NewApiKey::Account { read_only },
                (false, Some(email)) => {
                    if read_only {
                        bail!("--read-only applies to account keys; a user token has its user's role");
                    }
                    let user = store
                        .user_by_email(&email)
                        .await?
                        .with_context(|| format!("--user: no user has the email {email}"))?;
                    NewApiKey::User { user_id: user.id }
                }
                _ => bail!("say either --account or --user EMAIL"),
            };
            let (row, secret) = store.create_api_key(&kind, description.as_deref().unwrap_or(""), now).await?;
            eprintln!("created key {} (this is the only time its secret is shown)", row.id);
            println!("{secret}");
            Ok(())
        }
        TokenCommand::List => {
            println!(
                "{:<9} {:<8} {:<10} {:<9} {:<6} {:<21} DESCRIPTION",
                "ID", "KIND", "ACCESS", "USER", "LAST4", "STATUS"
            );
            for key in store.list_api_keys().await? {
                let access = if key.kind == "user" {
                    "as user"
                } else if key.read_only {
                    "read-only"
                } else {
                    "full"
                };
                let status = match key.revoked_at {
                    Some(ms) => format!("revoked {}", klaxon_core::time::render_millis(ms)),
                    None => "active".to_string(),
                };
                println!(
                    "{:<9} {:<8} {:<10} {:<9} {:<6} {:<21} {}",
                    key.id,
                    key.kind,
                    access,
                    key.user_id.as_deref().unwrap_or("-"),
                    key.token_last4,
                    status,
                    key.description
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            store.revoke_api_key(&id, now).await.with_context(|| format!("cannot revoke {id}"))?;
            println!("revoked {id}");
            Ok(())
        }
    }
}
