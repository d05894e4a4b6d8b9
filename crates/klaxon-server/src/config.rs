//! Server settings. The binary fills this from defaults, `klaxon.toml`, `KLAXON_*` variables and flags,
//! in that order; the server only ever sees the finished value.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Directory for the embedded SQLite database (created if missing).
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Base of every `self` and `html_url` (default: `http://<listen>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// `pretty` or `json`.
    pub log_format: String,
    /// A tracing filter, e.g. `info` or `klaxon=debug,info`.
    pub log_level: String,
    /// Events API: default limit of events per minute per routing key (0 = unlimited, the default);
    /// an integration's own `rate_limit_per_minute` overrides it.
    #[serde(default)]
    pub events_rate_limit_per_minute: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./klaxon-data"),
            database_url: None,
            public_url: None,
            log_format: "pretty".into(),
            log_level: "info".into(),
            events_rate_limit_per_minute: 0,
        }
    }
}

impl ServerConfig {
    /// The public base URL without a trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let host = match self.listen.ip() {
                    ip if ip.is_unspecified() => "127.0.0.1".to_string(),
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                    ip => ip.to_string(),
                };
                format!("http://{host}:{}", self.listen.port())
            }
        }
    }
}

/// Never prints a database password.
impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let database = self.database_url.as_deref().map(redact_password);
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &database)
            .field("public_url", &self.public_url)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("events_rate_limit_per_minute", &self.events_rate_limit_per_minute)
            .finish()
    }
}

pub fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("REDACTED"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_base_defaults_to_the_listen_address() {
        let mut config = ServerConfig::default();
        assert_eq!(config.public_base(), "http://127.0.0.1:8080");
        config.listen = "0.0.0.0:9000".parse().unwrap();
        assert_eq!(config.public_base(), "http://127.0.0.1:9000");
        config.public_url = Some("https://pager.example.com/".into());
        assert_eq!(config.public_base(), "https://pager.example.com");
    }

    #[test]
    fn debug_redacts_the_database_password() {
        let config =
            ServerConfig { database_url: Some("postgres://klaxon:hunter2@db/klaxon".into()), ..Default::default() };
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("REDACTED"));
    }
}
