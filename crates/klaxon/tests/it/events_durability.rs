//! "202 means durable": the real binary takes events from many connections, is killed with SIGKILL
//! mid-load, restarts on the same data, and every event it answered 202 is reflected as an alert.

use crate::common::{backend_is_postgres, v2_trigger};
use klaxon_store::testing::SeedOptions;
use klaxon_store::{Location, Store};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Kills the server process when dropped, so a failing test leaves nothing running.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(dir: &std::path::Path, database_url: Option<&str>) -> Server {
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_klaxon"));
    command
        .current_dir(dir)
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("KLAXON_LOG_LEVEL", "warn")
        .env_remove("KLAXON_DATABASE_URL")
        .env_remove("KLAXON_CONFIG")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = database_url {
        command.env("KLAXON_DATABASE_URL", url);
    }
    let server = Server { child: command.spawn().expect("start klaxon"), url: format!("http://127.0.0.1:{port}") };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client.get(format!("{}/healthz", server.url)).send().await
            && r.status().is_success()
        {
            return server;
        }
        assert!(Instant::now() < deadline, "klaxon did not become healthy in 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn open(dir: &std::path::Path, database_url: Option<&str>) -> Store {
    match database_url {
        Some(url) => Store::open(Location::Postgres(url)).await.unwrap(),
        None => Store::open(Location::SqliteDir(&dir.join("data"))).await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_event_answered_202_survives_a_sigkill_mid_load() {
    tokio::time::timeout(Duration::from_secs(120), scenario()).await.expect("the durability test took over 120 s");
}

async fn scenario() {
    let dir = tempfile::tempdir().unwrap();
    let database = if backend_is_postgres() {
        let base = std::env::var("KLAXON_TEST_POSTGRES_URL").expect("KLAXON_TEST_POSTGRES_URL");
        Some(klaxon_store::testing::TestDatabase::create(&base).await.unwrap())
    } else {
        None
    };
    let database_url = database.as_ref().map(|d| d.url.clone());
    let url = database_url.as_deref();
    let seeded = {
        let store = open(dir.path(), url).await;
        let now = jiff::Timestamp::now().as_millisecond();
        let seeded = klaxon_store::testing::seed_service(&store, &SeedOptions::default(), now).await.unwrap();
        store.close().await;
        seeded
    };

    let server = start(dir.path(), url).await;
    let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for connection in 0..32 {
        let (accepted, stop, key, base) =
            (accepted.clone(), stop.clone(), seeded.integration_key.clone(), server.url.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let dedup = format!("c{connection}-{i}");
                i += 1;
                match client.post(format!("{base}/v2/enqueue")).json(&v2_trigger(&key, &dedup)).send().await {
                    Ok(r) if r.status().as_u16() == 202 => accepted.lock().unwrap().push(dedup),
                    Ok(_) => {}
                    Err(_) => break, // the server is gone
                }
            }
        }));
    }
    // Let load build up, then kill the server without warning.
    let deadline = Instant::now() + Duration::from_secs(20);
    while accepted.lock().unwrap().len() < 500 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(server); // SIGKILL
    stop.store(true, Ordering::Relaxed);
    for s in senders {
        let _ = s.await;
    }
    let accepted = accepted.lock().unwrap().clone();
    assert!(accepted.len() >= 100, "too few events accepted before the kill: {}", accepted.len());

    // Restart on the same data: the processor resumes the backlog.
    let store = open(dir.path(), url).await;
    let backlog = store.unprocessed_event_count().await.unwrap();
    eprintln!("accepted {} events before SIGKILL; {backlog} were still unprocessed", accepted.len());
    store.close().await;
    let _server = start(dir.path(), url).await;
    let store = open(dir.path(), url).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.unprocessed_event_count().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "backlog not processed within 60 s of the restart");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let alerts = store.events_alerts_of_integration(&seeded.integration_id).await.unwrap();
    let keys: std::collections::HashSet<&str> = alerts.iter().map(|a| a.alert_key.as_str()).collect();
    let missing: Vec<&String> = accepted.iter().filter(|k| !keys.contains(k.as_str())).collect();
    assert!(
        missing.is_empty(),
        "{} of {} accepted events lost, e.g. {:?}",
        missing.len(),
        accepted.len(),
        &missing[..missing.len().min(5)]
    );
    let incidents = store.events_incidents_of_service(&seeded.service_id).await.unwrap();
    assert_eq!(incidents.len(), alerts.len(), "one incident per alert");
    store.close().await;
}
