//! The notification outbox: rows written with the alert that caused them, then claimed,
//! delivered and marked by the notifier (`crate::notify::worker`).
//!
//! Every state change after the claim is conditional on the claim (`next_attempt_at` still
//! being the claimed value), so a replica whose claim expired cannot overwrite another's work.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{from_millis, to_millis, Store, StoreError};
use crate::model::{DeliveryStatus, Notification, NotifyChannel};

/// Largest list `notifications` returns.
pub const MAX_NOTIFICATIONS: u32 = 500;

/// A row to enqueue.
#[derive(Debug, Clone)]
pub struct NewNotification<'a> {
    pub idempotency_key: &'a str,
    pub channel: NotifyChannel,
    /// The alert, JSON.
    pub alert: &'a str,
    /// The body to send, JSON.
    pub payload: &'a str,
    /// Enqueue time; also the first attempt's time.
    pub now: DateTime<Utc>,
}

/// Inserts `row` unless its idempotency key is already there; true when inserted.
/// Runs on the caller's connection, so inside the caller's transaction.
pub async fn insert_notification(
    conn: &mut AnyConnection,
    row: &NewNotification<'_>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO outbox (idempotency_key, channel, alert, payload, status, attempts, \
         next_attempt_at, created_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5) \
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(row.idempotency_key)
    .bind(row.channel.as_str())
    .bind(row.alert)
    .bind(row.payload)
    .bind(to_millis(row.now))
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

const COLUMNS: &str = "id, idempotency_key, channel, alert, payload, status, attempts, \
                       next_attempt_at, last_error, created_at, sent_at";

fn notification_from_row(row: &AnyRow) -> Result<Notification, StoreError> {
    let channel: String = row.try_get("channel")?;
    let status: String = row.try_get("status")?;
    let alert: String = row.try_get("alert")?;
    let payload: String = row.try_get("payload")?;
    Ok(Notification {
        id: row.try_get("id")?,
        idempotency_key: row.try_get("idempotency_key")?,
        channel: NotifyChannel::from_str(&channel).map_err(StoreError::Corrupt)?,
        status: DeliveryStatus::from_str(&status).map_err(StoreError::Corrupt)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: from_millis(row.try_get("next_attempt_at")?),
        last_error: row.try_get("last_error")?,
        created_at: from_millis(row.try_get("created_at")?),
        sent_at: row.try_get::<Option<i64>, _>("sent_at")?.map(from_millis),
        alert: serde_json::from_str(&alert)
            .map_err(|e| StoreError::Corrupt(format!("outbox alert: {e}")))?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("outbox payload: {e}")))?,
    })
}

/// `UPDATE outbox SET {set}` of row `$1` = `id` while it is still claimed at `$2` = `claimed`
/// (pending, next attempt at the claim's end: a row released, delivered or claimed again
/// since does not match); the SET clause's own parameters start at `$3`.
macro_rules! claimed_row {
    ($set:literal, $id:expr, $claimed:expr) => {
        sqlx::query(concat!(
            "UPDATE outbox SET ",
            $set,
            " WHERE id = $1 AND status = 'pending' AND next_attempt_at = $2"
        ))
        .bind($id)
        .bind(to_millis($claimed))
    };
}

impl Store {
    /// Pending rows of `channel` whose next attempt is due at `now`, oldest first.
    pub async fn due_notifications(
        &self,
        channel: NotifyChannel,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1 \
             AND channel = $2 ORDER BY next_attempt_at, id LIMIT $3"
        ))
        .bind(to_millis(now))
        .bind(channel.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(notification_from_row).collect()
    }

    /// Claims a due row for one delivery: moves its next attempt from `seen` (the value read
    /// with the row) to `until` and counts the attempt, in one conditional UPDATE. True when
    /// this caller won; of two replicas claiming the same row, exactly one does.
    pub async fn claim_notification(
        &self,
        id: i64,
        seen: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let query = claimed_row!("next_attempt_at = $3, attempts = attempts + 1", id, seen);
        self.changed_one(query.bind(to_millis(until))).await
    }

    /// Gives a claimed row back untried (shutdown mid-delivery): due at `now`, attempt uncounted.
    pub async fn release_notification(
        &self,
        id: i64,
        claimed: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let query = claimed_row!("next_attempt_at = $3, attempts = attempts - 1", id, claimed);
        self.changed_one(query.bind(to_millis(now))).await
    }

    /// The receiver accepted the claimed row.
    pub async fn notification_sent(
        &self,
        id: i64,
        claimed: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let query = claimed_row!(
            "status = 'sent', sent_at = $3, last_error = NULL",
            id,
            claimed
        );
        self.changed_one(query.bind(to_millis(now))).await
    }

    /// The claimed row failed; retried at `next`, or given up when `next` is `None`.
    pub async fn notification_failed(
        &self,
        id: i64,
        claimed: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<bool, StoreError> {
        let query = match next {
            Some(next) => claimed_row!("next_attempt_at = $3, last_error = $4", id, claimed)
                .bind(to_millis(next)),
            None => claimed_row!("status = 'failed', last_error = $3", id, claimed),
        };
        self.changed_one(query.bind(error)).await
    }

    /// Runs an UPDATE of one row; true when it changed it.
    async fn changed_one<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> Result<bool, StoreError> {
        Ok(query.execute(self.pool()).await?.rows_affected() == 1)
    }

    /// The newest notifications (all, or those with `status`), at most `limit`
    /// (1–[`MAX_NOTIFICATIONS`]).
    pub async fn notifications(
        &self,
        status: Option<DeliveryStatus>,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        let limit = i64::from(limit.clamp(1, MAX_NOTIFICATIONS));
        let rows = match status {
            Some(status) => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM outbox WHERE status = $1 ORDER BY id DESC LIMIT $2"
                ))
                .bind(status.as_str())
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
            None => {
                sqlx::query(&format!(
                    "SELECT {COLUMNS} FROM outbox ORDER BY id DESC LIMIT $1"
                ))
                .bind(limit)
                .fetch_all(self.pool())
                .await?
            }
        };
        rows.iter().map(notification_from_row).collect()
    }

    /// Rows per channel and status (for the gauges).
    pub async fn notification_counts(
        &self,
    ) -> Result<Vec<(NotifyChannel, DeliveryStatus, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT channel, status, COUNT(*) AS n FROM outbox GROUP BY channel, status",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let channel: String = row.try_get("channel")?;
                let status: String = row.try_get("status")?;
                Ok((
                    NotifyChannel::from_str(&channel).map_err(StoreError::Corrupt)?,
                    DeliveryStatus::from_str(&status).map_err(StoreError::Corrupt)?,
                    row.try_get("n")?,
                ))
            })
            .collect()
    }
}
