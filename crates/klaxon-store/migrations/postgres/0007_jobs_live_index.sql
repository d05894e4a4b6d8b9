-- A job is live (scheduled, running or retrying) exactly while its finished_at is NULL: every change to
-- done, failed or cancelled stamps finished_at in the same statement. The claim index says "live" with
-- that test instead of `status IN ('scheduled', 'running', 'retrying')`: SQLite evaluates a partial
-- index's WHERE for every row written, and an IN list of three values is compiled into a small temporary
-- b-tree, built again at each execution of a statement; the events batch runs its timer insert once per
-- new incident, so that predicate cost more than the rest of the row (about 24,000 instructions of 41,000).
DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (due_at) WHERE finished_at IS NULL;
