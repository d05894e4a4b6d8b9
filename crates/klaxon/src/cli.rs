//! Command-line interface. Every setting is also a `KLAXON_*` environment variable and a `klaxon.toml`
//! key; flags win over variables, variables over the file, the file over the defaults.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "klaxon",
    version,
    about = "Self-hosted incident response and on-call, wire-compatible with PagerDuty"
)]
pub struct Cli {
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the data lives. Shared by every command.
#[derive(Args, Debug, Clone)]
pub struct StorageArgs {
    /// Settings file (TOML). Default: ./klaxon.toml when it exists.
    #[arg(long, global = true, env = "KLAXON_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for the embedded SQLite database, created if missing [default: ./klaxon-data].
    #[arg(long, global = true, env = "KLAXON_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user:pass@host/db); when set, used instead of SQLite.
    #[arg(long, global = true, env = "KLAXON_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log format: pretty or json [default: pretty].
    #[arg(long, global = true, env = "KLAXON_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log filter, e.g. info or klaxon=debug,info [default: info].
    #[arg(long, global = true, env = "KLAXON_LOG_LEVEL")]
    pub log_level: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server. Environment: KLAXON_BOOTSTRAP_TOKEN=SECRET ensures an owner user
    /// (KLAXON_BOOTSTRAP_EMAIL, default admin@klaxon.local) and makes SECRET a full-access account key.
    Serve(ServeArgs),
    /// Show settings.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage REST API keys.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "KLAXON_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Base URL of every `self` and `html_url` [default: http://<listen address>].
    #[arg(long, env = "KLAXON_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Events API: default events per minute per routing key; 0 = unlimited [default: 0].
    #[arg(long, env = "KLAXON_EVENTS_RATE_LIMIT_PER_MINUTE")]
    pub events_rate_limit_per_minute: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print the default settings as klaxon.toml.
    Default,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user and print their id.
    Add {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// owner, admin, user, limited_user, observer or read_only_user.
        #[arg(long, default_value = "user")]
        role: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API key and print its secret (shown only once).
    Create {
        /// An account-level key.
        #[arg(long, conflicts_with = "user")]
        account: bool,
        /// With --account: a read-only key.
        #[arg(long)]
        read_only: bool,
        /// A user token acting as the user with this email.
        #[arg(long, value_name = "EMAIL")]
        user: Option<String>,
        /// A note to recognise the key by.
        #[arg(long)]
        description: Option<String>,
    },
    /// List API keys (never their secrets).
    List,
    /// Revoke an API key by id.
    Revoke { id: String },
}
