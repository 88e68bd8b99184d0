-- Deployments as the logs name them, per service: when each was first and last seen. Kept by
-- the write path (one upsert per deployment in a batch); the System Health chart marks deploys.
CREATE TABLE deployments (
    service    TEXT   NOT NULL,
    deployment TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (service, deployment)
);
CREATE INDEX deployments_first_seen ON deployments (first_seen);

-- Rollups of the per-minute counters, kept by the write path with them: System Health reads
-- 24 hours as 96 quarter-hours, a group's trend as hours, instead of 1 440 minutes each.
-- `minute` is the start of the quarter-hour / hour.
CREATE TABLE log_counts_15m (
    minute  BIGINT NOT NULL,
    service TEXT   NOT NULL,
    level   TEXT   NOT NULL,
    count   BIGINT NOT NULL,
    PRIMARY KEY (minute, service, level)
);
INSERT INTO log_counts_15m (minute, service, level, count)
    SELECT (minute / 900000) * 900000, service, level, SUM(count) FROM log_counts_minute GROUP BY 1, 2, 3;
CREATE TABLE group_counts_hour (
    fingerprint TEXT   NOT NULL,
    minute      BIGINT NOT NULL,
    count       BIGINT NOT NULL,
    PRIMARY KEY (fingerprint, minute)
);
INSERT INTO group_counts_hour (fingerprint, minute, count)
    SELECT fingerprint, (minute / 3600000) * 3600000, SUM(count) FROM group_counts_minute GROUP BY 1, 2;
