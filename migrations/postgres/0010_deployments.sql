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
