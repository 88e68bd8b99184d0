-- Projects that send events straight to Signalbox (Sentry SDKs, OTLP, JSON push), each with a
-- public key (the key of its DSN).
CREATE TABLE projects (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    public_key TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
