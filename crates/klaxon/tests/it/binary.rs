//! Helpers to run the real `klaxon` binary as a user would: a child process on a free port, with its own
//! data directory (or a fresh PostgreSQL database when the suite runs on PostgreSQL).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn klaxon() -> Command {
    Command::new(env!("CARGO_BIN_EXE_klaxon"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Where a binary-level test keeps its data: `--data-dir` always, plus `--database-url` on PostgreSQL.
pub struct Storage {
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
    _database: Option<klaxon_store::testing::TestDatabase>,
}

impl Storage {
    pub async fn new() -> Storage {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = if crate::common::backend_is_postgres() {
            let base = std::env::var("KLAXON_TEST_POSTGRES_URL").expect("KLAXON_TEST_POSTGRES_URL");
            Some(klaxon_store::testing::TestDatabase::create(&base).await.expect("fresh database"))
        } else {
            None
        };
        Storage { dir, database_url: database.as_ref().map(|d| d.url.clone()), _database: database }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `klaxon <args…>` against this storage.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = klaxon();
        cmd.arg("--data-dir").arg(self.dir.path().join("data"));
        if let Some(url) = &self.database_url {
            cmd.arg("--database-url").arg(url);
        }
        cmd.args(args).env_remove("KLAXON_BOOTSTRAP_TOKEN").env_remove("KLAXON_DATABASE_URL");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("klaxon runs")
    }
}

/// A running `klaxon serve`.
pub struct Served {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Served {
    /// Starts `klaxon serve` with extra environment and waits (bounded) for `/healthz`.
    pub async fn start(storage: &Storage, env: &[(&str, &str)], extra_args: &[&str]) -> Served {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = storage.dir.path().join(format!("serve-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = storage.command(&["serve", "--listen", &listen]);
        cmd.args(extra_args).stdout(Stdio::null()).stderr(log_file);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn klaxon serve");
        let served = Served { child, url: format!("http://{listen}"), log };
        served.wait_healthy().await;
        served
    }

    pub async fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/healthz", self.url)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("klaxon serve did not become healthy; log:\n{}", self.log_text());
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status();
        assert!(status.map(|s| s.success()).unwrap_or(false), "kill -{signal} failed");
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub fn terminate(mut self) -> (std::process::ExitStatus, String) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, self.log_text());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("klaxon serve did not stop after SIGTERM; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn get_status(url: &str, key: &str) -> u16 {
    reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("Token token={key}"))
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}
