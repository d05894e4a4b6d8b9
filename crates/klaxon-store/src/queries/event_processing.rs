//! Set-based event processing: reads the [`Facts`] a batch of alert events needs, lets the pure planner
//! (`klaxon_core::alert_batch`) decide, and writes the [`Plan`] with a fixed number of statements per batch,
//! whatever the batch size: PostgreSQL runs each as one multi-row statement (one round trip), SQLite
//! prepares each once and steps it per row on its own handle (no hop per row). Per-event round trips were
//! the bottleneck of the write path.
//!
//! Execution: a batch reads its facts in three queries ([`fact_queries`]), and its writes are one [`Script`]
//! (see `script.rs`), after one more query when the batch pages someone (their notification rules,
//! `notifications::rules_query`). The steps in between are plain functions ([`parse`], [`facts_from`],
//! [`plan_batch`], [`plan_writes`]),
//! so that both executions share them: [`apply`] runs the batch through sqlx (PostgreSQL; SQLite's rare
//! backlog path), and on SQLite the accept path runs the same steps on the write connection's own handle
//! (`crate::sqlite_handle`), without a hop to sqlx's connection thread per query.
//!
//! Row locks: on PostgreSQL the open alerts and their incidents are read `FOR UPDATE`, so a REST change
//! to the same incident waits for the batch instead of being overwritten by it. SQLite's one writer
//! already excludes that.

use super::commands::{timer_job_kind, timer_key};
use super::log_entries::NewLogEntry;
use super::script::{RowBuilder, Script, Statement};
use super::{Db, FOR_UPDATE_OF_A, ROW_LOCKS};
use crate::Result;
use crate::jobs::kinds;
use jiff::tz::TimeZone;
use klaxon_core::actor::Agent;
use klaxon_core::alert_batch::{
    BatchEvent, Facts, IdSource, IncidentFacts, LogKind, OpenAlert, Plan, ServiceFacts, Timeouts, TimerChange,
};
use klaxon_core::events::AlertEvent;
use klaxon_core::incident::Status;
use klaxon_core::notification::AssignmentRule;
use klaxon_core::service_rules::{SupportHours, UrgencyRule};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

pub type Tx<'a> = sqlx::Transaction<'a, Db>;

/// One event to process: an inbox row, or an event being accepted in this transaction.
pub struct Pending<'a> {
    /// The inbox row's `seq` when it is stored already (it is then stamped); `None` for an event being
    /// accepted (its row is inserted, stamped).
    pub seq: Option<i64>,
    pub id: &'a str,
    pub dedup_key: &'a str,
    pub integration_id: &'a str,
    pub service_id: &'a str,
    pub received_at: i64,
    pub kind: &'a str,
    pub body: &'a str,
    /// `body` already parsed, when the caller has it.
    pub event: Option<&'a AlertEvent>,
}

struct RandomIds;

impl IdSource for RandomIds {
    /// Incidents, alerts and log entries are all high-volume records: time-ordered ids (see `crate::ids`).
    fn next_id(&mut self) -> String {
        crate::ids::long_id()
    }
}

/// Applies the events inside `tx` and stamps their inbox rows with what it did (inserting the rows of
/// events being accepted). An event whose body cannot be read is stamped `failed: …` without failing the
/// others.
pub async fn apply(tx: &mut Tx<'_>, pending: &[Pending<'_>], now: i64) -> Result<u64> {
    let parsed = parse(pending);
    let events = batch_events(pending, &parsed);
    let facts = load_facts(tx, &events, now).await?;
    let plan = plan_batch(&events, &facts);
    let rules = match &plan {
        Some(plan) => super::notifications::load_rules(tx, &plan.paging).await?,
        None => Vec::new(),
    };
    let (script, unassignable) = plan_writes(pending, &parsed, &events, plan, &rules, now);
    script.run(tx).await?;
    Ok(unassignable)
}

/// The pending events read: what is decided already (dropped, unreadable) and the alert events to plan.
pub struct Parsed<'a> {
    outcomes: Vec<Option<String>>,
    events: Vec<(usize, std::borrow::Cow<'a, AlertEvent>)>,
}

/// Reads the pending events (an event whose body cannot be read gets its `failed: …` outcome here).
pub fn parse<'a>(pending: &[Pending<'a>]) -> Parsed<'a> {
    use klaxon_core::alert_batch::outcomes;
    let mut parsed = Parsed { outcomes: vec![None; pending.len()], events: Vec::with_capacity(pending.len()) };
    for (i, p) in pending.iter().enumerate() {
        if p.kind != "alert" {
            parsed.outcomes[i] = Some(outcomes::DROPPED.into());
            continue;
        }
        if let Some(event) = p.event {
            parsed.events.push((i, std::borrow::Cow::Borrowed(event)));
            continue;
        }
        match serde_json::from_str::<AlertEvent>(p.body) {
            Ok(event) => parsed.events.push((i, std::borrow::Cow::Owned(event))),
            Err(e) => {
                let reason: String = format!("{}: unreadable event: {e}", outcomes::FAILED).chars().take(500).collect();
                parsed.outcomes[i] = Some(reason);
            }
        }
    }
    parsed
}

