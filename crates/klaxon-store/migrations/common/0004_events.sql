-- Events: suppressed alerts (disabled service, active maintenance window) are open alerts with no incident.
-- They must not swallow a later real trigger with the same dedup key, so "one open alert per integration and
-- dedup_key" now holds separately for suppressed and unsuppressed alerts. The processor resolves the open
-- suppressed alert when a real one replaces it.
DROP INDEX alerts_open_key;
CREATE UNIQUE INDEX alerts_open_key ON alerts (integration_id, alert_key, suppressed) WHERE status = 'triggered';
CREATE INDEX change_events_timestamp ON change_events (event_timestamp);
