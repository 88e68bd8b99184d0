//! Notifications: what an alert becomes on each channel (Slack, a generic JSON webhook, the fix
//! generator), the persisted outbox they go through, and the worker that delivers them.
//!
//! Delivery is at-least-once with a stable idempotency key: the outbox row is written in the
//! alert's own transaction (a crash loses nothing), a row is claimed before it is sent (two
//! replicas never send it at the same time), and every request carries the row's
//! `Idempotency-Key` (a receiver that dedupes on it sees each notification once even if a crash
//! between "the receiver accepted it" and "marked sent" makes us send it again). Slack itself
//! does not dedupe: that window can show a message twice, with the same fingerprint in it.

pub mod outbox;
pub mod pace;
pub mod slack;
pub mod webhook;
pub mod worker;

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

pub use outbox::{enqueue, enqueue_in, idempotency_key};
pub use worker::Notifier;

/// Which channels alerts are enqueued for. No URL or secret here: those are only in
/// [`Settings`], which the worker holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Channels {
    /// `SLACK_WEBHOOK_URL` is set.
    pub slack: bool,
    /// `ALERT_WEBHOOK_URL` is set.
    pub webhook: bool,
    /// `AUTO_FIX_ENABLED`: fixable groups also get a `fix` row.
    pub auto_fix: bool,
    /// `SIGNALBOX_PUBLIC_URL`, for the links in messages.
    pub public_url: String,
}

/// The worker's settings: where to send, and how hard to try.
#[derive(Clone)]
pub struct Settings {
    pub slack_webhook_url: Option<SecretString>,
    pub webhook_url: Option<SecretString>,
    /// Signs webhook bodies (`X-Signalbox-Signature`); unsigned when unset.
    pub webhook_secret: Option<SecretString>,
    /// How often due rows are looked for.
    pub poll_interval: Duration,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Attempts before a retryable failure becomes `failed`.
    pub max_attempts: u32,
    /// First retry delay; doubled each attempt (with ±20 % jitter) up to `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// How long a claim lasts: after this, another replica may retry a row whose worker died
    /// mid-delivery. Must exceed `timeout`.
    pub claim: Duration,
    /// Rows claimed per channel and pass.
    pub batch: u32,
    /// Minimum time between two Slack messages (Slack allows about one per second per
    /// webhook and answers a sustained excess with 429).
    pub slack_gap: Duration,
}

impl Settings {
    /// Production timings, no channel configured.
    pub fn new() -> Settings {
        Settings {
            slack_webhook_url: None,
            webhook_url: None,
            webhook_secret: None,
            poll_interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            backoff_base: Duration::from_secs(30),
            backoff_max: Duration::from_secs(3600),
            claim: Duration::from_secs(60),
            batch: 20,
            slack_gap: Duration::from_secs(1),
        }
    }

    /// True when there is somewhere to deliver to.
    pub fn any_channel(&self) -> bool {
        self.slack_webhook_url.is_some() || self.webhook_url.is_some()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings::new()
    }
}

impl fmt::Debug for Settings {
    // The Slack URL is a secret, and so may the webhook URL be (tokens in its path or query).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &Option<SecretString>| if s.is_some() { "[set]" } else { "[unset]" };
        f.debug_struct("Settings")
            .field("slack_webhook_url", &set(&self.slack_webhook_url))
            .field("webhook_url", &set(&self.webhook_url))
            .field("webhook_secret", &set(&self.webhook_secret))
            .field("poll_interval", &self.poll_interval)
            .field("timeout", &self.timeout)
            .field("max_attempts", &self.max_attempts)
            .field("backoff_base", &self.backoff_base)
            .field("backoff_max", &self.backoff_max)
            .field("claim", &self.claim)
            .field("batch", &self.batch)
            .field("slack_gap", &self.slack_gap)
            .finish()
    }
}

/// The link to a group in the UI (`{public_url}/errors/{fingerprint}`), or the dashboard.
pub fn group_link(public_url: &str, fingerprint: Option<&str>) -> String {
    let base = public_url.trim_end_matches('/');
    match fingerprint {
        Some(fp) => format!("{base}{}", crate::model::group_path(fp)),
        None => format!("{base}/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_to_groups() {
        assert_eq!(
            group_link("https://sb.example.com/", Some("a1b2")),
            "https://sb.example.com/errors/a1b2"
        );
        assert_eq!(
            group_link("http://localhost:3000", Some("db down/x")),
            "http://localhost:3000/errors/db%20down%2Fx"
        );
        assert_eq!(
            group_link("http://localhost:3000", None),
            "http://localhost:3000/"
        );
    }

    #[test]
    fn settings_never_print_urls_or_secrets() {
        let settings = Settings {
            slack_webhook_url: Some("https://hooks.slack.com/services/T0/B0/XXXX".into()),
            webhook_url: Some("https://example.com/hook?token=abc".into()),
            webhook_secret: Some("whsec_123".into()),
            ..Settings::new()
        };
        let printed = format!("{settings:?}");
        for secret in ["XXXX", "token=abc", "whsec_123"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
