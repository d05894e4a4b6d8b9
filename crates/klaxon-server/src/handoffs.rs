//! The on-call handoff scan as a job kind: [`HandoffScan`] (`oncall.handoff_scan`, queue
//! `oncall_handoffs`, one live job under the unique key `oncall.handoff_scan`).
//!
//! The server makes sure the job exists when it starts ([`ensure_scan`], due at once, so a scan runs on
//! start); each run records the handoff notification intents due within one period of now and schedules
//! the next run a period ([`SCAN_PERIOD_MS`], a minute) later, in the transaction that records them and
//! finishes the job (`Store::record_handoff_intents`). The facts are read in a fixed number of queries
//! whatever the number of users and policies: the rules of live users, every policy's handoff setting,
//! then the on-call facts of the policies that notify, the same reading `GET /oncalls` makes
//! (`Store::oncall_facts`, `render::schedules::oncall_policies`); `klaxon_core::handoff::due_intents`
//! decides. A failed scan retries every minute for about a day (its unique key keeps it the one scan);
//! a restart schedules it at once again.

use crate::jobs::{BoxError, Job, JobKind, JobRunner, NewJob};
use crate::render::schedules::{models, oncall_policies, override_window};
use crate::state::App;
use klaxon_core::handoff::{self, HandoffPolicy};
use klaxon_core::jobs::{JobOutcome, RetryPolicy};
use klaxon_core::schedule::Window;
use klaxon_store::handoffs::HandoffPolicyRow;
use klaxon_store::jobs::kinds;
use klaxon_store::oncalls::OncallFacts;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How often the scan runs, and how far on either side of now it records intents.
pub const SCAN_PERIOD_MS: i64 = 60_000;

/// The scan's payload: nothing (the scan reads everything it needs when it runs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffScanPayload {}

/// Records the handoff notification intents due soon, then schedules itself a period later.
pub struct HandoffScan;

impl JobKind for HandoffScan {
    const NAME: &'static str = kinds::HANDOFF_SCAN;
    const QUEUE: &'static str = kinds::HANDOFF_QUEUE;
    type Payload = HandoffScanPayload;

    /// After 10 s and 30 s, then every minute (the scan's own cadence) for about a day.
    fn retry_policy() -> RetryPolicy {
        let mut delays_ms = vec![10_000, 30_000];
        delays_ms.resize(24 * 60, SCAN_PERIOD_MS);
        RetryPolicy { delays_ms, jitter: 0.0, max_age_ms: None, honour_retry_after: false, ..RetryPolicy::default() }
    }
}

/// Registers the scan's kind.
pub(crate) fn register_kinds(runner: &JobRunner) {
    runner.register_kind::<HandoffScan, _, _>(scan);
}

fn next_scan(due_at: i64) -> NewJob<HandoffScan> {
    NewJob::<HandoffScan>::new(HandoffScanPayload {}).due_at(due_at).unique_key(kinds::HANDOFF_SCAN_KEY)
}

/// Schedules the scan due now (moving the live one, if any): the server calls it at start.
pub async fn ensure_scan(app: &App) -> Result<(), BoxError> {
    let now = app.now_ms();
    app.store.schedule(&next_scan(now).spec(now)?, now).await?;
    Ok(())
}

async fn scan(app: App, job: Job<HandoffScanPayload>) -> Result<JobOutcome, BoxError> {
    let now = app.now_ms();
    let next = next_scan(now.saturating_add(SCAN_PERIOD_MS)).spec(now)?;
    let rules = app.store.handoff_scan_rules().await?;
    let settings = if rules.is_empty() { Vec::new() } else { app.store.handoff_policies().await? };
    let settings: HashMap<&str, &HandoffPolicyRow> =
        settings.iter().filter(|p| p.notifications.notifies(p.has_services)).map(|p| (p.id.as_str(), p)).collect();
    let facts = if settings.is_empty() {
        OncallFacts::default()
    } else {
        let window = handoff::scan_window(&rules, now, SCAN_PERIOD_MS);
        // Whole shifts reach beyond the window, and the rule looks one millisecond before it.
        let reach = override_window(Window { since: window.since.saturating_sub(1), until: window.until }, true);
        let ids: Vec<String> = settings.keys().map(|id| id.to_string()).collect();
        app.store.oncall_facts(&ids, reach.since, reach.until).await?
    };
    let models = models(&facts.schedules, &facts.overrides)
        .map_err(|e| -> BoxError { format!("reading the schedules failed: {}", e.message).into() })?;
    let policies: Vec<HandoffPolicy<'_>> = oncall_policies(&facts, &models)
        .into_iter()
        .filter_map(|policy| {
            let row = settings.get(policy.id)?;
            Some(HandoffPolicy { policy, notifications: row.notifications, has_services: row.has_services })
        })
        .collect();
    let intents = handoff::due_intents(&policies, &rules, now, SCAN_PERIOD_MS);
    match app.store.record_handoff_intents(&job.id, &job.owner, &intents, &next, now).await? {
        Some(recorded) => tracing::debug!(job = %job.id, found = intents.len(), recorded, "handoff scan done"),
        None => tracing::info!(job = %job.id, "handoff scan lost its lease; another run records the intents"),
    }
    Ok(JobOutcome::Done)
}
