-- One table for deploys. A deployment seen in logs (the id the events carry, per service) and
-- one the platform listed (Railway discovery) with the same service and id are one row; it
-- replaces `deployments` (0010, log-seen deploys) and the id-keyed `deploys` (0009), and
-- carries both over: markers, checks and verification results survive the upgrade.

-- Keyed by (service, id): ids seen in logs (a Sentry release, an OTLP service.version) may
-- repeat across services.
ALTER TABLE deploy_checks ADD COLUMN service TEXT;
UPDATE deploy_checks c SET service = d.service FROM deploys d WHERE d.id = c.deploy_id;
ALTER TABLE deploy_checks ALTER COLUMN service SET NOT NULL;
ALTER TABLE deploy_checks DROP CONSTRAINT deploy_checks_deploy_id_fkey;
ALTER TABLE deploys DROP CONSTRAINT deploys_pkey;
ALTER TABLE deploys ADD PRIMARY KEY (service, id);
ALTER TABLE deploy_checks ADD FOREIGN KEY (service, deploy_id) REFERENCES deploys (service, id) ON DELETE CASCADE;
DROP INDEX deploy_checks_deploy;
CREATE INDEX deploy_checks_deploy ON deploy_checks (service, deploy_id, id);

-- The platform's status; NULL when it never listed the deploy. `created_at`: when the platform
-- created it; for a deploy only seen in logs, its first line's time. `state` gains 'logged'
-- (seen in logs, never listed by the platform: nothing to check it against).
ALTER TABLE deploys ALTER COLUMN status DROP NOT NULL;
-- The deployed commit, when the platform says (Railway's `meta.commitHash`); the first and last
-- log line of the deploy (NULL: none seen), kept by the write path.
ALTER TABLE deploys ADD COLUMN commit_sha TEXT;
ALTER TABLE deploys ADD COLUMN first_log_at BIGINT;
ALTER TABLE deploys ADD COLUMN last_log_at BIGINT;

UPDATE deploys d SET first_log_at = l.first_seen, last_log_at = l.last_seen
    FROM deployments l WHERE l.service = d.service AND l.deployment = d.id;
INSERT INTO deploys (service, id, status, created_at, first_seen_at, state, first_log_at, last_log_at)
    SELECT l.service, l.deployment, NULL, l.first_seen, l.first_seen, 'logged', l.first_seen, l.last_seen
    FROM deployments l
    WHERE NOT EXISTS (SELECT 1 FROM deploys d WHERE d.service = l.service AND d.id = l.deployment);
DROP TABLE deployments;
-- System Health's deploy markers: a time window over every service.
CREATE INDEX deploys_created ON deploys (created_at);
