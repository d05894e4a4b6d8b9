-- Klaxon schema, version 1. Written once here and rendered for each backend into sqlite/ and postgres/
-- (only the INTEGER PRIMARY KEY AUTOINCREMENT placeholder differs), which sqlx embeds. klaxon-store's tests fail when a rendered
-- file drifts from this source (KLAXON_BLESS=1 rewrites them) and when the two backends' tables differ.
-- Conventions: ids are TEXT (PagerDuty-style, e.g. PABC123); instants are BIGINT Unix milliseconds (UTC);
-- JSON documents are TEXT; soft-deleted rows keep their id so references to them still render.

CREATE TABLE klaxon_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE counters (
    name TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('incident_number', 0);
INSERT INTO counters (name, value) VALUES ('maintenance_window_sequence', 0);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    email_lower TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    color TEXT NOT NULL,
    role TEXT NOT NULL,
    description TEXT,
    job_title TEXT,
    avatar_url TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX users_email_live ON users (email_lower) WHERE deleted_at IS NULL;

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,                -- 'account' | 'user'
    read_only BOOLEAN NOT NULL,
    user_id TEXT REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,   -- lowercase hex sha256 of the secret
    token_last4 TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE contact_methods (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    type TEXT NOT NULL,                -- email_contact_method | phone_contact_method | sms_contact_method | push_notification_contact_method
    label TEXT NOT NULL,
    address TEXT NOT NULL,
    country_code INTEGER,
    send_short_email BOOLEAN NOT NULL DEFAULT FALSE,
    blacklisted BOOLEAN NOT NULL DEFAULT FALSE,
    device_type TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX contact_methods_user ON contact_methods (user_id);

CREATE TABLE notification_rules (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    contact_method_id TEXT NOT NULL REFERENCES contact_methods (id),
    start_delay_in_minutes INTEGER NOT NULL,
    urgency TEXT NOT NULL,             -- high | low
    created_at BIGINT NOT NULL
);
CREATE INDEX notification_rules_user ON notification_rules (user_id);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    description TEXT,
    default_role TEXT NOT NULL,        -- manager | none
    parent_id TEXT REFERENCES teams (id),
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX teams_name_live ON teams (name_lower) WHERE deleted_at IS NULL;

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,                -- observer | responder | manager
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE escalation_policies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    description TEXT,
    num_loops INTEGER NOT NULL,
    on_call_handoff_notifications TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX escalation_policies_name_live ON escalation_policies (name_lower) WHERE deleted_at IS NULL;

CREATE TABLE escalation_policy_teams (
    escalation_policy_id TEXT NOT NULL REFERENCES escalation_policies (id),
    team_id TEXT NOT NULL REFERENCES teams (id),
    PRIMARY KEY (escalation_policy_id, team_id)
);

CREATE TABLE escalation_rules (
    id TEXT PRIMARY KEY,
    escalation_policy_id TEXT NOT NULL REFERENCES escalation_policies (id),
    position INTEGER NOT NULL,
    escalation_delay_in_minutes INTEGER NOT NULL,
    assignment_strategy TEXT NOT NULL  -- assign_to_everyone | round_robin
);
CREATE INDEX escalation_rules_policy ON escalation_rules (escalation_policy_id, position);

CREATE TABLE escalation_targets (
    escalation_rule_id TEXT NOT NULL REFERENCES escalation_rules (id),
    position INTEGER NOT NULL,
    target_type TEXT NOT NULL,         -- user | schedule
    target_id TEXT NOT NULL,           -- schedules arrive with the schedules issue: no foreign key
    PRIMARY KEY (escalation_rule_id, position)
);

CREATE TABLE services (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    description TEXT,
    escalation_policy_id TEXT NOT NULL REFERENCES escalation_policies (id),
    status TEXT NOT NULL,              -- active | disabled (warning/critical/maintenance are derived)
    acknowledgement_timeout BIGINT,    -- seconds; NULL = disabled
    auto_resolve_timeout BIGINT,       -- seconds; NULL = disabled
    incident_urgency_rule TEXT NOT NULL,         -- JSON
    support_hours TEXT,                          -- JSON
    scheduled_actions TEXT NOT NULL,             -- JSON array
    alert_creation TEXT NOT NULL,
    alert_grouping_parameters TEXT,              -- JSON
    auto_pause_notifications_parameters TEXT,    -- JSON
    last_incident_timestamp BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE UNIQUE INDEX services_name_live ON services (name_lower) WHERE deleted_at IS NULL;
CREATE INDEX services_policy ON services (escalation_policy_id);

CREATE TABLE service_teams (
    service_id TEXT NOT NULL REFERENCES services (id),
    team_id TEXT NOT NULL REFERENCES teams (id),
    PRIMARY KEY (service_id, team_id)
);

CREATE TABLE integrations (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id),
    type TEXT NOT NULL,                -- events_api_v2_inbound_integration | generic_events_api_inbound_integration
    name TEXT NOT NULL,
    integration_key TEXT NOT NULL UNIQUE,
    vendor_id TEXT,
    rate_limit_per_minute BIGINT,      -- NULL = the server default; 0 = unlimited
    created_at BIGINT NOT NULL,
    deleted_at BIGINT
);
CREATE INDEX integrations_service ON integrations (service_id);

CREATE TABLE maintenance_windows (
    id TEXT PRIMARY KEY,
    sequence_number BIGINT NOT NULL,
    description TEXT,
    start_time BIGINT NOT NULL,
    end_time BIGINT NOT NULL,
    created_by TEXT REFERENCES users (id),
    created_at BIGINT NOT NULL
);

CREATE TABLE maintenance_window_services (
    maintenance_window_id TEXT NOT NULL REFERENCES maintenance_windows (id),
    service_id TEXT NOT NULL REFERENCES services (id),
    PRIMARY KEY (maintenance_window_id, service_id)
);
CREATE INDEX maintenance_window_services_service ON maintenance_window_services (service_id);

CREATE TABLE priorities (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    color TEXT NOT NULL,
    position INTEGER NOT NULL          -- 1 = most severe
);
INSERT INTO priorities (id, name, description, color, position) VALUES
    ('PPRIOP1', 'P1', 'Critical: customer-facing outage', 'a8171c', 1),
    ('PPRIOP2', 'P2', 'High: major degradation', 'eb6016', 2),
    ('PPRIOP3', 'P3', 'Moderate: partial degradation', 'f9b406', 3),
    ('PPRIOP4', 'P4', 'Low: minor issue', '0d7dbe', 4),
    ('PPRIOP5', 'P5', 'Informational', '69737d', 5);

-- Events API inbox: every accepted event is committed here before its 202 is sent. The processor turns
-- rows into alerts and incidents in arrival order (seq) and stamps processed_at in the same transaction.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,                -- alert | change
    received_at BIGINT NOT NULL,
    integration_id TEXT NOT NULL,
    service_id TEXT NOT NULL,
    dedup_key TEXT,
    body TEXT NOT NULL,                -- JSON: the normalized event
    processed_at BIGINT,
    outcome TEXT                       -- what processing did (created, deduplicated, suppressed, dropped, ...)
);
CREATE INDEX events_unprocessed ON events (seq) WHERE processed_at IS NULL;

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    incident_number BIGINT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    description TEXT,
    service_id TEXT NOT NULL REFERENCES services (id),
    escalation_policy_id TEXT,
    status TEXT NOT NULL,              -- triggered | acknowledged | resolved
    urgency TEXT NOT NULL,             -- high | low
    priority_id TEXT REFERENCES priorities (id),
    incident_key TEXT,
    assigned_via TEXT NOT NULL,        -- escalation_policy | direct_assignment
    escalation_level INTEGER NOT NULL,
    body_details TEXT,
    conference_number TEXT,
    conference_url TEXT,
    resolve_reason TEXT,               -- JSON or NULL
    merged_into_id TEXT,
    first_trigger_log_entry_id TEXT,
    last_status_change_at BIGINT NOT NULL,
    last_status_change_by_type TEXT NOT NULL,
    last_status_change_by_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX incidents_service_status ON incidents (service_id, status);
CREATE INDEX incidents_created ON incidents (created_at);
CREATE INDEX incidents_status ON incidents (status);
CREATE INDEX incidents_key ON incidents (incident_key);

CREATE TABLE incident_assignments (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, user_id)
);
CREATE INDEX incident_assignments_user ON incident_assignments (user_id);

