-- What the fingerprinting engine decides about a group, and which algorithm decided it.
ALTER TABLE error_fingerprints ADD COLUMN category TEXT NOT NULL DEFAULT 'internal';
ALTER TABLE error_fingerprints ADD COLUMN severity TEXT NOT NULL DEFAULT 'MEDIUM';
ALTER TABLE error_fingerprints ADD COLUMN fixable INTEGER NOT NULL DEFAULT 0;
-- Groups created before this migration were keyed by algorithm 1 (`*` placeholders).
ALTER TABLE error_fingerprints ADD COLUMN algorithm_version INTEGER NOT NULL DEFAULT 1;
