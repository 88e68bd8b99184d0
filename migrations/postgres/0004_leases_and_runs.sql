-- Which replica runs the sources and the monitor: one row per role, renewed while alive.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);

-- Crawler bookkeeping per run (seed "Monitoring").
ALTER TABLE crawl_runs ADD COLUMN source TEXT;
ALTER TABLE crawl_runs ADD COLUMN errors_found BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawl_runs ADD COLUMN tasks_created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawl_runs ADD COLUMN api_errors BIGINT NOT NULL DEFAULT 0;
ALTER TABLE crawl_runs ADD COLUMN duration_ms BIGINT;
CREATE INDEX crawl_runs_started ON crawl_runs (started_at);