CREATE TABLE incident_acknowledgements (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    acknowledger_type TEXT NOT NULL,   -- user_reference | service_reference
    acknowledger_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (incident_id, acknowledger_type, acknowledger_id)
);

CREATE TABLE alerts (
    id TEXT PRIMARY KEY,
    incident_id TEXT REFERENCES incidents (id),  -- NULL when suppressed
    service_id TEXT NOT NULL REFERENCES services (id),
    integration_id TEXT REFERENCES integrations (id),
    alert_key TEXT NOT NULL,           -- the dedup_key
    status TEXT NOT NULL,              -- triggered | resolved
    suppressed BOOLEAN NOT NULL,
    severity TEXT NOT NULL,
    summary TEXT NOT NULL,
    source TEXT,
    component TEXT,
    group_name TEXT,
    class TEXT,
    custom_details TEXT,               -- JSON
    contexts TEXT NOT NULL,            -- JSON array of links and images
    client TEXT,
    client_url TEXT,
    event_timestamp BIGINT,
    trigger_count BIGINT NOT NULL,     -- how many triggers were deduplicated onto this alert, the first included
    first_trigger_log_entry_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    last_occurred_at BIGINT NOT NULL,
    resolved_at BIGINT
);
-- Dedup scope is the routing key: at most one open alert per integration and dedup_key.
CREATE UNIQUE INDEX alerts_open_key ON alerts (integration_id, alert_key) WHERE status = 'triggered';
CREATE INDEX alerts_incident ON alerts (incident_id);

