-- Jobs v2: every job has a queue, an explicit status, an optional ordering key and subject, and keeps its
-- row after it finished (done, failed, cancelled) until the runner's retention cleanup deletes it. Each
-- attempt is a row of job_attempts.
--
-- status: scheduled (waiting for due_at), running (leased to lease_owner until lease_until), retrying
-- (an attempt did not finish it; due again at due_at), done, failed, cancelled. The first three are
-- "live". unique_key names a live job only: finishing a job clears it, so the key can be scheduled again
-- while the finished row stays. (The rule and the status names are held by the code, `jobs::status`: no
-- CHECK constraint, which cost the events batch about 2 us per new incident's timer row on SQLite.)
-- seq (growing while the newest row is kept: enough to order live rows) orders jobs of one ordering_key: a
-- live job waits while a live job with the same ordering_key and a smaller seq exists.
CREATE TABLE jobs_v2 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    queue TEXT NOT NULL,
    status TEXT NOT NULL,
    unique_key TEXT UNIQUE,
    ordering_key TEXT,
    subject TEXT,
    payload TEXT NOT NULL,             -- JSON
    due_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    finished_at BIGINT
);
-- v1 parked a job that failed too often at due_at 9999-12-31: it becomes failed. The incident timers get
-- their queue and subject.
INSERT INTO jobs_v2 (id, kind, queue, status, unique_key, ordering_key, subject, payload, due_at, lease_owner,
                     lease_until, attempts, last_error, created_at, finished_at)
SELECT id, kind,
       CASE WHEN kind IN ('incident.ack_timeout', 'incident.auto_resolve') THEN 'incident_timers' ELSE 'default' END,
       CASE WHEN due_at = 253402300799000 THEN 'failed'
            WHEN lease_owner IS NOT NULL THEN 'running'
            WHEN attempts > 0 THEN 'retrying'
            ELSE 'scheduled' END,
       CASE WHEN due_at = 253402300799000 THEN NULL ELSE unique_key END,
       NULL,
       CASE WHEN kind IN ('incident.ack_timeout', 'incident.auto_resolve') AND unique_key IS NOT NULL
            THEN 'incident:' || substr(unique_key, length(kind) + 2) ELSE NULL END,
       payload, due_at, lease_owner, lease_until, attempts, last_error, created_at,
       CASE WHEN due_at = 253402300799000 THEN created_at ELSE NULL END
FROM jobs ORDER BY created_at, id;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
-- Claiming: live jobs by due time (a claim filters its queue among the due ones). Not (queue, due_at):
-- comparing the queue's text at every step of the b-tree made the events batch's timer row per new
-- incident about 1.2 us dearer on SQLite.
CREATE INDEX jobs_claim ON jobs (due_at) WHERE status IN ('scheduled', 'running', 'retrying');
CREATE INDEX jobs_ordering ON jobs (ordering_key, seq) WHERE ordering_key IS NOT NULL;
CREATE INDEX jobs_subject ON jobs (subject) WHERE subject IS NOT NULL;
-- Retention cleanup of finished jobs.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- One row per attempt of a job, written when the attempt starts (before its handler runs) and completed
-- when it ends. outcome: done, retry, failed, cancelled, lease_lost (this node lost the lease while the
-- handler ran), abandoned (the node died or restarted; closed when the job was claimed again). Kept for
-- the runner's attempts retention, independently of the job row.
CREATE TABLE job_attempts (
    job_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    node TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    ended_at BIGINT,
    outcome TEXT,
    error TEXT,
    PRIMARY KEY (job_id, attempt)
);
CREATE INDEX job_attempts_started ON job_attempts (started_at);
