-- Governance tasks (one open task per group at most) and the lifecycle of groups.

CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT    NOT NULL REFERENCES error_fingerprints (fingerprint),
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL,
    priority    TEXT    NOT NULL CHECK (priority IN ('high', 'medium', 'low')),
    task_type   TEXT    NOT NULL,
    status      TEXT    NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done')),
    occurrences INTEGER NOT NULL DEFAULT 0,
    -- Name of the alert rule that opened the task; NULL when opened by hand.
    rule        TEXT,
    metadata    TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
-- At most one task per group that is not done: concurrent openers meet here.
CREATE UNIQUE INDEX tasks_one_open_per_group ON tasks (fingerprint) WHERE status <> 'done';
CREATE INDEX tasks_group ON tasks (fingerprint, id DESC);
CREATE INDEX tasks_status ON tasks (status, id DESC);

CREATE TABLE task_comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id    INTEGER NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX task_comments_task ON task_comments (task_id, id);

-- Ignored until a time (epoch ms) or until the group's occurrence_count reaches
-- muted_until_count (its count when muted plus N); both NULL unless the status is ignored.
ALTER TABLE error_fingerprints ADD COLUMN muted_until INTEGER;
ALTER TABLE error_fingerprints ADD COLUMN muted_until_count INTEGER;
-- The lifecycle job looks for active groups quiet for a day.
CREATE INDEX error_fingerprints_status_last_seen ON error_fingerprints (status, last_seen);

-- Every change of a group's status: who, why, when.
CREATE TABLE group_status_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT    NOT NULL REFERENCES error_fingerprints (fingerprint),
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    reason      TEXT,
    at          INTEGER NOT NULL
);
CREATE INDEX group_status_changes_group ON group_status_changes (fingerprint, id DESC);
