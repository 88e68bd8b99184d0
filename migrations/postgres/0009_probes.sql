-- Probes: URLs checked on an interval (uptime, latency, TLS certificate, DNS), their runs;
-- deploys of watched services and the checks run against them; and the default check rules
-- (alerts on measurements rather than on log events).

CREATE TABLE probe_targets (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    url              TEXT    NOT NULL,
    interval_seconds BIGINT  NOT NULL,
    timeout_ms       BIGINT  NOT NULL,
    expected_status  BIGINT  NOT NULL,
    body_contains    TEXT,
    tls_verify       BIGINT  NOT NULL DEFAULT 1,
    enabled          BIGINT  NOT NULL DEFAULT 1,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

-- One row per run; deleted after RETENTION_DAYS like raw logs. Durations in microseconds
-- (integers: a NULL float does not bind through sqlx's Any driver on PostgreSQL).
CREATE TABLE probe_results (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    probe_id       BIGINT  NOT NULL REFERENCES probe_targets (id) ON DELETE CASCADE,
    at             BIGINT  NOT NULL,
    ok             BIGINT  NOT NULL,
    failure        TEXT,
    error          TEXT,
    status         BIGINT,
    latency_us     BIGINT,
    dns_us         BIGINT,
    dns_addresses  TEXT,
    cert_not_after BIGINT
);
CREATE INDEX probe_results_probe_at ON probe_results (probe_id, at DESC);
CREATE INDEX probe_results_at ON probe_results (at);

-- Deployments of the watched services (Railway), as first seen; checked once when successful.
CREATE TABLE deploys (
    id             TEXT    PRIMARY KEY,
    service        TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    created_at     BIGINT NOT NULL,
    url            TEXT,
    first_seen_at  BIGINT NOT NULL,
    -- 'pending' (to check), 'checked', or 'skipped' (older than Signalbox's watch).
    state          TEXT    NOT NULL,
    verified_at    BIGINT,
    checks_passed  BIGINT NOT NULL DEFAULT 0,
    checks_failed  BIGINT NOT NULL DEFAULT 0,
    new_groups     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX deploys_service_created ON deploys (service, created_at DESC);

CREATE TABLE deploy_checks (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    deploy_id  TEXT    NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    path       TEXT    NOT NULL,
    ok         BIGINT NOT NULL,
    status     BIGINT,
    latency_us BIGINT,
    error      TEXT
);
CREATE INDEX deploy_checks_deploy ON deploy_checks (deploy_id, id);

INSERT INTO alert_rules (name, rule_type, condition, action, enabled, cooldown_minutes, trigger_count, updated_at) VALUES
    ('Probe down', 'probe_down', '{"threshold":3}', 'notify', TRUE, 30, 0, 0),
    ('Probe slow', 'probe_slow', '{"threshold":5000,"window_minutes":5}', 'notify', TRUE, 30, 0, 0),
    ('Certificate expiring', 'cert_expiring', '{"threshold":14}', 'notify', TRUE, 1440, 0, 0),
    ('DNS failure', 'dns_failure', '{"threshold":1}', 'notify', TRUE, 30, 0, 0),
    ('Signalbox memory', 'self_memory', '{"percent":80.0}', 'notify', TRUE, 30, 0, 0),
    ('Signalbox error rate', 'self_error_rate', '{"percent":1.0,"window_minutes":5,"threshold":20}', 'notify', TRUE, 30, 0, 0),
    ('Source lagging', 'crawler_lag', '{"threshold":900}', 'notify', TRUE, 30, 0, 0),
    ('Deploy checks failed', 'deploy_check_failed', '{"threshold":1}', 'notify', TRUE, 0, 0, 0),
    ('Deploy introduced errors', 'deploy_new_groups', '{"threshold":1}', 'notify', TRUE, 0, 0, 0);