CREATE TABLE log_entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,                -- trigger_log_entry, acknowledge_log_entry, ...
    incident_id TEXT REFERENCES incidents (id),
    alert_id TEXT,
    service_id TEXT,
    agent_type TEXT,                   -- user_reference | service_reference | integration_reference | NULL
    agent_id TEXT,
    channel TEXT NOT NULL,             -- JSON
    note TEXT,
    summary TEXT NOT NULL,
    user_id TEXT,                      -- the user acted upon (notify, assign)
    details TEXT,                      -- JSON: type-specific fields (assignees, duration, urgency, ...)
    created_at BIGINT NOT NULL
);
CREATE INDEX log_entries_incident ON log_entries (incident_id, created_at);
CREATE INDEX log_entries_created ON log_entries (created_at);

CREATE TABLE incident_notes (
    id TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    user_id TEXT REFERENCES users (id),
    content TEXT NOT NULL,
    channel_summary TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX incident_notes_incident ON incident_notes (incident_id);

CREATE TABLE change_events (
    id TEXT PRIMARY KEY,
    service_id TEXT NOT NULL REFERENCES services (id),
    integration_id TEXT REFERENCES integrations (id),
    summary TEXT NOT NULL,
    source TEXT,
    event_timestamp BIGINT NOT NULL,
    custom_details TEXT,               -- JSON
    links TEXT NOT NULL,               -- JSON array
    images TEXT NOT NULL,              -- JSON array
    received_at BIGINT NOT NULL
);
CREATE INDEX change_events_service ON change_events (service_id, event_timestamp);

-- Durable jobs: timers and deliveries. A worker claims due jobs by taking a lease; a job whose lease
-- expires (its worker died) is claimed again. unique_key makes scheduling idempotent: at most one live job
-- per key (e.g. 'ack_timeout:PINC123').
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    unique_key TEXT UNIQUE,
    payload TEXT NOT NULL,             -- JSON
    due_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (due_at);
