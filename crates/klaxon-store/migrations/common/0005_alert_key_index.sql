-- Look alerts up by dedup key first.
-- 1. The open-alert lookup of every events batch ("integration_id IN (…) AND alert_key IN (…)") had
--    integration_id as its index's leading column, so PostgreSQL matched the keys by filtering every open
--    alert of the integration (tens of milliseconds per batch after some ten thousand open alerts). Leading
--    with the dedup key makes both lists index conditions; uniqueness is unchanged.
-- 2. GET /incidents?incident_key= also matches incidents through their alerts' dedup keys, resolved alerts
--    included: without an index on alert_key that subquery scanned every alert.
DROP INDEX alerts_open_key;
CREATE UNIQUE INDEX alerts_open_key ON alerts (alert_key, integration_id, suppressed) WHERE status = 'triggered';
CREATE INDEX alerts_key ON alerts (alert_key);
