//! One run of a probe: resolve the host (timed), request the URL on the address found (timed,
//! with the body read for the match), read the peer certificate's expiry. Thin I/O; what the
//! outcome means is decided by [`verdict`].

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::cert;
use crate::model::{ProbeFailure, ProbeResult, ProbeTarget};

/// The most of a body read for the match.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What a request gave, before it is judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub status: u16,
    /// The start of the body (at most [`MAX_BODY_BYTES`]), as text.
    pub body: String,
}

/// Runs `target` once, at `now`.
pub async fn run(target: &ProbeTarget, now: DateTime<Utc>) -> ProbeResult {
    let mut result = ProbeResult {
        probe_id: target.id,
        at: now,
        ok: false,
        failure: None,
        error: None,
        status: None,
        latency_ms: None,
        dns_ms: None,
        dns_addresses: None,
        cert_not_after: None,
    };
    let deadline = Instant::now() + Duration::from_millis(u64::from(target.timeout_ms));
    let url = match reqwest::Url::parse(&target.url) {
        Ok(url) => url,
        Err(e) => return failed(result, ProbeFailure::Connect, format!("bad URL: {e}")),
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return failed(result, ProbeFailure::Connect, "the URL has no host".into());
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();

    // DNS, unless the host is an address.
    let addrs = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            let started = Instant::now();
            let looked_up = tokio::time::timeout_at(
                deadline.into(),
                tokio::net::lookup_host((host.as_str(), port)),
            )
            .await;
            result.dns_ms = Some(millis(started.elapsed()));
            let addrs: Vec<SocketAddr> = match looked_up {
                Ok(Ok(addrs)) => addrs.collect(),
                Ok(Err(e)) => {
                    return failed(
                        result,
                        ProbeFailure::Dns,
                        format!("{host} did not resolve: {e}"),
                    )
                }
                Err(_) => {
                    return failed(result, ProbeFailure::Dns, format!("{host}: DNS timed out"))
                }
            };
            if addrs.is_empty() {
                return failed(result, ProbeFailure::Dns, format!("{host} has no address"));
            }
            let mut shown: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
            shown.dedup();
            result.dns_addresses = Some(shown.join(","));
            addrs
        }
    };

    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return failed(
            result,
            ProbeFailure::Timeout,
            "timed out resolving the host".into(),
        );
    }
    let started = Instant::now();
    let answer = request(&url, &host, &addrs, remaining, !target.tls_verify).await;
    result.latency_ms = Some(millis(started.elapsed()));
    match answer {
        Ok((answer, cert)) => {
            result.status = Some(answer.status);
            result.cert_not_after = cert;
            match verdict(target, &answer) {
                None => result.ok = true,
                Some((failure, error)) => {
                    result.failure = Some(failure);
                    result.error = Some(error);
                }
            }
            result
        }
        Err((failure, error)) => {
            if failure == ProbeFailure::Tls {
                // An untrusted or expired certificate: still say when it expires.
                let again = deadline.saturating_duration_since(Instant::now());
                if let Ok((_, cert)) = request(&url, &host, &addrs, again, true).await {
                    result.cert_not_after = cert;
                }
            }
            if failure == ProbeFailure::Timeout {
                result.latency_ms = None;
            }
            failed(result, failure, error)
        }
    }
}

/// Whether `answer` is what `target` expects: `None`, or the failure and why.
pub fn verdict(target: &ProbeTarget, answer: &Answer) -> Option<(ProbeFailure, String)> {
    if answer.status != target.expected_status {
        return Some((
            ProbeFailure::Status,
            format!(
                "HTTP {} (expected {})",
                answer.status, target.expected_status
            ),
        ));
    }
    match &target.body_contains {
        Some(text) if !answer.body.contains(text.as_str()) => Some((
            ProbeFailure::Body,
            format!("the body does not contain '{text}'"),
        )),
        _ => None,
    }
}

