//! Loading settings: built-in defaults, then `klaxon.toml`, then `KLAXON_*` variables and flags (clap
//! reads both, flags first). Also sets up logging.

use crate::cli::{Cli, Command};
use anyhow::{Context, Result};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use klaxon_server::ServerConfig;
use std::path::Path;

pub fn load(cli: &Cli) -> Result<ServerConfig> {
    let mut figment = Figment::from(Serialized::defaults(ServerConfig::default()));
    match &cli.storage.config {
        Some(path) => {
            if !path.exists() {
                anyhow::bail!("--config: {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file(path));
        }
        None if Path::new("klaxon.toml").exists() => figment = figment.merge(Toml::file("klaxon.toml")),
        None => {}
    }
    let s = &cli.storage;
    if let Some(v) = &s.data_dir {
        figment = figment.merge(Serialized::default("data_dir", v));
    }
    if let Some(v) = &s.database_url {
        figment = figment.merge(Serialized::default("database_url", v));
    }
    if let Some(v) = &s.log_format {
        figment = figment.merge(Serialized::default("log_format", v));
    }
    if let Some(v) = &s.log_level {
        figment = figment.merge(Serialized::default("log_level", v));
    }
    if let Command::Serve(serve) = &cli.command {
        if let Some(v) = &serve.listen {
            figment = figment.merge(Serialized::default("listen", v.to_string()));
        }
        if let Some(v) = &serve.public_url {
            figment = figment.merge(Serialized::default("public_url", v));
        }
        if let Some(v) = serve.events_rate_limit_per_minute {
            figment = figment.merge(Serialized::default("events_rate_limit_per_minute", v));
        }
    }
    let config: ServerConfig = figment.extract().context("invalid settings")?;
    if let Some(url) = &config.database_url
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        anyhow::bail!("database_url must start with postgres:// (SQLite needs no URL: use --data-dir)");
    }
    if !matches!(config.log_format.as_str(), "pretty" | "json") {
        anyhow::bail!("log_format must be pretty or json, not '{}'", config.log_format);
    }
    Ok(config)
}

pub fn default_toml() -> Result<String> {
    let body = toml::to_string(&ServerConfig::default())?;
    Ok(format!(
        "# klaxon.toml: every key can also be set as KLAXON_<KEY> (e.g. KLAXON_LISTEN) or as a flag.\n\
         # database_url = \"postgres://klaxon:secret@localhost/klaxon\"  # use PostgreSQL instead of SQLite\n\
         # public_url = \"https://pager.example.com\"                  # base of every self/html_url\n{body}"
    ))
}

/// Logs go to stderr. Admin commands log only warnings unless asked for more.
pub fn init_logging(config: &ServerConfig, quiet: bool) -> Result<()> {
    use tracing_subscriber::EnvFilter;
    let level = if quiet && config.log_level == "info" { "warn" } else { config.log_level.as_str() };
    let filter = EnvFilter::try_new(level).with_context(|| format!("log_level '{level}' is not a valid filter"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let result = if config.log_format == "json" { builder.json().try_init() } else { builder.try_init() };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
