//! The generic JSON webhook: Signalbox's own outbound contract (`shared/specs/slack.md`,
//! "Generic JSON webhook"), documented in the README for receivers.
//!
//! ```text
//! POST <ALERT_WEBHOOK_URL>
//! Content-Type: application/json
//! Idempotency-Key: <outbox key, same across retries>
//! X-Signalbox-Event: incident.opened | incident.updated
//! X-Signalbox-Delivery: <uuid v4, same across retries>
//! X-Signalbox-Timestamp: <unix seconds>
//! X-Signalbox-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>  (secret set)
//! ```

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::model::{Alert, AlertRuleType, Group};

/// Version of the body's schema (`version`).
pub const SCHEMA_VERSION: u32 = 1;
/// Largest `incident.sample`, in bytes (the raw log, not escaped).
pub const SAMPLE_MAX_BYTES: usize = 2048;

pub const HEADER_EVENT: &str = "X-Signalbox-Event";
pub const HEADER_DELIVERY: &str = "X-Signalbox-Delivery";
pub const HEADER_TIMESTAMP: &str = "X-Signalbox-Timestamp";
pub const HEADER_SIGNATURE: &str = "X-Signalbox-Signature";
pub const HEADER_IDEMPOTENCY: &str = "Idempotency-Key";

/// `incident.opened` for a group seen for the first time (or again after being resolved),
/// `incident.updated` for every other rule.
pub fn event_name(rule_type: AlertRuleType) -> &'static str {
    match rule_type {
        AlertRuleType::NewFingerprint
        | AlertRuleType::Regression
        | AlertRuleType::ProbeDown
        | AlertRuleType::DnsFailure => "incident.opened",
        _ => "incident.updated",
    }
}

/// The start of `text`, at most `max` bytes, cut on a character boundary.
fn prefix_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The body for `alert` (without `sent_at`, which [`with_sent_at`] adds at each attempt).
pub fn webhook_payload(
    alert: &Alert,
    group: Option<&Group>,
    public_url: &str,
    delivery_id: &str,
) -> Value {
    let fingerprint = alert
        .fingerprint
        .as_deref()
        .or(group.map(|g| g.fingerprint.as_str()));
    let incident = group.map(|g| {
        let sample = match &g.stack_trace {
            Some(trace) if !trace.trim().is_empty() => format!("{}\n{trace}", g.sample_message),
            _ => g.sample_message.clone(),
        };
        json!({
            "id": g.fingerprint,
            "fingerprint": g.fingerprint,
            "service": g.service,
            "first_seen": g.first_seen,
            "last_seen": g.last_seen,
            "count": g.occurrences,
            "level": g.level,
            "severity": g.severity,
            "category": g.category,
            "fixable": g.fixable,
            "status": g.status,
            "title": g.template,
            "sample": prefix_bytes(&sample, SAMPLE_MAX_BYTES),
        })
    });
    json!({
        "version": SCHEMA_VERSION,
        "event": event_name(alert.rule_type),
        "delivery_id": delivery_id,
        "alert": alert,
        "incident": incident,
        "links": {
            "dashboard": super::group_link(public_url, fingerprint),
            "pull_request": null,
            "issue": null,
        },
    })
}

/// `payload` with `sent_at` set to `now` (RFC 3339, seconds).
pub fn with_sent_at(mut payload: Value, now: DateTime<Utc>) -> Value {
    if let Some(object) = payload.as_object_mut() {
        object.insert(
            "sent_at".into(),
            Value::String(now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
    payload
}

/// Hex HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The `X-Signalbox-Signature` value: `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut message = timestamp.to_string().into_bytes();
    message.push(b'.');
    message.extend_from_slice(body);
    format!("sha256={}", hmac_sha256_hex(secret, &message))
}

/// The headers of one attempt (besides Content-Type and User-Agent).
pub fn headers(
    idempotency_key: &str,
    payload: &Value,
    timestamp: i64,
    body: &[u8],
    secret: Option<&[u8]>,
) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        (HEADER_IDEMPOTENCY, idempotency_key.to_string()),
        (
            HEADER_EVENT,
            payload["event"]
                .as_str()
                .unwrap_or("incident.updated")
                .to_string(),
        ),
        (
            HEADER_DELIVERY,
            payload["delivery_id"]
                .as_str()
                .unwrap_or(idempotency_key)
                .to_string(),
        ),
        (HEADER_TIMESTAMP, timestamp.to_string()),
    ];
    if let Some(secret) = secret {
        headers.push((HEADER_SIGNATURE, signature(secret, timestamp, body)));
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    /// HMAC-SHA256 from its definition (RFC 2104) on top of plain SHA-256, independent of the
    /// `hmac` crate.
    fn reference_hmac(key: &[u8], message: &[u8]) -> String {
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let ipad: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
        let inner = Sha256::new()
            .chain_update(&ipad)
            .chain_update(message)
            .finalize();
        let outer = Sha256::new()
            .chain_update(&opad)
            .chain_update(inner)
            .finalize();
        hex::encode(outer)
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hmac_sha256_hex(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            ),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signature_signs_timestamp_dot_body() {
        let body = br#"{"version":1,"event":"incident.opened"}"#;
        let secret = b"whsec_test_secret";
        let expected = format!(
            "sha256={}",
            reference_hmac(secret, &[b"1764238862.".as_slice(), body].concat())
        );
        assert_eq!(signature(secret, 1_764_238_862, body), expected);
        // Anything changed → another signature.
        assert_ne!(signature(secret, 1_764_238_863, body), expected);
        assert_ne!(signature(b"other", 1_764_238_862, body), expected);
        let headers = headers(
            "7:fp:1:webhook",
            &json!({"event": "incident.opened", "delivery_id": "d-1"}),
            1_764_238_862,
            body,
            Some(secret),
        );
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get(HEADER_SIGNATURE), Some(expected));
        assert_eq!(get(HEADER_TIMESTAMP).as_deref(), Some("1764238862"));
        assert_eq!(get(HEADER_IDEMPOTENCY).as_deref(), Some("7:fp:1:webhook"));
        assert_eq!(get(HEADER_DELIVERY).as_deref(), Some("d-1"));
        assert_eq!(get(HEADER_EVENT).as_deref(), Some("incident.opened"));
        // Without a secret: unsigned.
        let unsigned = super::headers("k", &json!({}), 1, body, None);
        assert!(unsigned.iter().all(|(n, _)| *n != HEADER_SIGNATURE));
    }

    #[test]
    fn samples_are_cut_on_character_boundaries() {
        let text = "é".repeat(2000); // 4000 bytes
        let cut = prefix_bytes(&text, SAMPLE_MAX_BYTES);
        assert!(cut.len() <= SAMPLE_MAX_BYTES && cut.len() >= SAMPLE_MAX_BYTES - 1);
        assert_eq!(prefix_bytes("short", 10), "short");
    }
}
