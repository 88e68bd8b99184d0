//! Enqueueing an alert's notifications: one outbox row per channel, in the caller's
//! transaction, the body built now (so every retry sends the same message).
//!
//! The `fix` channel: rows are written (status `pending`) for the fix generator
//! (`crate::fixer`), which claims them and queues a fix; the notifier never claims them. While
//! the fix generator is off they wait, and `signalbox_notifications_pending{channel="fix"}`
//! shows how many.

use chrono::Utc;
use sqlx::AnyConnection;

use super::{slack, webhook, Channels};
use crate::model::{Alert, Group, NotifyChannel};
use crate::store::{insert_notification, NewNotification, Store, StoreError};

/// `{rule_id}:{fingerprint or service}:{fired_at ms}:{channel}`: the same alert replayed (a
/// re-evaluation after a crash) gets the same key, so it is enqueued once.
pub fn idempotency_key(alert: &Alert, channel: NotifyChannel) -> String {
    let subject = alert
        .fingerprint
        .as_deref()
        .or(alert.service.as_deref())
        .unwrap_or("-");
    format!(
        "{}:{subject}:{}:{}",
        alert.rule_id,
        alert.fired_at.timestamp_millis(),
        channel.as_str()
    )
}

/// The channels `alert` goes to: Slack and the webhook when configured and the rule's action
/// notifies; the fix generator when `AUTO_FIX_ENABLED` and the group is fixable.
pub fn channels_for(
    alert: &Alert,
    group: Option<&Group>,
    channels: &Channels,
) -> Vec<NotifyChannel> {
    let mut out = Vec::new();
    if alert.action.notifies() {
        if channels.slack {
            out.push(NotifyChannel::Slack);
        }
        if channels.webhook {
            out.push(NotifyChannel::Webhook);
        }
    }
    if channels.auto_fix && group.is_some_and(|g| g.fixable) {
        out.push(NotifyChannel::Fix);
    }
    out
}

/// The body of `alert` on `channel`.
fn payload(
    alert: &Alert,
    group: Option<&Group>,
    channel: NotifyChannel,
    public_url: &str,
) -> serde_json::Value {
    match channel {
        NotifyChannel::Slack => slack::slack_message(alert, group, public_url),
        NotifyChannel::Webhook => {
            webhook::webhook_payload(alert, group, public_url, &uuid::Uuid::new_v4().to_string())
        }
        NotifyChannel::Fix => serde_json::json!({
            "fingerprint": group.map(|g| g.fingerprint.as_str()),
            "category": group.map(|g| g.category),
            "link": super::group_link(public_url, alert.fingerprint.as_deref()),
        }),
    }
}

/// Enqueues `alert`'s notifications on `conn` (call it inside the transaction that stores the
/// alert). Returns the rows inserted: 0 when this alert was enqueued before.
pub async fn enqueue_in(
    conn: &mut AnyConnection,
    alert: &Alert,
    group: Option<&Group>,
    channels: &Channels,
) -> Result<usize, StoreError> {
    let wanted = channels_for(alert, group, channels);
    if wanted.is_empty() {
        return Ok(0);
    }
    let alert_json =
        serde_json::to_string(alert).map_err(|e| StoreError::Corrupt(format!("alert: {e}")))?;
    let now = Utc::now();
    let mut inserted = 0;
    for channel in wanted {
        let key = idempotency_key(alert, channel);
        let body = payload(alert, group, channel, &channels.public_url).to_string();
        let row = NewNotification {
            idempotency_key: &key,
            channel,
            alert: &alert_json,
            payload: &body,
            now,
        };
        if insert_notification(conn, &row).await? {
            inserted += 1;
        }
    }
    Ok(inserted)
}

/// [`enqueue_in`] in a transaction of its own.
pub async fn enqueue(
    store: &Store,
    alert: &Alert,
    group: Option<&Group>,
    channels: &Channels,
) -> Result<usize, StoreError> {
    let mut tx = store.pool().begin().await?;
    let inserted = enqueue_in(&mut tx, alert, group, channels).await?;
    tx.commit().await?;
    Ok(inserted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertAction, AlertRuleType};
    use chrono::TimeZone;

    fn alert(action: AlertAction) -> Alert {
        Alert {
            id: 0,
            rule_id: 3,
            rule_name: "spikes".into(),
            rule_type: AlertRuleType::Spike,
            action,
            fingerprint: Some("abc".into()),
            service: Some("api".into()),
            fired_at: Utc
                .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
                .single()
                .expect("valid"),
            summary: "12 events in 1 min (threshold 10)".into(),
        }
    }

    #[test]
    fn keys_name_rule_subject_time_and_channel() {
        let mut a = alert(AlertAction::Notify);
        assert_eq!(
            idempotency_key(&a, NotifyChannel::Slack),
            "3:abc:1795773600000:slack"
        );
        a.fingerprint = None;
        assert_eq!(
            idempotency_key(&a, NotifyChannel::Webhook),
            "3:api:1795773600000:webhook"
        );
    }

    #[test]
    fn channels_follow_action_and_configuration() {
        let all = Channels {
            slack: true,
            webhook: true,
            auto_fix: true,
            public_url: "http://x".into(),
        };
        assert_eq!(
            channels_for(&alert(AlertAction::Notify), None, &all),
            [NotifyChannel::Slack, NotifyChannel::Webhook]
        );
        assert!(channels_for(&alert(AlertAction::CreateTask), None, &all).is_empty());
        assert!(channels_for(&alert(AlertAction::Notify), None, &Channels::default()).is_empty());
    }
}
