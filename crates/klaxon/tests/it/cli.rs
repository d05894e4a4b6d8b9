//! The `klaxon` binary as users drive it: settings, bootstrap, API keys from the CLI while a server runs,
//! graceful shutdown, and refusing a database from a newer Klaxon.

use crate::binary::*;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn config_default_prints_every_setting_as_toml() {
    let output = klaxon().args(["config", "default"]).output().unwrap();
    assert!(output.status.success());
    let text = stdout(&output);
    for key in
        ["listen = \"127.0.0.1:8080\"", "data_dir = \"./klaxon-data\"", "log_format", "log_level", "database_url"]
    {
        assert!(text.contains(key), "missing {key} in:\n{text}");
    }
}

#[test]
fn serve_help_documents_every_flag_and_its_environment_variable() {
    let output = klaxon().args(["serve", "--help"]).output().unwrap();
    let text = stdout(&output);
    for flag in ["--listen", "--data-dir", "--public-url", "--database-url", "--log-format", "--log-level", "--config"]
    {
        assert!(text.contains(flag), "missing {flag}");
    }
    for var in
        ["KLAXON_LISTEN", "KLAXON_DATA_DIR", "KLAXON_PUBLIC_URL", "KLAXON_DATABASE_URL", "KLAXON_BOOTSTRAP_TOKEN"]
    {
        assert!(text.contains(var), "missing {var}");
    }
}

