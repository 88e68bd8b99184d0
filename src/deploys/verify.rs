//! Running a deploy's checks: one GET per check (thin I/O), judged by [`judge`].

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::model::{DeployCheck, DeployCheckKind};

/// How long one check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);
/// The most of a body read.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Runs `plan` against `base_url`, one check after the other.
pub async fn run(base_url: &str, plan: &[(DeployCheckKind, String)]) -> Vec<DeployCheck> {
    let client = reqwest::Client::builder()
        .timeout(CHECK_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!(
            "Signalbox-deploy-check/",
            env!("CARGO_PKG_VERSION")
        ))
        .build();
    let base = base_url.trim_end_matches('/');
    let mut out = Vec::with_capacity(plan.len());
    for (kind, path) in plan {
        let mut check = DeployCheck {
            kind: *kind,
            path: path.clone(),
            ok: false,
            status: None,
            latency_ms: None,
            error: None,
        };
        let client = match &client {
            Ok(client) => client,
            Err(e) => {
                check.error = Some(format!("HTTP client: {e}"));
                out.push(check);
                continue;
            }
        };
        let started = Instant::now();
        match fetch(client, &format!("{base}{path}")).await {
            Ok((status, body)) => {
                check.status = Some(status);
                check.latency_ms =
                    Some((started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0);
                match judge(*kind, status, &body) {
                    Ok(()) => check.ok = true,
                    Err(why) => check.error = Some(why),
                }
            }
            Err(why) => check.error = Some(why),
        }
        out.push(check);
    }
    out
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<(u16, Vec<u8>), String> {
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| describe(&e.without_url()))?;
    let status = response.status().as_u16();
    let body = crate::probes::check::read_capped(&mut response, MAX_BODY_BYTES)
        .await
        .map_err(|e| describe(&e.without_url()))?;
    Ok((status, body))
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within 10 s".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        format!("request failed: {e}")
    }
}

/// Whether an answer passes a check of `kind`; the error says why not.
pub fn judge(kind: DeployCheckKind, status: u16, body: &[u8]) -> Result<(), String> {
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}"));
    }
    match kind {
        DeployCheckKind::Health | DeployCheckKind::Endpoint => Ok(()),
        DeployCheckKind::Asset if body.is_empty() => Err("the asset is empty".into()),
        DeployCheckKind::Asset => Ok(()),
        DeployCheckKind::Database => {
            let json: Value = serde_json::from_slice(body)
                .map_err(|_| "the detailed health is not JSON".to_string())?;
            match database_ok(&json) {
                Some(true) => Ok(()),
                Some(false) => Err("the app reports its database unreachable".into()),
                None => Err("the detailed health says nothing about a database".into()),
            }
        }
    }
}

/// What an app's detailed health says of its database: under a `database`, `db`, `postgres`,
/// `mysql`, `redis`… key (at the top or under `checks`/`components`/`services`), a boolean,
/// a word (`ok`, `up`, `healthy`, `connected`, `ready`, `pass` — or their opposites) or an
/// object with a `status`, `ok`, `ready`, `connected` or `healthy` field.
pub fn database_ok(health: &Value) -> Option<bool> {
    const KEYS: [&str; 7] = [
        "database",
        "db",
        "postgres",
        "postgresql",
        "mysql",
        "sqlite",
        "mongodb",
    ];
    const NESTS: [&str; 4] = ["checks", "components", "services", "dependencies"];
    let object = health.as_object()?;
    let scopes =
        std::iter::once(object).chain(NESTS.iter().filter_map(|n| object.get(*n)?.as_object()));
    for scope in scopes {
        for (key, value) in scope {
            if KEYS.contains(&key.to_ascii_lowercase().as_str()) {
                if let Some(ok) = verdict(value) {
                    return Some(ok);
                }
            }
        }
    }
    None
}

fn verdict(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => word(s),
        Value::Object(o) => ["status", "ok", "ready", "connected", "healthy", "state"]
            .iter()
            .find_map(|k| o.get(*k).and_then(verdict)),
        _ => None,
    }
}

fn word(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "ok" | "up" | "healthy" | "connected" | "ready" | "pass" | "passing" | "green" => {
            Some(true)
        }
        "down" | "error" | "unhealthy" | "disconnected" | "unavailable" | "fail" | "failing"
        | "red" | "unreachable" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_apps_say_about_their_database() {
        let cases = [
            (json!({"status": "ok", "database": "connected"}), Some(true)),
            (json!({"db": false}), Some(false)),
            (
                json!({"checks": {"postgres": {"status": "down"}}}),
                Some(false),
            ),
            (json!({"components": {"db": {"status": "UP"}}}), Some(true)),
            (
                json!({"database": {"ok": true, "latency_ms": 3}}),
                Some(true),
            ),
            (json!({"Database": "unreachable"}), Some(false)),
            (json!({"status": "ok"}), None),
            (json!({"database": 42}), None),
            (json!(["database"]), None),
        ];
        for (health, expected) in cases {
            assert_eq!(database_ok(&health), expected, "{health}");
        }
    }

    #[test]
    fn judging_answers() {
        use DeployCheckKind::*;
        let cases: [(DeployCheckKind, u16, &[u8], bool); 8] = [
            (Health, 200, b"", true),
            (Health, 503, b"ok", false),
            (Endpoint, 204, b"", true),
            (Endpoint, 404, b"", false),
            (Asset, 200, b"body{}", true),
            (Asset, 200, b"", false),
            (Database, 200, br#"{"database": "ok"}"#, true),
            (Database, 200, b"<html>", false),
        ];
        for (kind, status, body, ok) in cases {
            assert_eq!(judge(kind, status, body).is_ok(), ok, "{kind:?} {status}");
        }
    }
}
