-- Alert rules: when they were last changed, their per-key state, and what they fired.
ALTER TABLE alert_rules ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;

-- Windowed counters and the last firing of one rule for one key (a group or a service),
-- written in the same transaction as the events they counted.
CREATE TABLE rule_state (
    rule_id    BIGINT  NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (rule_id, key)
);

CREATE TABLE alerts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id     BIGINT  NOT NULL,
    rule_name   TEXT    NOT NULL,
    rule_type   TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    fingerprint TEXT,
    service     TEXT,
    fired_at    BIGINT  NOT NULL,
    summary     TEXT    NOT NULL
);
CREATE INDEX alerts_fired ON alerts (fired_at DESC, id DESC);
CREATE INDEX alerts_fingerprint ON alerts (fingerprint, fired_at DESC);

-- The seed's default rules, created once (deleting one later does not bring it back).
INSERT INTO alert_rules (name, rule_type, condition, action, enabled, cooldown_minutes, trigger_count, updated_at) VALUES
    ('New error', 'new_fingerprint', '{}', 'create_task_and_notify', TRUE, 30, 0, 0),
    ('Spike', 'spike', '{"threshold":10,"window_minutes":1}', 'create_task_and_notify', TRUE, 30, 0, 0),
    ('Sustained', 'sustained', '{"minutes":5}', 'create_task_and_notify', TRUE, 30, 0, 0),
    ('Critical', 'critical', '{}', 'create_task_and_notify', TRUE, 30, 0, 0),
    ('Regression', 'regression', '{}', 'create_task_and_notify', TRUE, 30, 0, 0),
    ('Error rate', 'error_rate', '{"percent":1.0,"window_minutes":5,"threshold":100}', 'notify', TRUE, 30, 0, 0);