#[tokio::test]
async fn bootstrap_makes_an_owner_and_a_full_key_idempotently_without_logging_the_secret() {
    let storage = Storage::new().await;
    let secret = "bootstrapSecret123";
    let env = [("KLAXON_BOOTSTRAP_TOKEN", secret), ("KLAXON_BOOTSTRAP_EMAIL", "root@example.com")];
    let served = Served::start(&storage, &env, &[]).await;
    assert_eq!(get_status(&format!("{}/abilities", served.url), secret).await, 200);
    let (status, log) = served.terminate();
    assert!(status.success(), "exit status {status:?}; log:\n{log}");
    assert!(!log.contains(secret), "the secret leaked into the log:\n{log}");

    let served = Served::start(&storage, &env, &[]).await;
    assert_eq!(get_status(&format!("{}/abilities", served.url), secret).await, 200);
    let (status, _) = served.terminate();
    assert!(status.success());

    let keys = stdout(&storage.run(&["token", "list"]));
    assert_eq!(keys.lines().filter(|l| l.contains("bootstrap")).count(), 1, "{keys}");
    // The owner exists exactly once: adding them again is refused as a duplicate email.
    let again = storage.run(&["user", "add", "--email", "ROOT@example.com", "--name", "Root", "--role", "owner"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("email has already been taken"), "{}", stderr(&again));
}

#[tokio::test]
async fn keys_created_and_revoked_by_the_cli_take_effect_at_once_on_a_running_server() {
    let storage = Storage::new().await;
    let served = Served::start(&storage, &[], &[]).await;
    let url = format!("{}/abilities", served.url);

    let created = storage.run(&["token", "create", "--account", "--description", "ci"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let secret = stdout(&created).trim().to_string();
    assert_eq!(secret.len(), 32);
    assert_eq!(get_status(&url, &secret).await, 200);

    let list = stdout(&storage.run(&["token", "list"]));
    assert!(!list.contains(&secret), "token list must never print secrets");
    let line = list.lines().find(|l| l.contains(" ci")).expect("key listed");
    let id = line.split_whitespace().next().unwrap().to_string();

    let revoked = storage.run(&["token", "revoke", &id]);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert_eq!(get_status(&url, &secret).await, 401);
    let (status, _) = served.terminate();
    assert!(status.success());
}

#[tokio::test]
async fn read_only_keys_cannot_write() {
    let storage = Storage::new().await;
    let created = storage.run(&["token", "create", "--account", "--read-only"]);
    let secret = stdout(&created).trim().to_string();
    assert!(
        storage
            .run(&["user", "add", "--email", "boss@example.com", "--name", "Boss", "--role", "owner"])
            .status
            .success()
    );
    let served = Served::start(&storage, &[], &[]).await;
    assert_eq!(get_status(&format!("{}/priorities", served.url), &secret).await, 200);
    let response = reqwest::Client::new()
        .post(format!("{}/users", served.url))
        .header("Authorization", format!("Token token={secret}"))
        .header("From", "boss@example.com")
        .json(&serde_json::json!({"user": {"name": "X", "email": "x@example.com"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn user_tokens_are_created_for_existing_users_only() {
    let storage = Storage::new().await;
    let added = storage.run(&["user", "add", "--email", "ada@example.com", "--name", "Ada", "--role", "admin"]);
    assert!(added.status.success(), "{}", stderr(&added));
    assert!(stdout(&added).trim().starts_with('P'));
    let token = storage.run(&["token", "create", "--user", "ada@example.com"]);
    assert!(token.status.success(), "{}", stderr(&token));
    let missing = storage.run(&["token", "create", "--user", "nobody@example.com"]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("no user has the email"), "{}", stderr(&missing));
}

#[test]
fn bad_cli_input_is_refused_with_a_message_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| klaxon().arg("--data-dir").arg(dir.path()).args(args).output().unwrap();
    let out = run(&["user", "add", "--email", "x@example.com", "--name", "X", "--role", "emperor"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--role"), "{}", stderr(&out));
    let out = run(&["user", "add", "--email", "not-an-email", "--name", "X"]);
    assert!(stderr(&out).contains("--email"), "{}", stderr(&out));
    let out = run(&["token", "create"]);
    assert!(!out.status.success());
    let out = run(&["token", "revoke", "PNOSUCH"]);
    assert!(!out.status.success());
    let out = klaxon().args(["--database-url", "mysql://x", "token", "list"]).output().unwrap();
    assert!(stderr(&out).contains("database_url"), "{}", stderr(&out));
}

#[tokio::test]
async fn settings_come_from_klaxon_toml_then_environment_then_flags() {
    let storage = Storage::new().await;
    let port = free_port();
    let toml_path = storage.dir.path().join("klaxon.toml");
    std::fs::write(&toml_path, format!("listen = \"127.0.0.1:{port}\"\npublic_url = \"https://from-file.example\"\n"))
        .unwrap();
    let created = storage.run(&["token", "create", "--account"]);
    let secret = stdout(&created).trim().to_string();

    let mut cmd = storage.command(&["serve", "--config", toml_path.to_str().unwrap()]);
    cmd.env("KLAXON_PUBLIC_URL", "https://from-env.example")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = cmd.spawn().unwrap();
    let served = Served { child, url: format!("http://127.0.0.1:{port}"), log: storage.dir.path().join("none.log") };
    served.wait_healthy().await;
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/priorities", served.url))
        .header("Authorization", format!("Token token={secret}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let self_url = body["priorities"][0]["self"].as_str().unwrap();
    assert!(self_url.starts_with("https://from-env.example/priorities/"), "{self_url}");
    let (status, _) = served.terminate();
    assert!(status.success());
}

#[tokio::test]
async fn serve_refuses_a_database_migrated_by_a_newer_klaxon() {
    if crate::common::backend_is_postgres() {
        return; // The store's own test covers the check; faking a future migration is simplest on SQLite.
    }
    let storage = Storage::new().await;
    assert!(storage.run(&["token", "list"]).status.success());
    let db = storage.dir.path().join("data").join("klaxon.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'future', TRUE, x'00', 0)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
    let out = storage.command(&["serve", "--listen", &format!("127.0.0.1:{}", free_port())]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("newer Klaxon"), "{}", stderr(&out));
}

#[tokio::test]
async fn json_logs_are_one_json_object_per_line() {
    let storage = Storage::new().await;
    let served = Served::start(&storage, &[], &["--log-format", "json"]).await;
    let (status, log) = served.terminate();
    assert!(status.success());
    let lines: Vec<_> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{log}");
    for line in lines {
        let parsed: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(parsed["level"].is_string() && parsed["fields"].is_object(), "{line}");
    }
}
