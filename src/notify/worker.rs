//! The notifier: claims due outbox rows, delivers them, marks them sent, retries them with
//! backoff, or gives up and marks them failed.
//!
//! Every replica runs one; the claim (a conditional UPDATE of `next_attempt_at`) makes sure two
//! never send the same row at the same time. A worker that dies mid-delivery leaves its row
//! pending; once the claim expires ([`Settings::claim`]) another worker retries it. A worker
//! that is shut down mid-delivery gives the row back at once, its attempt uncounted.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use tokio_util::sync::CancellationToken;

use super::pace::Pace;
use super::{webhook, Settings};
use crate::model::{Notification, NotifyChannel};
use crate::store::{Store, StoreError};

/// Channels the notifier delivers. `fix` rows are taken by the fix generator (`crate::fixer`).
pub const DELIVERED: [NotifyChannel; 2] = [NotifyChannel::Slack, NotifyChannel::Webhook];

/// Longest error text kept in `last_error`.
const ERROR_MAX: usize = 300;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Sent,
    /// Worth retrying; `after` is the receiver's `Retry-After`, if it gave one.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Retrying would not help.
    Permanent(String),
    /// Shutdown came first; the row goes back untried.
    Interrupted,
}

/// How a response is treated (spec: 2xx sent; 429 after `Retry-After`; 408 and 5xx retried;
/// every other status — `invalid_payload`, `invalid_token`, `no_service`, `channel_not_found`,
/// `channel_is_archived`, 410 Gone… — permanent).
pub fn classify(status: StatusCode, retry_after: Option<&str>, body: &str) -> Attempt {
    if status.is_success() {
        return Attempt::Sent;
    }
    let first_line = body.lines().next().unwrap_or("").trim();
    let error = if first_line.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {first_line}", status.as_u16())
    };
    let after = retry_after
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    match status.as_u16() {
        429 | 503 => Attempt::Retry { after, error },
        408 | 500..=599 => Attempt::Retry { after: None, error },
        _ => Attempt::Permanent(error),
    }
}

/// The delay before retry number `attempt` (1 = the first retry): `base · 2^(attempt-1)`,
/// capped at `max`, then ±20 % jitter so replicas and rows do not retry in lockstep.
pub fn backoff(settings: &Settings, attempt: u32, jitter: f64) -> Duration {
    let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
    let delay = settings
        .backoff_base
        .saturating_mul(factor)
        .min(settings.backoff_max);
    delay.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// `text` without the URL (the Slack URL is a secret) and without control characters, at most
/// [`ERROR_MAX`] characters.
fn clean_error(text: &str, url: &str) -> String {
    let text = if url.is_empty() {
        text.to_string()
    } else {
        text.replace(url, "[url]")
    };
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if cleaned.chars().count() <= ERROR_MAX {
        cleaned
    } else {
        let mut cut: String = cleaned.chars().take(ERROR_MAX - 1).collect();
        cut.push('…');
        cut
    }
}

/// A transport failure in words, never with the URL.
fn describe(error: reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs_f64());
    }
    let kind = if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    let error = error.without_url();
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The notifier of one replica.
pub struct Notifier {
    store: Store,
    settings: Settings,
    client: reqwest::Client,
    /// Per channel: when the next message may go (minimum gap, `Retry-After` holds).
    paces: std::sync::Mutex<Vec<(NotifyChannel, Pace)>>,
}

/// What [`Notifier::process`] did with a row.
enum Processed {
    /// Another worker had claimed it.
    Skipped,
    /// An attempt was made; `hold` is the receiver's `Retry-After`, if it asked for a pause.
    Attempted { hold: Option<Duration> },
}

