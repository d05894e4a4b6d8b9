//! Running the server: the background workers and the serve loop with graceful shutdown.

use crate::state::App;
use std::future::Future;
use tokio::net::TcpListener;

/// Serves until `shutdown` resolves: stops accepting, finishes in-flight requests, stops background
/// workers, then closes the database. First schedules the on-call handoff scan to run at once.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The handoff scan exists (and runs now) on every start: a fresh database, or one whose scan failed for good.
    if let Err(error) = crate::handoffs::ensure_scan(&app).await {
        tracing::warn!(%error, "scheduling the on-call handoff scan failed; handoff notifications wait for a restart");
    }
    let workers = spawn_workers(&app);
    let token = app.shutdown.clone();
    let router = crate::router::router(app.clone());
    let served = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(async move {
            tokio::select! {
                () = shutdown => {}
                () = token.cancelled() => {}
            }
        })
        .await;
    app.shutdown.cancel();
    for worker in workers {
        let _ = worker.await;
    }
    app.store.close().await;
    served
}

/// Starts the background workers (event processing, timers) that live as long as the server.
pub fn spawn_workers(app: &App) -> Vec<tokio::task::JoinHandle<()>> {
    let mut workers = Vec::new();
    workers.extend(crate::events::ingest::spawn_writer(app));
    workers.push(crate::events::processor::spawn(app));
    workers.push(crate::jobs::spawn_worker(app));
    workers
}
