-- GET /incidents?incident_key= also matches incidents through their alerts' dedup keys: without an index on
-- alert_key that subquery scanned every alert (tens of milliseconds per request after a few hundred thousand
-- alerts). With it, both sides of the OR are index lookups.
CREATE INDEX alerts_key ON alerts (alert_key);
