-- Notification outbox: one row per (alert, channel), written in the same transaction as the
-- alert, delivered by the notifier with retries. `idempotency_key` makes a replayed alert
-- enqueue nothing twice and is sent as the Idempotency-Key header.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT    NOT NULL UNIQUE,
    channel         TEXT    NOT NULL CHECK (channel IN ('slack', 'webhook', 'fix')),
    -- The alert (JSON) and the body to send (JSON), both fixed when enqueued.
    alert           TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- Epoch ms; while a delivery is in flight, the end of its claim.
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
