-- The escalation engine: how many times an incident's escalation looped back to level 1 (past the
-- policy's num_loops: exhausted), and each round-robin rule's durable pointer (the index of the next
-- target to assign, modulo its targets).
ALTER TABLE incidents ADD COLUMN escalation_loops INTEGER NOT NULL DEFAULT 0;

CREATE TABLE escalation_rule_pointers (
    escalation_rule_id TEXT PRIMARY KEY,
    next_index BIGINT NOT NULL
);
