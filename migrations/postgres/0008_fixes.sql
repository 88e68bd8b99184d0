-- Fixes the fix generator made for error groups: the analysis, the diff, the tokens it cost,
-- and the pull request it opened, tracked to merge.

CREATE TABLE fixes (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint     TEXT    NOT NULL REFERENCES error_fingerprints (fingerprint),
    task_id         BIGINT,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'proposed', 'pr_open', 'merged', 'closed', 'refused', 'failed')),
    -- 'manual' (Generate Fix, the API) or 'auto' (an alert with AUTO_FIX_ENABLED).
    trigger_kind    TEXT    NOT NULL,
    create_pr       BIGINT NOT NULL DEFAULT 1,
    dry_run_reason  TEXT,
    root_cause      TEXT,
    confidence      TEXT,
    explanation     TEXT,
    suggested_test  TEXT,
    diff            TEXT,
    -- JSON array of repository paths.
    files           TEXT    NOT NULL DEFAULT '[]',
    reason          TEXT,
    model           TEXT,
    input_tokens    BIGINT NOT NULL DEFAULT 0,
    output_tokens   BIGINT NOT NULL DEFAULT 0,
    branch          TEXT,
    pr_number       BIGINT,
    pr_url          TEXT,
    pr_state        TEXT CHECK (pr_state IN ('open', 'merged', 'closed')),
    -- When the generator took it (the hourly and daily limits count these).
    started_at      BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- One fix in flight per group: two presses of Generate Fix meet here.
CREATE UNIQUE INDEX fixes_one_in_flight_per_group ON fixes (fingerprint) WHERE state IN ('queued', 'running');
CREATE INDEX fixes_group ON fixes (fingerprint, id DESC);
CREATE INDEX fixes_state ON fixes (state, id);
CREATE INDEX fixes_started ON fixes (started_at);

-- Governance tasks mirrored to GitHub issues (GITHUB_ISSUES_ENABLED): one issue per task.
CREATE TABLE task_issues (
    task_id      BIGINT  PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    issue_number BIGINT  NOT NULL,
    issue_url    TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);
