-- Signalbox schema, PostgreSQL flavour. Times are milliseconds since the Unix epoch (UTC).

-- Raw events (warn and above; every line is counted in log_counts_minute).
CREATE TABLE railway_logs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      TEXT    NOT NULL,
    source_id   TEXT,
    ts          BIGINT NOT NULL,
    level       TEXT    NOT NULL,
    service     TEXT,
    deployment  TEXT,
    environment TEXT,
    message     TEXT    NOT NULL,
    attributes  TEXT    NOT NULL DEFAULT '{}',
    fingerprint TEXT
);
CREATE INDEX railway_logs_ts ON railway_logs (ts);

-- Identity of every event a source delivered with an id: drops duplicates across restarts.
CREATE TABLE seen_events (
    source    TEXT    NOT NULL,
    source_id TEXT    NOT NULL,
    ts        BIGINT NOT NULL,
    PRIMARY KEY (source, source_id)
);
CREATE INDEX seen_events_ts ON seen_events (ts);

-- Error groups; the fingerprint is the key.
CREATE TABLE error_fingerprints (
    fingerprint      TEXT    PRIMARY KEY,
    template         TEXT    NOT NULL,
    error_type       TEXT,
    level            TEXT    NOT NULL,
    service          TEXT,
    first_seen       BIGINT NOT NULL,
    last_seen        BIGINT NOT NULL,
    occurrence_count BIGINT NOT NULL DEFAULT 0,
    sample_message   TEXT    NOT NULL,
    stack_trace      TEXT,
    status           TEXT    NOT NULL DEFAULT 'unresolved'
);
CREATE INDEX error_fingerprints_count ON error_fingerprints (occurrence_count DESC, fingerprint);
CREATE INDEX error_fingerprints_last_seen ON error_fingerprints (last_seen DESC, fingerprint);

CREATE TABLE error_occurrences (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint TEXT    NOT NULL REFERENCES error_fingerprints (fingerprint),
    ts          BIGINT NOT NULL,
    level       TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    service     TEXT,
    deployment  TEXT,
    environment TEXT,
    stack_trace TEXT,
    attributes  TEXT    NOT NULL DEFAULT '{}',
    source      TEXT    NOT NULL
);
CREATE INDEX error_occurrences_group ON error_occurrences (fingerprint, id DESC);
CREATE INDEX error_occurrences_ts ON error_occurrences (ts);

-- Lines per minute, service and level: error rates and charts never scan raw rows.
CREATE TABLE log_counts_minute (
    minute  BIGINT NOT NULL,
    service TEXT    NOT NULL,
    level   TEXT    NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (minute, service, level)
);

-- Occurrences per minute and group: per-group charts and rate rules.
CREATE TABLE group_counts_minute (
    fingerprint TEXT    NOT NULL,
    minute      BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, minute)
);

-- One durable cursor per source, committed with the events it covers.
CREATE TABLE log_crawler_state (
    source     TEXT    PRIMARY KEY,
    cursor     TEXT    NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Runs of the sources, started by the monitor or by POST /api/logs/crawl.
CREATE TABLE crawl_runs (
    id          TEXT    PRIMARY KEY,
    triggered_by TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    status      TEXT    NOT NULL,
    events      BIGINT NOT NULL DEFAULT 0,
    error       TEXT
);

CREATE TABLE alert_rules (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             TEXT    NOT NULL UNIQUE,
    rule_type        TEXT    NOT NULL,
    condition        TEXT    NOT NULL DEFAULT '{}',
    action           TEXT    NOT NULL,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    cooldown_minutes BIGINT NOT NULL DEFAULT 30,
    last_triggered   BIGINT,
    trigger_count    BIGINT NOT NULL DEFAULT 0
);
