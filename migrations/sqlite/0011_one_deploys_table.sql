-- One table for deploys. A deployment seen in logs (the id the events carry, per service) and
-- one the platform listed (Railway discovery) with the same service and id are one row; it
-- replaces `deployments` (0010, log-seen deploys) and the id-keyed `deploys` (0009), and
-- carries both over: markers, checks and verification results survive the upgrade.
-- SQLite cannot change a primary key in place: new tables, copied, then renamed.
CREATE TABLE deploys_new (
    service        TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    -- The platform's status (`SUCCESS`, `BUILDING`, …); NULL when it never listed the deploy.
    status         TEXT,
    -- When the platform created it; for a deploy only seen in logs, its first line's time.
    created_at     INTEGER NOT NULL,
    url            TEXT,
    -- The deployed commit, when the platform says (Railway's `meta.commitHash`).
    commit_sha     TEXT,
    first_seen_at  INTEGER NOT NULL,
    -- 'pending' (to check), 'checked', 'skipped' (older than Signalbox's watch), or 'logged'
    -- (seen in logs, never listed by the platform: nothing to check it against).
    state          TEXT    NOT NULL,
    verified_at    INTEGER,
    checks_passed  INTEGER NOT NULL DEFAULT 0,
    checks_failed  INTEGER NOT NULL DEFAULT 0,
    new_groups     INTEGER NOT NULL DEFAULT 0,
    -- Its first and last log line (NULL: none seen). Kept by the write path.
    first_log_at   INTEGER,
    last_log_at    INTEGER,
    PRIMARY KEY (service, id)
);
INSERT INTO deploys_new (service, id, status, created_at, url, first_seen_at, state, verified_at,
                         checks_passed, checks_failed, new_groups, first_log_at, last_log_at)
    SELECT d.service, d.id, d.status, d.created_at, d.url, d.first_seen_at, d.state, d.verified_at,
           d.checks_passed, d.checks_failed, d.new_groups, l.first_seen, l.last_seen
    FROM deploys d LEFT JOIN deployments l ON l.service = d.service AND l.deployment = d.id;
INSERT INTO deploys_new (service, id, status, created_at, first_seen_at, state, first_log_at, last_log_at)
    SELECT l.service, l.deployment, NULL, l.first_seen, l.first_seen, 'logged', l.first_seen, l.last_seen
    FROM deployments l
    WHERE NOT EXISTS (SELECT 1 FROM deploys d WHERE d.service = l.service AND d.id = l.deployment);

CREATE TABLE deploy_checks_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    service    TEXT    NOT NULL,
    deploy_id  TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    ok         INTEGER NOT NULL,
    status     INTEGER,
    latency_us INTEGER,
    error      TEXT,
    FOREIGN KEY (service, deploy_id) REFERENCES deploys_new (service, id) ON DELETE CASCADE
);
INSERT INTO deploy_checks_new (id, service, deploy_id, kind, path, ok, status, latency_us, error)
    SELECT c.id, d.service, c.deploy_id, c.kind, c.path, c.ok, c.status, c.latency_us, c.error
    FROM deploy_checks c JOIN deploys d ON d.id = c.deploy_id;

-- Children first: dropping a parent deletes its rows, which would cascade.
DROP TABLE deploy_checks;
DROP TABLE deploys;
DROP TABLE deployments;
ALTER TABLE deploys_new RENAME TO deploys;
ALTER TABLE deploy_checks_new RENAME TO deploy_checks;
CREATE INDEX deploys_service_created ON deploys (service, created_at DESC);
-- System Health's deploy markers: a time window over every service.
CREATE INDEX deploys_created ON deploys (created_at);
CREATE INDEX deploy_checks_deploy ON deploy_checks (service, deploy_id, id);
