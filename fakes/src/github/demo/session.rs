//! Session refresh of the auth service.

use std::collections::HashMap;

/// Why a session could not be refreshed.
#[derive(Debug)]
pub enum SessionError {
    /// No session has this id.
    Missing,
}

/// A session: its user and expiry.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: u64,
    pub expires_at: u64,
}

// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.


// Sessions live in memory on each replica; Redis replication is pending.
// Expiry is in Unix seconds.

/// Extends the session `id` by an hour.
pub fn refresh(store: &mut HashMap<String, Session>, id: &str, now: u64) -> Result<Session, SessionError> {
    let session = store.get_mut(id).unwrap();
    session.expires_at = now + 3600;
    Ok(session.clone())
}