fn failed(mut result: ProbeResult, failure: ProbeFailure, error: String) -> ProbeResult {
    result.ok = false;
    result.failure = Some(failure);
    result.error = Some(error);
    result
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// GET `url` on `addrs` (the first that connects; no redirects followed: a 301 is an answer), reading at most
/// [`MAX_BODY_BYTES`] of the body; with the peer certificate's expiry for https.
async fn request(
    url: &reqwest::Url,
    host: &str,
    addrs: &[SocketAddr],
    timeout: Duration,
    accept_any_certificate: bool,
) -> Result<(Answer, Option<DateTime<Utc>>), (ProbeFailure, String)> {
    let mut builder = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tls_info(true)
        .danger_accept_invalid_certs(accept_any_certificate)
        .user_agent(concat!("Signalbox-probe/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(0);
    if host.parse::<IpAddr>().is_err() {
        builder = builder.resolve_to_addrs(host, addrs);
    }
    let client = builder
        .build()
        .map_err(|e| (ProbeFailure::Connect, format!("HTTP client: {e}")))?;
    let mut response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| classify(&e))?;
    let cert = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(cert::not_after);
    let status = response.status().as_u16();
    let body = read_capped(&mut response, MAX_BODY_BYTES)
        .await
        .map_err(|e| classify(&e))?;
    Ok((
        Answer {
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        },
        cert,
    ))
}

/// The start of a response's body, at most `max` bytes (the rest is not read).
pub async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while body.len() < max {
        match response.chunk().await? {
            Some(chunk) => body.extend_from_slice(&chunk),
            None => break,
        }
    }
    body.truncate(max);
    Ok(body)
}

/// The failure a request error is, and a one-line reason (never the URL: it may carry a
/// token in its query).
fn classify(e: &reqwest::Error) -> (ProbeFailure, String) {
    let mut chain = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    let detail = chain.join(": ");
    let lower = detail.to_ascii_lowercase();
    if e.is_timeout() {
        (
            ProbeFailure::Timeout,
            "no complete answer within the timeout".into(),
        )
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        (ProbeFailure::Tls, format!("TLS: {detail}"))
    } else if e.is_connect() {
        (ProbeFailure::Connect, format!("cannot connect: {detail}"))
    } else if e.is_body() || e.is_decode() {
        (
            ProbeFailure::Connect,
            format!("the answer broke off: {detail}"),
        )
    } else {
        (ProbeFailure::Connect, format!("request failed: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(expected_status: u16, body_contains: Option<&str>) -> ProbeTarget {
        ProbeTarget {
            id: 1,
            name: "api".into(),
            url: "http://127.0.0.1/".into(),
            interval_seconds: 60,
            timeout_ms: 1000,
            expected_status,
            body_contains: body_contains.map(str::to_string),
            tls_verify: true,
            enabled: true,
            created_at: DateTime::from_timestamp(0, 0).expect("valid"),
        }
    }

    #[test]
    fn verdicts() {
        let answer = |status: u16, body: &str| Answer {
            status,
            body: body.into(),
        };
        let cases = [
            (target(200, None), answer(200, ""), None),
            (
                target(200, None),
                answer(503, ""),
                Some(ProbeFailure::Status),
            ),
            (target(301, None), answer(301, ""), None),
            (
                target(200, Some("ok")),
                answer(200, "{\"status\":\"ok\"}"),
                None,
            ),
            (
                target(200, Some("ok")),
                answer(200, "down"),
                Some(ProbeFailure::Body),
            ),
            (
                target(200, Some("ok")),
                answer(500, "ok"),
                Some(ProbeFailure::Status),
            ),
        ];
        for (t, a, expected) in cases {
            assert_eq!(verdict(&t, &a).map(|(f, _)| f), expected, "{t:?} {a:?}");
        }
        assert_eq!(
            verdict(&target(200, None), &answer(502, "")).map(|(_, why)| why),
            Some("HTTP 502 (expected 200)".to_string())
        );
    }
}