/// The readable alert events, as the planner takes them.
pub fn batch_events<'a>(pending: &[Pending<'a>], parsed: &'a Parsed<'_>) -> Vec<BatchEvent<'a>> {
    parsed
        .events
        .iter()
        .map(|(i, event)| BatchEvent {
            integration_id: pending[*i].integration_id,
            service_id: pending[*i].service_id,
            received_at: pending[*i].received_at,
            event,
        })
        .collect()
}

/// Plans the batch's alert events against their facts (`None` when it has none).
pub fn plan_batch(events: &[BatchEvent<'_>], facts: &Facts) -> Option<Plan> {
    (!events.is_empty()).then(|| klaxon_core::alert_batch::plan(events, facts, RandomIds))
}

/// Answers every write of a planned batch: the plan's (with the intents of whom it pages, by `rules`, read
/// with `notifications::rules_query` for the plan's paged users), and the inbox rows stamped with each
/// event's outcome.
pub fn plan_writes(
    pending: &[Pending<'_>],
    parsed: &Parsed<'_>,
    events: &[BatchEvent<'_>],
    plan: Option<Plan>,
    rules: &[AssignmentRule],
    now: i64,
) -> (Script, u64) {
    let mut outcomes_by_index = parsed.outcomes.clone();
    let mut script = Script::default();
    let mut unassignable = 0;
    if let Some(mut plan) = plan {
        unassignable = plan.unassignable as u64;
        write_plan(&mut script, events, &mut plan);
        super::notifications::write_paging(&mut script, &plan.paging, rules);
        for ((i, _), outcome) in parsed.events.iter().zip(plan.outcomes) {
            outcomes_by_index[*i] = Some(outcome);
        }
    }
    let outcomes: Vec<String> = outcomes_by_index.into_iter().map(Option::unwrap_or_default).collect();
    stamp_inbox(&mut script, pending, &outcomes, now);
    (script, unassignable)
}

/// Inserts the rows of new events, stamped, and stamps stored rows.
fn stamp_inbox(script: &mut Script, pending: &[Pending<'_>], outcomes: &[String], now: i64) {
    type Stamped<'a, 'b> = Vec<(&'a Pending<'b>, Option<&'a String>)>;
    let (stored, new): (Stamped<'_, '_>, Stamped<'_, '_>) =
        pending.iter().zip(outcomes.iter().map(Some)).partition(|(p, _)| p.seq.is_some());
    insert_inbox(script, &new, now);
    script.update_rows(
        "UPDATE events SET processed_at = v.column2, outcome = v.column3",
        "WHERE events.seq = v.column1",
        &stored,
        |b, (p, outcome)| {
            b.push_bind(p.seq.unwrap_or_default()).push_bind(now).push_bind(outcome.cloned());
        },
    );
}

/// Stores events being accepted as unprocessed inbox rows, for the processor worker.
pub async fn store_unprocessed(tx: &mut Tx<'_>, pending: &[Pending<'_>], now: i64) -> Result<()> {
    unprocessed_script(pending, now).run(tx).await
}

/// The inbox rows of events being accepted, unprocessed.
pub fn unprocessed_script(pending: &[Pending<'_>], now: i64) -> Script {
    let rows: Vec<(&Pending<'_>, Option<&String>)> = pending.iter().map(|p| (p, None)).collect();
    let mut script = Script::default();
    insert_inbox(&mut script, &rows, now);
    script
}

/// Inserts inbox rows for events being accepted; those with an outcome are stamped processed at `now`.
fn insert_inbox(script: &mut Script, rows: &[(&Pending<'_>, Option<&String>)], now: i64) {
    script.insert_rows(
        "INSERT INTO events (id, kind, received_at, integration_id, service_id, dedup_key, body, processed_at, outcome)",
        "",
        rows,
        |b, (p, outcome)| {
            b.push_bind(p.id.to_string())
                .push_bind(p.kind.to_string())
                .push_bind(p.received_at)
                .push_bind(p.integration_id.to_string())
                .push_bind(p.service_id.to_string())
                .push_bind(p.dedup_key.to_string())
                .push_bind(p.body.to_string())
                .push_bind(outcome.map(|_| now))
                .push_bind(outcome.cloned());
        },
    );
}

/// `(… , …)` over `values`, padded to a power of two by repeating the last value, so a query has a handful
/// of shapes however many values a batch brings, and stays prepared. No values give `(NULL)`, which matches
/// nothing.
pub(super) fn push_in_list<'a>(b: &mut RowBuilder<'_>, values: impl IntoIterator<Item = &'a str>) {
    let values: Vec<&str> = values.into_iter().collect();
    if values.is_empty() {
        b.push("(NULL)");
        return;
    }
    b.push("(");
    for i in 0..values.len().next_power_of_two() {
        if i > 0 {
            b.push(", ");
        }
        b.push_bind(values[i.min(values.len() - 1)]);
    }
    b.push(")");
}

/// A live service with one target of one rule of its policy (or a row with no rule or no target): users
/// live or `NULL`, schedules by id (resolved by [`facts_from`] at the processing time).
#[derive(sqlx::FromRow)]
pub struct ServiceRow {
    pub id: String,
    pub status: String,
    pub incident_urgency_rule: String,
    pub escalation_policy_id: String,
    pub acknowledgement_timeout: Option<i64>,
    pub auto_resolve_timeout: Option<i64>,
    pub target_id: Option<String>,
    pub support_hours: Option<String>,
    pub rule_id: Option<String>,
    pub escalation_delay_in_minutes: Option<i64>,
    pub assignment_strategy: Option<String>,
    pub num_loops: Option<i32>,
    pub pointer: Option<i64>,
    pub target_type: Option<String>,
}

/// Schedules by id, in the core's model, with their overrides at the instant they were read for.
pub type Schedules = HashMap<String, (klaxon_core::schedule::Schedule, Vec<klaxon_core::schedule::Override>)>;

/// One user of one layer of a schedule (query 1 of [`schedule_queries`]).
#[derive(sqlx::FromRow)]
pub struct LayerUserRow {
    pub schedule_id: String,
    pub time_zone: String,
    pub layer_id: String,
    pub start_at: i64,
    pub end_at: Option<i64>,
    pub rotation_virtual_start: i64,
    pub rotation_turn_length_seconds: i64,
    pub user_id: String,
}

/// One restriction of a layer (query 2).
#[derive(sqlx::FromRow)]
pub struct RestrictionRow {
    pub layer_id: String,
    pub kind: String,
    pub start_time_of_day: String,
    pub start_day_of_week: Option<i32>,
    pub duration_seconds: i64,
}

/// One override in force at the instant (query 3).
#[derive(sqlx::FromRow)]
pub struct OverrideRow {
    pub schedule_id: String,
    pub id: String,
    pub user_id: String,
    pub start_at: i64,
    pub end_at: i64,
    pub seq: i64,
}

/// The three queries that read the live schedules `ids` and their overrides in force at `now` (a fixed
/// number per batch or request, whatever the number of schedules).
pub fn schedule_queries(ids: &[&str], now: i64) -> [Statement; 3] {
    let ids: BTreeSet<&str> = ids.iter().copied().collect();
    let layers = Script::single(
        "SELECT sc.id AS schedule_id, sc.time_zone, l.id AS layer_id, l.start_at, l.end_at, l.rotation_virtual_start,
                l.rotation_turn_length_seconds, lu.user_id
         FROM schedules sc JOIN schedule_layers l ON l.schedule_id = sc.id
         JOIN schedule_layer_users lu ON lu.layer_id = l.id
         WHERE sc.deleted_at IS NULL AND sc.id IN ",
        |b| {
            push_in_list(b, ids.iter().copied());
            b.push(" ORDER BY sc.id, l.position, lu.position");
        },
    );
    let restrictions = Script::single(
        "SELECT r.layer_id, r.kind, r.start_time_of_day, r.start_day_of_week, r.duration_seconds
         FROM schedule_layer_restrictions r JOIN schedule_layers l ON l.id = r.layer_id WHERE l.schedule_id IN ",
        |b| {
            push_in_list(b, ids.iter().copied());
            b.push(" ORDER BY l.schedule_id, l.position, r.position");
        },
    );
    let overrides = Script::single(
        "SELECT o.schedule_id, o.id, o.user_id, o.start_at, o.end_at, o.seq FROM schedule_overrides o WHERE o.start_at <= ",
        |b| {
            b.push_bind(now).push(" AND o.end_at > ").push_bind(now).push(" AND o.schedule_id IN ");
            push_in_list(b, ids.iter().copied());
        },
    );
    [layers, restrictions, overrides]
}

/// Reads the live schedules `ids` (and their overrides in force at `now`) through sqlx.
pub async fn load_schedules(tx: &mut Tx<'_>, ids: &[&str], now: i64) -> Result<Schedules> {
    if ids.is_empty() {
        return Ok(Schedules::new());
    }
    let [layers, restrictions, overrides] = schedule_queries(ids, now);
    let layers: Vec<LayerUserRow> = fetch_all(tx, &layers).await?;
    let restrictions: Vec<RestrictionRow> = fetch_all(tx, &restrictions).await?;
    let overrides: Vec<OverrideRow> = fetch_all(tx, &overrides).await?;
    Ok(schedules_from(layers, restrictions, overrides))
}

/// Assembles the schedules from what [`schedule_queries`] read. A restriction that does not read is
/// skipped with a warning (the REST API validates every one it stores); an unknown zone is UTC.
pub fn schedules_from(
    layers: Vec<LayerUserRow>,
    restrictions: Vec<RestrictionRow>,
    overrides: Vec<OverrideRow>,
) -> Schedules {
    use klaxon_core::schedule::{Layer, Override, Schedule};
    let mut out = Schedules::new();
    for row in layers {
        let (schedule, _) = out.entry(row.schedule_id.clone()).or_insert_with(|| {
            let time_zone = resolve_zone(&row.schedule_id, &row.time_zone);
            (Schedule { time_zone, layers: Vec::new() }, Vec::new())
        });
        if schedule.layers.last().map(|l| l.id != row.layer_id).unwrap_or(true) {
            schedule.layers.push(Layer {
                id: row.layer_id.clone(),
                name: String::new(),
                start: row.start_at,
                end: row.end_at,
                rotation_virtual_start: row.rotation_virtual_start,
                rotation_turn_length_seconds: row.rotation_turn_length_seconds,
                users: Vec::new(),
                restrictions: Vec::new(),
            });
        }
        if let Some(layer) = schedule.layers.last_mut() {
            layer.users.push(row.user_id);
        }
    }
    for r in restrictions {
        let rule =
            crate::schedules::restriction_rule(&r.kind, &r.start_time_of_day, r.start_day_of_week, r.duration_seconds);
        let restriction = match rule {
            Ok(restriction) => restriction,
            Err(problem) => {
                tracing::warn!(layer_id = %r.layer_id, problem, "unreadable restriction; skipping it");
                continue;
            }
        };
        for (schedule, _) in out.values_mut() {
            if let Some(layer) = schedule.layers.iter_mut().find(|l| l.id == r.layer_id) {
                layer.restrictions.push(restriction);
            }
        }
    }
    for o in overrides {
        let (_, list) = out
            .entry(o.schedule_id.clone())
            .or_insert_with(|| (Schedule { time_zone: TimeZone::UTC, layers: Vec::new() }, Vec::new()));
        list.push(Override { id: o.id, user_id: o.user_id, start: o.start_at, end: o.end_at, created: o.seq });
    }
    out
}

/// The schedule targets among a batch's service rows.
pub fn schedule_targets(services: &[ServiceRow]) -> Vec<&str> {
    services
        .iter()
        .filter(|r| r.target_type.as_deref() == Some("schedule"))
        .filter_map(|r| r.target_id.as_deref())
        .collect()
}

/// An open alert of one of the batch's keys, with its incident's status and open-alert count.
#[derive(sqlx::FromRow)]
pub struct OpenRow {
    pub id: String,
    pub integration_id: Option<String>,
    pub alert_key: String,
    pub incident_id: Option<String>,
    pub suppressed: bool,
    pub status: Option<String>,
    pub service_id: Option<String>,
    pub acknowledgement_timeout: Option<i64>,
    pub auto_resolve_timeout: Option<i64>,
    pub open_alerts: i64,
}

/// The queries that read a batch's [`Facts`]: its services (with their first responders), their
/// maintenance windows, and the open alerts of its keys. (An empty service list means no facts at all.)
pub struct FactQueries {
    pub services: Statement,
    pub windows: Statement,
    pub open: Statement,
}

pub fn fact_queries(events: &[BatchEvent<'_>]) -> FactQueries {
    let service_ids: BTreeSet<&str> = events.iter().map(|e| e.service_id).collect();
    // Each live service with every target of every rule of its policy, in rule and target order (one row
    // per target, or one row with no rule or no target): users live or NULL, schedules by id.
    let services = Script::single(
        "SELECT s.id, s.status, s.incident_urgency_rule, s.escalation_policy_id, s.acknowledgement_timeout,
                s.auto_resolve_timeout,
                CASE WHEN t.target_type = 'user' THEN u.id ELSE t.target_id END AS target_id, s.support_hours,
                r.id AS rule_id, CAST(r.escalation_delay_in_minutes AS BIGINT) AS escalation_delay_in_minutes,
                r.assignment_strategy, p.num_loops,
                (SELECT x.next_index FROM escalation_rule_pointers x WHERE x.escalation_rule_id = r.id) AS pointer,
                t.target_type
         FROM services s
         LEFT JOIN escalation_policies p ON p.id = s.escalation_policy_id
         LEFT JOIN escalation_rules r ON r.escalation_policy_id = s.escalation_policy_id
         LEFT JOIN escalation_targets t ON t.escalation_rule_id = r.id
         LEFT JOIN users u ON t.target_type = 'user' AND u.id = t.target_id AND u.deleted_at IS NULL
         WHERE s.deleted_at IS NULL AND s.id IN ",
        |b| {
            push_in_list(b, service_ids.iter().copied());
            b.push(" ORDER BY s.id, r.position, t.position");
        },
    );
    let (first, last) =
        events.iter().fold((i64::MAX, i64::MIN), |(a, b), e| (a.min(e.received_at), b.max(e.received_at)));
    let windows = Script::single(
        "SELECT mws.service_id, mw.start_time, mw.end_time FROM maintenance_window_services mws
         JOIN maintenance_windows mw ON mw.id = mws.maintenance_window_id WHERE mw.start_time <= ",
        |b| {
            b.push_bind(last).push(" AND mw.end_time > ").push_bind(first).push(" AND mws.service_id IN ");
            push_in_list(b, service_ids.iter().copied());
        },
    );
    // The count sums over the incident's alerts (index `alerts_incident`) rather than filtering on status,
    // which let PostgreSQL's planner intersect with the whole open-alert index on every row.
    let integrations: BTreeSet<&str> = events.iter().map(|e| e.integration_id).collect();
    let keys: BTreeSet<&str> = events.iter().map(|e| e.event.dedup_key.as_str()).collect();
    let open = Script::single(
        "SELECT a.id, a.integration_id, a.alert_key, a.incident_id, a.suppressed, i.status, i.service_id,
                s.acknowledgement_timeout, s.auto_resolve_timeout,
                (SELECT COALESCE(SUM(CASE WHEN x.status = 'triggered' THEN 1 ELSE 0 END), 0) FROM alerts x
                 WHERE x.incident_id = a.incident_id) AS open_alerts
         FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id LEFT JOIN services s ON s.id = i.service_id
         WHERE a.status = 'triggered' AND a.integration_id IN ",
        |b| {
            push_in_list(b, integrations.iter().copied());
            b.push(" AND a.alert_key IN ");
            push_in_list(b, keys.iter().copied());
            b.push(FOR_UPDATE_OF_A);
        },
    );
    FactQueries { services, windows, open }
}

async fn load_facts(tx: &mut Tx<'_>, events: &[BatchEvent<'_>], now: i64) -> Result<Facts> {
    if events.is_empty() {
        return Ok(Facts::default());
    }
    let queries = fact_queries(events);
    let services: Vec<ServiceRow> = fetch_all(tx, &queries.services).await?;
    if services.is_empty() {
        return Ok(Facts::default());
    }
    let windows: Vec<(String, i64, i64)> = fetch_all(tx, &queries.windows).await?;
    let open: Vec<OpenRow> = fetch_all(tx, &queries.open).await?;
    let schedules = load_schedules(tx, &schedule_targets(&services), now).await?;
    let mut facts = facts_from(services, windows, open, &schedules, now);
    if ROW_LOCKS && !facts.incidents.is_empty() {
        // PostgreSQL: lock the incidents too, then re-read what a concurrent change may have moved.
        let locked = Script::single(
            "SELECT i.id, i.status, (SELECT COALESCE(SUM(CASE WHEN x.status = 'triggered' THEN 1 ELSE 0 END), 0)
                                    FROM alerts x WHERE x.incident_id = i.id) AS open_alerts
             FROM incidents i WHERE i.id IN ",
            |b| {
                push_in_list(b, facts.incidents.keys().map(String::as_str));
                b.push(" FOR UPDATE");
            },
        );
        let fresh: Vec<(String, String, i64)> = fetch_all(tx, &locked).await?;
        for (id, status, open_alerts) in fresh {
            if let (Some(facts_of), Ok(status)) = (facts.incidents.get_mut(&id), status.parse::<Status>()) {
                facts_of.status = status;
                facts_of.open_alerts = open_alerts;
            }
        }
    }
    Ok(facts)
}

/// Runs a one-row [`Statement`] through sqlx, kept prepared (its IN lists are padded to a few shapes).
pub(super) async fn fetch_all<T>(tx: &mut Tx<'_>, statement: &Statement) -> Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
{
    let mut qb = statement.query_builder();
    Ok(qb.build_query_as::<T>().persistent(true).fetch_all(&mut **tx).await?)
}

/// A service's stored urgency rule; one that does not read (the REST API validates every rule it stores)
/// is constant high: a pager errs on the side of waking someone.
fn urgency_rule_of(row: &ServiceRow) -> UrgencyRule {
    serde_json::from_str(&row.incident_urgency_rule).unwrap_or_else(|e| {
        tracing::warn!(service_id = %row.id, error = %e, "unreadable incident_urgency_rule; using constant high");
        UrgencyRule::default()
    })
}

/// A service's stored support hours; ones that do not read count as none (so a `use_support_hours`
/// rule takes its `during_support_hours` urgency).
fn support_hours_of(row: &ServiceRow) -> Option<SupportHours> {
    let text = row.support_hours.as_deref()?;
    serde_json::from_str(text)
        .inspect_err(|e| tracing::warn!(service_id = %row.id, error = %e, "unreadable support_hours; ignoring them"))
        .ok()
}

/// The support hours' zone from the tz database. The REST API accepts only known zones, but the
/// database may change under a stored service: an unknown zone falls back to UTC, with a warning.
fn resolve_zone(service_id: &str, name: &str) -> TimeZone {
    TimeZone::get(name).unwrap_or_else(|e| {
        tracing::warn!(service_id, time_zone = name, error = %e, "unknown support hours time zone; using UTC");
        TimeZone::UTC
    })
}

/// Assembles the [`Facts`] from what the fact queries read.
pub fn facts_from(
    services: Vec<ServiceRow>,
    windows: Vec<(String, i64, i64)>,
    open: Vec<OpenRow>,
    schedules: &Schedules,
    now: i64,
) -> Facts {
    let mut facts = Facts::default();
    // Each service's policy rows, as the command layer reads a policy: levels resolved at `now`.
    let mut policy_rows: HashMap<&str, Vec<super::commands::PolicyTargetRow>> = HashMap::new();
    for row in &services {
        if let Some(rule_id) = &row.rule_id {
            policy_rows.entry(row.id.as_str()).or_default().push(super::commands::PolicyTargetRow {
                rule_id: rule_id.clone(),
                escalation_delay_in_minutes: row.escalation_delay_in_minutes.unwrap_or(0),
                assignment_strategy: row.assignment_strategy.clone().unwrap_or_default(),
                num_loops: row.num_loops.unwrap_or(0),
                pointer: row.pointer,
                target_type: row.target_type.clone(),
                target_id: row.target_id.clone(),
            });
        }
    }
    for row in &services {
        let facts_of = facts.services.entry(row.id.clone()).or_insert_with(|| ServiceFacts {
            disabled: row.status == "disabled",
            maintenance: windows.iter().filter(|(id, _, _)| *id == row.id).map(|(_, a, b)| (*a, *b)).collect(),
            escalation_policy_id: row.escalation_policy_id.clone(),
            urgency_rule: urgency_rule_of(row),
            support_hours: support_hours_of(row),
            time_zone: None,
            first_responders: Vec::new(),
            levels: Vec::new(),
            path: Default::default(),
            timeouts: Timeouts {
                acknowledgement_secs: row.acknowledgement_timeout,
                auto_resolve_secs: row.auto_resolve_timeout,
            },
        });
        if facts_of.path.rules.is_empty()
            && let Some(rows) = policy_rows.get(row.id.as_str())
        {
            let (levels, path) = super::commands::resolve_levels(rows, schedules, now);
            facts_of.first_responders = levels.first().cloned().unwrap_or_default();
            facts_of.levels = levels;
            facts_of.path = path;
        }
        if facts_of.time_zone.is_none()
            && let Some(hours) = &facts_of.support_hours
        {
            facts_of.time_zone = Some(resolve_zone(&row.id, &hours.time_zone));
        }
    }
    for row in open {
        let Some(integration_id) = row.integration_id else { continue };
        if row.suppressed {
            facts.open_suppressed.insert((integration_id, row.alert_key), row.id);
            continue;
        }
        if let (Some(incident_id), Some(status), Some(service_id)) = (&row.incident_id, &row.status, row.service_id)
            && let Ok(status) = status.parse::<Status>()
        {
            facts.incidents.insert(
                incident_id.clone(),
                IncidentFacts {
                    status,
                    service_id,
                    open_alerts: row.open_alerts,
                    timeouts: Timeouts {
                        acknowledgement_secs: row.acknowledgement_timeout,
                        auto_resolve_secs: row.auto_resolve_timeout,
                    },
                },
            );
        }
        facts.open.insert((integration_id, row.alert_key), OpenAlert { id: row.id, incident_id: row.incident_id });
    }
    facts
}

/// The log entry channel of an API event.
fn channel(event: &AlertEvent) -> Value {
    let mut c = json!({"type": "api", "summary": event.summary.clone().unwrap_or_default(),
        "incident_key": event.dedup_key, "details": event.custom_details.clone().unwrap_or(Value::Null)});
    if let Some(description) = &event.summary {
        c["description"] = Value::String(description.clone());
    }
    if event.severity.is_some() {
        c["cef_details"] = json!({"severity": event.severity, "source_origin": event.source,
            "source_component": event.component, "event_class": event.class, "service_group": event.group,
            "client": event.client, "client_url": event.client_url, "contexts": event.contexts});
    }
    c
}

/// Makes the live jobs whose `column` equals each row's value `cancelled` (key released, kept until the
/// retention cleanup) as of the row's instant, as `queries::jobs::cancel_at` does one at a time.
fn cancel_jobs(script: &mut Script, column: &str, rows: &[(String, i64)]) {
    script.update_rows(
        "UPDATE jobs SET status = 'cancelled', unique_key = NULL, lease_owner = NULL, lease_until = NULL,
             finished_at = v.column2, last_error = COALESCE(jobs.last_error, 'cancelled')",
        &format!("WHERE jobs.{column} = v.column1 AND jobs.{}", super::jobs::LIVE),
        rows,
        |b, (value, at)| {
            b.push_bind(value.clone()).push_bind(*at);
        },
    );
}

/// Writes the plan (its log entries are moved out, not copied).
fn write_plan(script: &mut Script, events: &[BatchEvent<'_>], plan: &mut Plan) {
    // Existing rows first: a key's open alert is resolved before a new one for the same key is inserted.
    script.update_rows(
        "UPDATE alerts SET trigger_count = alerts.trigger_count + v.column2,
             last_occurred_at = COALESCE(v.column3, alerts.last_occurred_at),
             status = CASE WHEN v.column4 IS NULL THEN alerts.status ELSE 'resolved' END,
             resolved_at = COALESCE(v.column4, alerts.resolved_at), updated_at = v.column5",
        "WHERE alerts.id = v.column1",
        &plan.alert_changes,
        |b, c| {
            b.push_bind(c.id.clone())
                .push_bind(c.added_triggers)
                .push_bind(c.last_occurred_at)
                .push_bind(c.resolved_at)
                .push_bind(c.updated_at);
        },
    );
    script.update_rows(
        "UPDATE incidents SET status = v.column2, last_status_change_at = v.column3,
             last_status_change_by_type = 'integration_reference', last_status_change_by_id = v.column4,
             updated_at = v.column3, resolved_at = COALESCE(v.column5, incidents.resolved_at)",
        "WHERE incidents.id = v.column1",
        &plan.incident_changes,
        |b, c| {
            b.push_bind(c.id.clone())
                .push_bind(c.status.as_str())
                .push_bind(c.changed_at)
                .push_bind(c.by_integration_id.clone())
                .push_bind(c.resolved_at);
        },
    );
    if !plan.cleared_incidents.is_empty() {
        let ids: Vec<&str> = plan.cleared_incidents.iter().map(String::as_str).collect();
        script.delete_in("DELETE FROM incident_assignments WHERE incident_id IN ", &ids);
        script.delete_in("DELETE FROM incident_acknowledgements WHERE incident_id IN ", &ids);
    }

    if !plan.new_incidents.is_empty() {
        // Gapless numbers in opening order, computed in SQL so the writes stay one script.
        let count = plan.new_incidents.len() as i64;
        script.statement("UPDATE counters SET value = value + ", |b| {
            b.push_bind(count).push(" WHERE name = 'incident_number'");
        });
        let numbered: Vec<(i64, &klaxon_core::alert_batch::NewIncident)> =
            plan.new_incidents.iter().enumerate().map(|(n, inc)| (count - 1 - n as i64, inc)).collect();
        script.insert_rows(
            "INSERT INTO incidents (id, incident_number, title, description, service_id, escalation_policy_id,
                 status, urgency, priority_id, incident_key, assigned_via, escalation_level, escalation_loops, body_details,
                 first_trigger_log_entry_id, last_status_change_at, last_status_change_by_type,
                 last_status_change_by_id, created_at, updated_at, resolved_at)",
            "",
            &numbered,
            |b, (back, inc)| {
                let e = &events[inc.event];
                let title = e.event.summary.clone().unwrap_or_default();
                let (by_type, by_id) = match &inc.last_status_change_by_integration {
                    Some(integration) => ("integration_reference", integration.clone()),
                    None => ("service_reference", inc.service_id.clone()),
                };
                b.push_bind(inc.id.clone())
                    .push("(SELECT value FROM counters WHERE name = 'incident_number') - ")
                    .push_bind_unseparated(*back)
                    .push_bind(title.clone())
                    .push_bind(title)
                    .push_bind(inc.service_id.clone())
                    .push_bind(inc.escalation_policy_id.clone())
                    .push_bind(inc.status.as_str())
                    .push_bind(inc.urgency)
                    .push("NULL")
                    .push_bind(e.event.dedup_key.clone())
                    .push("'escalation_policy'")
                    .push_bind(i64::from(inc.escalation_level))
                    .push_bind(i64::from(inc.escalation_loops))
                    .push_bind(e.event.custom_details.as_ref().map(Value::to_string))
                    .push_bind(inc.first_trigger_log_entry_id.clone())
                    .push_bind(inc.last_status_change_at)
                    .push_bind(by_type)
                    .push_bind(by_id)
                    .push_bind(inc.created_at)
                    .push_bind(inc.last_status_change_at)
                    .push_bind(inc.resolved_at);
            },
        );
    }

    script.insert_rows(
        "INSERT INTO alerts (id, incident_id, service_id, integration_id, alert_key, status, suppressed, severity,
             summary, source, component, group_name, class, custom_details, contexts, client, client_url,
             event_timestamp, trigger_count, first_trigger_log_entry_id, created_at, updated_at, last_occurred_at,
             resolved_at)",
        "",
        &plan.new_alerts,
        |b, a| {
            let e = &events[a.event];
            let ev = e.event;
            b.push_bind(a.id.clone())
                .push_bind(a.incident_id.clone())
                .push_bind(e.service_id.to_string())
                .push_bind(e.integration_id.to_string())
                .push_bind(ev.dedup_key.clone())
                .push_bind(if a.resolved_at.is_some() { "resolved" } else { "triggered" })
                .push_bind(a.suppressed)
                .push_bind(ev.severity.clone().unwrap_or_else(|| "critical".into()))
                .push_bind(ev.summary.clone().unwrap_or_default())
                .push_bind(ev.source.clone())
                .push_bind(ev.component.clone())
                .push_bind(ev.group.clone())
                .push_bind(ev.class.clone())
                .push_bind(ev.custom_details.as_ref().map(Value::to_string))
                .push_bind(Value::Array(ev.contexts.clone()).to_string())
                .push_bind(ev.client.clone())
                .push_bind(ev.client_url.clone())
                .push_bind(ev.timestamp_ms)
                .push_bind(a.trigger_count)
                .push_bind(a.first_trigger_log_entry_id.clone())
                .push_bind(a.created_at)
                .push_bind(a.resolved_at.unwrap_or(a.last_occurred_at).max(a.last_occurred_at))
                .push_bind(a.last_occurred_at)
                .push_bind(a.resolved_at);
        },
    );

    // Each event's channel is rendered once, however many entries it causes.
    let mut channels: HashMap<usize, String> = HashMap::new();
    for entry in &plan.log_entries {
        if entry.kind != LogKind::Assign {
            channels.entry(entry.event).or_insert_with(|| channel(events[entry.event].event).to_string());
        }
    }
    let entries: Vec<NewLogEntry> = std::mem::take(&mut plan.log_entries)
        .into_iter()
        .map(|l| {
            let e = &events[l.event];
            // Assignments are Klaxon's doing for the service; the rest the integration's, through the API.
            let (agent, channel) = match l.kind {
                LogKind::Assign => (Agent::Service(e.service_id.to_string()), r#"{"type":"auto"}"#.to_string()),
                _ => (
                    Agent::Integration(e.integration_id.to_string()),
                    channels.get(&l.event).cloned().unwrap_or_default(),
                ),
            };
            NewLogEntry {
                id: l.id,
                kind: l.kind,
                incident_id: l.incident_id,
                alert_id: l.alert_id,
                service_id: Some(e.service_id.to_string()),
                agent: Some(agent),
                channel,
                note: None,
                summary: l.summary,
                user_id: l.user_id,
                details: None,
                created_at: l.at,
            }
        })
        .collect();
    super::log_entries::insert(script, entries);

    script.insert_rows(
        "INSERT INTO incident_assignments (incident_id, user_id, at)",
        " ON CONFLICT DO NOTHING",
        &plan.assignments,
        |b, a| {
            b.push_bind(a.incident_id.clone()).push_bind(a.user_id.clone()).push_bind(a.at);
        },
    );
    script.insert_rows(
        "INSERT INTO incident_acknowledgements (incident_id, acknowledger_type, acknowledger_id, at)",
        " ON CONFLICT DO NOTHING",
        &plan.acknowledgements,
        |b, a| {
            b.push_bind(a.incident_id.clone())
                .push("'service_reference'")
                .push_bind(a.service_id.clone())
                .push_bind(a.at);
        },
    );
    for (service_id, at) in &plan.last_incident_at {
        script.statement("UPDATE services SET last_incident_timestamp = ", |b| {
            b.push_bind(*at).push(" WHERE id = ").push_bind(service_id.clone());
        });
    }

    script.insert_rows(
        "INSERT INTO escalation_rule_pointers (escalation_rule_id, next_index)",
        " ON CONFLICT (escalation_rule_id) DO UPDATE SET next_index = excluded.next_index",
        &plan.round_robin,
        |b, (rule, pointer)| {
            b.push_bind(rule.clone()).push_bind(*pointer);
        },
    );
    if plan.unassignable > 0 {
        tracing::warn!(incidents = plan.unassignable, "nobody could be assigned: nobody is on call at any level");
    }

    // Every job about an incident the batch resolved ends with it (the command layer's `cancel_jobs`),
    // its timers included; other cancelled timers end by their key.
    let ended: Vec<(String, i64)> = plan
        .incident_changes
        .iter()
        .filter(|c| c.status == Status::Resolved)
        .map(|c| (kinds::incident_subject(&c.id), c.changed_at))
        .collect();
    let resolved: BTreeSet<&str> =
        plan.incident_changes.iter().filter(|c| c.status == Status::Resolved).map(|c| c.id.as_str()).collect();
    let cancelled: Vec<(String, i64)> = plan
        .timers
        .iter()
        .filter(|t| t.change == TimerChange::Cancel && !resolved.contains(t.incident_id.as_str()))
        .map(|t| (timer_key(t.kind, &t.incident_id), t.at))
        .collect();
    cancel_jobs(script, "unique_key", &cancelled);
    cancel_jobs(script, "subject", &ended);
    let scheduled: Vec<(String, &str, String, String, i64, i64)> = plan
        .timers
        .iter()
        .filter_map(|t| match t.change {
            TimerChange::Schedule { due_at } => {
                let kind = timer_job_kind(t.kind);
                let payload = json!({ "incident_id": t.incident_id }).to_string();
                let subject = kinds::incident_subject(&t.incident_id);
                Some((timer_key(t.kind, &t.incident_id), kind, subject, payload, due_at, t.at))
            }
            TimerChange::Cancel => None,
        })
        .collect();
    // As `queries::jobs::insert`: a live job with the key moves (same id, attempts kept).
    script.insert_rows(
        "INSERT INTO jobs (id, kind, queue, status, unique_key, ordering_key, subject, payload, due_at, lease_owner,
             lease_until, attempts, last_error, created_at, finished_at)",
        " ON CONFLICT (unique_key) DO UPDATE SET kind = excluded.kind, queue = excluded.queue,
             ordering_key = excluded.ordering_key, subject = excluded.subject, payload = excluded.payload,
             due_at = excluded.due_at, status = 'scheduled', lease_owner = NULL, lease_until = NULL",
        &scheduled,
        |b, (key, kind, subject, payload, due_at, at)| {
            b.push_bind(crate::ids::long_id())
                .push_bind(*kind)
                .push_bind(kinds::INCIDENT_TIMERS_QUEUE)
                .push("'scheduled'")
                .push_bind(key.clone())
                .push("NULL")
                .push_bind(subject.clone())
                .push_bind(payload.clone())
                .push_bind(*due_at)
                .push("NULL")
                .push("NULL")
                .push("0")
                .push("NULL")
                .push_bind(*at)
                .push("NULL");
        },
    );
}
