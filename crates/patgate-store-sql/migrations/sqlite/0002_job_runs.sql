-- patgate schema, version 2: scheduled jobs run once per period across every process.
-- A row is a claim: the first INSERT for (job, period) wins; the others find it there
-- (INSERT ... ON CONFLICT DO NOTHING), which is portable to PostgreSQL.

CREATE TABLE job_runs (
    job        TEXT    NOT NULL,
    -- e.g. `2026-11-21` for a daily job.
    period     TEXT    NOT NULL,
    -- Who runs it (a process name), for operators.
    holder     TEXT    NOT NULL,
    claimed_at INTEGER NOT NULL,
    PRIMARY KEY (job, period)
);

-- tokens_unused_since: personal tokens by their last use, or issue time when never used.
CREATE INDEX tokens_last_used_idx ON tokens (last_used_at);
