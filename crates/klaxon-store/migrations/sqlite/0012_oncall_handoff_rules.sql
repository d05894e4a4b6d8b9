-- On-call handoff notification rules (`/users/{id}/oncall_handoff_notification_rules`): notify the user at
-- a contact method `notify_advance_in_minutes` (0 to 10080) before they go on call, off call, or both
-- (`handoff_type`: both | oncall | offcall) in an escalation policy. Deleting the contact method deletes
-- its rules; a deleted user's rules stay but never fire. The scan job `oncall.handoff_scan` turns them
-- into `notifications` rows (kinds oncall_handoff | offcall_handoff) shortly before each handoff.
CREATE TABLE oncall_handoff_notification_rules (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    contact_method_id TEXT NOT NULL REFERENCES contact_methods (id),
    notify_advance_in_minutes INTEGER NOT NULL,
    handoff_type TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX oncall_handoff_notification_rules_user ON oncall_handoff_notification_rules (user_id, created_at, id);
