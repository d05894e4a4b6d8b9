-- Notification intents: who is to be paged, at which contact method, from when. The on-call engine records
-- them (an assigned user's assignment notification rules; on-call handoff rules); the delivery engine of a
-- later migration sends them. `kind`: assignment | oncall_handoff | offcall_handoff. `type`: PagerDuty's
-- email_notification | sms_notification | phone_notification | push_notification. `status`: pending |
-- cancelled (acknowledged, resolved, or the user was unassigned before it was delivered). The contact
-- method's address is copied: the intent stays readable after the method is deleted. `started_at` is when
-- it is due (the assignment plus the rule's start delay; a handoff less the rule's advance).
-- `unique_key` names one handoff intent (rule, kind, instant) so recording it again is a no-op.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    type TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    contact_method_id TEXT NOT NULL,
    address TEXT,
    incident_id TEXT REFERENCES incidents (id),
    rule_id TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_reason TEXT,
    started_at BIGINT NOT NULL,
    handoff_at BIGINT,
    escalation_policy_id TEXT,
    unique_key TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX notifications_started ON notifications (started_at, id);
CREATE INDEX notifications_pending ON notifications (incident_id, user_id) WHERE status = 'pending';