impl Notifier {
    /// A notifier over `store`. Fails only when the HTTP client cannot be built (no TLS roots).
    pub fn new(store: Store, settings: Settings) -> Result<Notifier, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let paces = DELIVERED
            .iter()
            .map(|&channel| {
                let gap = match channel {
                    NotifyChannel::Slack => settings.slack_gap,
                    _ => Duration::ZERO,
                };
                (channel, Pace::new(gap))
            })
            .collect();
        Ok(Notifier {
            store,
            settings,
            client,
            paces: std::sync::Mutex::new(paces),
        })
    }

    /// Delivers due rows until `shutdown` is cancelled.
    pub async fn run(store: Store, settings: Settings, shutdown: CancellationToken) {
        let notifier = match Notifier::new(store, settings) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e.without_url(), "notifications are off: no HTTP client");
                return;
            }
        };
        notifier.run_until(shutdown).await;
    }

    /// The loop of [`Notifier::run`].
    pub async fn run_until(&self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            if let Err(e) = self.pass(&shutdown).await {
                tracing::warn!(error = %e, "notifications: outbox unavailable; retrying");
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// One pass: the due rows of every delivered channel (a batch each), as fast as each
    /// channel's pace allows: a channel that must wait is left for a later pass while the
    /// others go on. Returns the rows this worker attempted.
    pub async fn pass(&self, shutdown: &CancellationToken) -> Result<usize, StoreError> {
        let mut attempted = 0;
        for channel in DELIVERED {
            if !self.may_send(channel) {
                continue;
            }
            let due = self
                .store
                .due_notifications(channel, Utc::now(), self.settings.batch)
                .await?;
            for row in due {
                if shutdown.is_cancelled() {
                    return Ok(attempted);
                }
                if !self.may_send(channel) {
                    break;
                }
                if let Processed::Attempted { hold } = self.process(&row, shutdown).await? {
                    attempted += 1;
                    self.paced(channel, hold);
                }
            }
        }
        Ok(attempted)
    }

    /// True when `channel`'s pace lets a message go now.
    fn may_send(&self, channel: NotifyChannel) -> bool {
        let now = tokio::time::Instant::now();
        self.with_pace(channel, |pace| pace.wait(now).is_zero())
            .unwrap_or(true)
    }

    /// Records an attempt on `channel`, and the pause the receiver asked for.
    fn paced(&self, channel: NotifyChannel, hold: Option<Duration>) {
        let now = tokio::time::Instant::now();
        self.with_pace(channel, |pace| {
            pace.sent(now);
            if let Some(after) = hold {
                pace.hold(now, after.min(self.settings.backoff_max));
            }
        });
    }

    fn with_pace<T>(&self, channel: NotifyChannel, f: impl FnOnce(&mut Pace) -> T) -> Option<T> {
        // A poisoned lock only means a panic elsewhere mid-update; the pace is still usable.
        let mut paces = self.paces.lock().unwrap_or_else(|e| e.into_inner());
        paces
            .iter_mut()
            .find(|(c, _)| *c == channel)
            .map(|(_, pace)| f(pace))
    }

    /// Claims and delivers one row; false when another worker had claimed it.
    async fn process(
        &self,
        row: &Notification,
        shutdown: &CancellationToken,
    ) -> Result<Processed, StoreError> {
        let claim = claim_until(Utc::now(), self.settings.claim);
        if !self
            .store
            .claim_notification(row.id, row.next_attempt_at, claim)
            .await?
        {
            return Ok(Processed::Skipped);
        }
        let attempt_no = u32::try_from(row.attempts + 1).unwrap_or(u32::MAX);
        let channel = row.channel.as_str();
        let outcome = self.deliver(row, shutdown).await;
        let hold = match &outcome {
            Attempt::Retry { after, .. } => *after,
            _ => None,
        };
        let now = Utc::now();
        let (kept, label) = match outcome {
            Attempt::Sent => (
                self.store.notification_sent(row.id, claim, now).await?,
                "sent",
            ),
            Attempt::Interrupted => {
                self.store.release_notification(row.id, claim, now).await?;
                return Ok(Processed::Attempted { hold: None });
            }
            Attempt::Permanent(error) => {
                tracing::warn!(id = row.id, channel, %error, "notification failed permanently");
                (
                    self.store
                        .notification_failed(row.id, claim, None, &error)
                        .await?,
                    "failed",
                )
            }
            Attempt::Retry { error, .. } if attempt_no >= self.settings.max_attempts => {
                let error = format!("gave up after {attempt_no} attempts: {error}");
                tracing::warn!(id = row.id, channel, %error, "notification failed");
                (
                    self.store
                        .notification_failed(row.id, claim, None, &error)
                        .await?,
                    "failed",
                )
            }
            Attempt::Retry { after, error } => {
                let delay = match after {
                    Some(after) => after.min(self.settings.backoff_max),
                    None => backoff(
                        &self.settings,
                        attempt_no,
                        rand::Rng::random::<f64>(&mut rand::rng()),
                    ),
                };
                tracing::info!(id = row.id, channel, %error, retry_in = ?delay, "notification will be retried");
                (
                    self.store
                        .notification_failed(row.id, claim, Some(later(now, delay)), &error)
                        .await?,
                    "retry",
                )
            }
        };
        if !kept {
            tracing::warn!(
                id = row.id,
                channel,
                "notification claim expired before the attempt ended; another worker owns it"
            );
        }
        metrics::counter!("signalbox_notifications_total", "channel" => channel, "outcome" => label)
            .increment(1);
        Ok(Processed::Attempted { hold })
    }

    /// One HTTP attempt.
    async fn deliver(&self, row: &Notification, shutdown: &CancellationToken) -> Attempt {
        let url: &SecretString = match (row.channel, &self.settings) {
            (
                NotifyChannel::Slack,
                Settings {
                    slack_webhook_url: Some(url),
                    ..
                },
            ) => url,
            (
                NotifyChannel::Webhook,
                Settings {
                    webhook_url: Some(url),
                    ..
                },
            ) => url,
            (NotifyChannel::Slack, _) => {
                return Attempt::Permanent("SLACK_WEBHOOK_URL is not set".into())
            }
            (NotifyChannel::Webhook, _) => {
                return Attempt::Permanent("ALERT_WEBHOOK_URL is not set".into())
            }
            // Never claimed here: the fix generator takes these rows (`crate::fixer`).
            (NotifyChannel::Fix, _) => {
                return Attempt::Permanent("fix rows are taken by the fix generator".into())
            }
        };
        let url = url.expose_secret();
        let now = Utc::now();
        let mut request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("Signalbox/", env!("CARGO_PKG_VERSION")));
        let body = match row.channel {
            NotifyChannel::Webhook => {
                let payload = webhook::with_sent_at(row.payload.clone(), now);
                let body = payload.to_string().into_bytes();
                let secret = self
                    .settings
                    .webhook_secret
                    .as_ref()
                    .map(|s| s.expose_secret().as_bytes());
                for (name, value) in webhook::headers(
                    &row.idempotency_key,
                    &payload,
                    now.timestamp(),
                    &body,
                    secret,
                ) {
                    request = request.header(name, value);
                }
                body
            }
            _ => {
                request = request.header(webhook::HEADER_IDEMPOTENCY, &row.idempotency_key);
                row.payload.to_string().into_bytes()
            }
        };
        let attempt = async {
            let response = match request.body(body).send().await {
                Ok(response) => response,
                Err(e) => {
                    return Attempt::Retry {
                        after: None,
                        error: clean_error(&describe(e, self.settings.timeout), url),
                    }
                }
            };
            let status = response.status();
            let retry_after = retry_after(response.headers());
            // The body is only read for the error code; a failure to read it is not fatal.
            let text = response.text().await.unwrap_or_default();
            match classify(status, retry_after.as_deref(), &text) {
                Attempt::Retry { after, error } => Attempt::Retry {
                    after,
                    error: clean_error(&error, url),
                },
                Attempt::Permanent(error) => Attempt::Permanent(clean_error(&error, url)),
                other => other,
            }
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => Attempt::Interrupted,
            outcome = attempt => outcome,
        }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<String> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn later(now: DateTime<Utc>, delay: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
}

/// The end of a claim starting `now`, whole milliseconds (the stored precision).
pub(crate) fn claim_until(now: DateTime<Utc>, claim: Duration) -> DateTime<Utc> {
    crate::store::from_millis(crate::store::to_millis(later(now, claim)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_classified_like_the_spec_says() {
        let retry = |after: Option<u64>, error: &str| Attempt::Retry {
            after: after.map(Duration::from_secs),
            error: error.into(),
        };
        let cases: &[(u16, Option<&str>, &str, Attempt)] = &[
            (200, None, "ok", Attempt::Sent),
            (204, None, "", Attempt::Sent),
            (
                429,
                Some("7"),
                "rate_limited",
                retry(Some(7), "HTTP 429: rate_limited"),
            ),
            (429, None, "", retry(None, "HTTP 429")),
            (
                429,
                Some("Wed, 21 Oct 2026 07:28:00 GMT"),
                "",
                retry(None, "HTTP 429"),
            ),
            (
                500,
                None,
                "rollup_error",
                retry(None, "HTTP 500: rollup_error"),
            ),
            (503, Some("2"), "", retry(Some(2), "HTTP 503")),
            (408, None, "", retry(None, "HTTP 408")),
            (
                400,
                None,
                "invalid_payload",
                Attempt::Permanent("HTTP 400: invalid_payload".into()),
            ),
            (
                403,
                None,
                "invalid_token",
                Attempt::Permanent("HTTP 403: invalid_token".into()),
            ),
            (
                404,
                None,
                "no_service",
                Attempt::Permanent("HTTP 404: no_service".into()),
            ),
            (
                404,
                None,
                "channel_not_found",
                Attempt::Permanent("HTTP 404: channel_not_found".into()),
            ),
            (
                410,
                None,
                "channel_is_archived",
                Attempt::Permanent("HTTP 410: channel_is_archived".into()),
            ),
        ];
        for (status, after, body, expected) in cases {
            let status = StatusCode::from_u16(*status).expect("a status");
            assert_eq!(&classify(status, *after, body), expected, "{status} {body}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_with_jitter() {
        let s = Settings::new();
        assert_eq!(backoff(&s, 1, 0.5), Duration::from_secs(30));
        assert_eq!(backoff(&s, 2, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(&s, 4, 0.5), Duration::from_secs(240));
        assert_eq!(backoff(&s, 8, 0.5), Duration::from_secs(3600));
        assert_eq!(backoff(&s, 50, 0.5), Duration::from_secs(3600));
        assert_eq!(backoff(&s, 1, 0.0), Duration::from_secs(24));
        assert_eq!(backoff(&s, 1, 1.0), Duration::from_secs(36));
    }

    #[test]
    fn errors_never_keep_the_url() {
        let url = "https://hooks.slack.com/services/T0/B0/SECRET";
        let e = clean_error(&format!("request failed for {url}\nnext line"), url);
        assert!(!e.contains("SECRET"), "{e}");
        assert!(!e.contains('\n'));
        assert!(clean_error(&"x".repeat(1000), url).chars().count() <= ERROR_MAX);
    }
}
