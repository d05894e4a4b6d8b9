-- On-call schedules in PagerDuty's v2 layer model (`/schedules`): a schedule has a time zone and ordered
-- layers; each layer rotates its ordered users and is masked by ordered restrictions; overrides put one
-- user on call over every layer. Schedules are soft-deleted, like escalation policies, so references to
-- them still render; their layers, users and restrictions are replaced as a whole on update.

CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    description TEXT,
    time_zone TEXT NOT NULL,           -- IANA name; restrictions and whole-day turns are read in it
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    deleted_at BIGINT
);

CREATE TABLE schedule_teams (
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    team_id TEXT NOT NULL REFERENCES teams (id),
    PRIMARY KEY (schedule_id, team_id)
);

-- position: the layer's index in `schedule_layers` as sent (a later layer beats an earlier one).
-- start_at / end_at: when the layer takes effect and stops (NULL: open-ended), Unix ms.
CREATE TABLE schedule_layers (
    id TEXT PRIMARY KEY,
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    start_at BIGINT NOT NULL,
    end_at BIGINT,
    rotation_virtual_start BIGINT NOT NULL,
    rotation_turn_length_seconds BIGINT NOT NULL
);
CREATE INDEX schedule_layers_schedule ON schedule_layers (schedule_id, position);

-- The rotation's users in turn order (a user may appear more than once).
CREATE TABLE schedule_layer_users (
    layer_id TEXT NOT NULL REFERENCES schedule_layers (id),
    position INTEGER NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (layer_id, position)
);
CREATE INDEX schedule_layer_users_user ON schedule_layer_users (user_id);

-- kind: daily_restriction | weekly_restriction; start_time_of_day 'HH:MM:SS' in the schedule's zone;
-- start_day_of_week 1 (Monday) .. 7 for weekly restrictions only.
CREATE TABLE schedule_layer_restrictions (
    layer_id TEXT NOT NULL REFERENCES schedule_layers (id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    start_time_of_day TEXT NOT NULL,
    start_day_of_week INTEGER,
    duration_seconds BIGINT NOT NULL,
    PRIMARY KEY (layer_id, position)
);

-- seq is the creation order the final schedule reads (the newest override wins where overrides overlap):
-- it never decreases and is never reused, and the items of one bulk request are inserted in order.
CREATE TABLE schedule_overrides (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    schedule_id TEXT NOT NULL REFERENCES schedules (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    start_at BIGINT NOT NULL,
    end_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
-- Window queries: a schedule's overrides with start_at < until AND end_at > since.
CREATE INDEX schedule_overrides_window ON schedule_overrides (schedule_id, start_at, end_at);
CREATE INDEX schedule_overrides_user ON schedule_overrides (user_id);

-- Escalation policies find the policies targeting a schedule (delete refusal, the schedule's
-- escalation_policies[]).
CREATE INDEX escalation_targets_target ON escalation_targets (target_type, target_id);
