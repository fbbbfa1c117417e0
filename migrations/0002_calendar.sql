-- Calendar access: CalDAV passwords, per-user calendar versions and the change log behind
-- sync-collection (RFC 6578), and revoked feed secrets (answered 410, not 404).

-- SHA-256 (hex) of the user's calendar password; NULL until one is generated.
ALTER TABLE users ADD COLUMN dav_password_hash TEXT;

-- One row per user calendar: `ctag` counts changes; tokens below `oldest_ctag` were pruned.
CREATE TABLE calendar_state (
    uid          TEXT PRIMARY KEY NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    ctag         INTEGER NOT NULL DEFAULT 0,
    oldest_ctag  INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Which object of which calendar changed at which version.
CREATE TABLE calendar_changes (
    id           INTEGER PRIMARY KEY,
    uid          TEXT NOT NULL REFERENCES users (uid) ON DELETE CASCADE,
    object_name  TEXT NOT NULL,
    ctag         INTEGER NOT NULL,
    changed_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX calendar_changes_by_user ON calendar_changes (uid, ctag);
CREATE INDEX calendar_changes_by_time ON calendar_changes (changed_at);

-- Feed secrets the user replaced: answered 410 Gone so subscribed clients stop polling.
CREATE TABLE revoked_feed_tokens (
    token       TEXT PRIMARY KEY NOT NULL,
    revoked_at  INTEGER NOT NULL
) STRICT;
