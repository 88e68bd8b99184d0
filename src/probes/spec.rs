//! A probe's settings as written by people (the API's JSON, `SIGNALBOX_PROBES`): defaults and
//! validation. Pure.

use serde::Deserialize;

use crate::config::{redact_url, shows_redacted_secret};
use crate::model::{ProbeSpec, ProbeTarget};

pub const DEFAULT_INTERVAL_SECONDS: u32 = 60;
pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const DEFAULT_EXPECTED_STATUS: u16 = 200;
const MAX_NAME_CHARS: usize = 100;
const MAX_URL_CHARS: usize = 2_048;
const MAX_BODY_MATCH_CHARS: usize = 1_000;

/// A probe as given: every field optional (`PATCH` changes only those given; a new probe
/// needs `name` and `url`, the rest has defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProbeInput {
    /// Unique; letters, digits, `.`, `_` and `-`.
    pub name: Option<String>,
    /// `http://` or `https://` URL to request (GET).
    pub url: Option<String>,
    /// Seconds between two runs, 5–86400 (default 60).
    pub interval_seconds: Option<u32>,
    /// Milliseconds a run may take, 100–60000 and less than the interval (default 10000).
    pub timeout_ms: Option<u32>,
    /// Status of a healthy answer, 100–599 (default 200).
    pub expected_status: Option<u16>,
    /// Text the body must contain (the first 1 MiB is read); `""` removes it.
    pub body_contains: Option<String>,
    /// Check the certificate chain (default true); false accepts any certificate and still
    /// reads its expiry.
    pub tls_verify: Option<bool>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// A field is missing or wrong: its name and what is wrong.
pub type Problem = (String, String);

impl ProbeInput {
    /// The settings this input gives, over `base` (a stored probe being changed) or the
    /// defaults; checked. A URL given back as shown (secrets as `***`) keeps the stored one:
    /// the secrets of a probe's URL are write-only.
    pub fn apply(self, base: Option<&ProbeSpec>) -> Result<ProbeSpec, Problem> {
        let required = |field: &str| (field.to_string(), "required".to_string());
        let spec = ProbeSpec {
            name: match (self.name, base) {
                (Some(name), _) => name.trim().to_string(),
                (None, Some(b)) => b.name.clone(),
                (None, None) => return Err(required("name")),
            },
            url: match (self.url, base) {
                (Some(url), Some(b)) if url.trim() == redact_url(&b.url) => b.url.clone(),
                (Some(url), _) => url.trim().to_string(),
                (None, Some(b)) => b.url.clone(),
                (None, None) => return Err(required("url")),
            },
            interval_seconds: self
                .interval_seconds
                .or(base.map(|b| b.interval_seconds))
                .unwrap_or(DEFAULT_INTERVAL_SECONDS),
            timeout_ms: self
                .timeout_ms
                .or(base.map(|b| b.timeout_ms))
                .unwrap_or(DEFAULT_TIMEOUT_MS),
            expected_status: self
                .expected_status
                .or(base.map(|b| b.expected_status))
                .unwrap_or(DEFAULT_EXPECTED_STATUS),
            body_contains: match self.body_contains {
                Some(text) if text.is_empty() => None,
                Some(text) => Some(text),
                None => base.and_then(|b| b.body_contains.clone()),
            },
            tls_verify: self
                .tls_verify
                .or(base.map(|b| b.tls_verify))
                .unwrap_or(true),
            enabled: self.enabled.or(base.map(|b| b.enabled)).unwrap_or(true),
        };
        validate(&spec)?;
        Ok(spec)
    }
}

/// Checks every field; the error names the first one that is wrong.
pub fn validate(spec: &ProbeSpec) -> Result<(), Problem> {
    let bad = |field: &str, why: String| Err((field.to_string(), why));
    let name_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if spec.name.is_empty()
        || spec.name.chars().count() > MAX_NAME_CHARS
        || !spec.name.chars().all(name_ok)
    {
        return bad(
            "name",
            format!(
                "'{}': expected 1-{MAX_NAME_CHARS} letters, digits, '.', '_' or '-'",
                spec.name
            ),
        );
    }
    if spec.url.len() > MAX_URL_CHARS {
        return bad("url", format!("longer than {MAX_URL_CHARS} characters"));
    }
    match reqwest::Url::parse(&spec.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            if !url.username().is_empty() && url.password().is_none() {
                // Only a password is hidden when the probe is shown.
                return bad(
                    "url",
                    "a user name needs a password (user:password@host)".into(),
                );
            }
        }
        Ok(_) => {
            return bad(
                "url",
                "expected an http:// or https:// URL with a host".into(),
            )
        }
        Err(e) => return bad("url", format!("not a URL: {e}")),
    }
    if shows_redacted_secret(&spec.url) {
        return bad(
            "url",
            "a secret is the placeholder '***': give the secret, or the whole URL as shown to keep it"
                .into(),
        );
    }
    if !(5..=86_400).contains(&spec.interval_seconds) {
        return bad("interval_seconds", "must be 5 to 86400".into());
    }
    if !(100..=60_000).contains(&spec.timeout_ms) {
        return bad("timeout_ms", "must be 100 to 60000".into());
    }
    if u64::from(spec.timeout_ms) >= u64::from(spec.interval_seconds) * 1000 {
        return bad(
            "timeout_ms",
            "must be less than the interval (a run must end before the next starts)".into(),
        );
    }
    if !(100..=599).contains(&spec.expected_status) {
        return bad(
            "expected_status",
            "must be an HTTP status, 100 to 599".into(),
        );
    }
    if spec
        .body_contains
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_BODY_MATCH_CHARS)
    {
        return bad(
            "body_contains",
            format!("longer than {MAX_BODY_MATCH_CHARS} characters"),
        );
    }
    Ok(())
}

/// `target` as shown (API, UI): its URL's password and secret query values as `***`. The
/// prober uses the stored URL.
pub fn redacted(target: &ProbeTarget) -> ProbeTarget {
    ProbeTarget {
        url: redact_url(&target.url),
        ..target.clone()
    }
}

/// What is wrong with a probe's JSON, without the values it quotes (a URL given where a
/// number belongs may carry a token): `invalid type: string "…", expected u32 at line 1 …`.
pub fn json_problem(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let mut out = String::with_capacity(text.len());
    let mut quoted = false;
    for c in text.chars() {
        match (c, quoted) {
            ('"', false) => {
                quoted = true;
                out.push_str("\"…");
            }
            ('"', true) => {
                quoted = false;
                out.push('"');
            }
            (c, false) => out.push(c),
            (_, true) => {}
        }
    }
    out
}

/// Reads `SIGNALBOX_PROBES`: a JSON list of probes (objects with the API's fields). The error
/// says which entry and field is wrong.
pub fn parse_list(json: &str) -> Result<Vec<ProbeSpec>, String> {
    let inputs: Vec<ProbeInput> = serde_json::from_str(json).map_err(|e| {
        format!(
            "expected a JSON list of probes ({{\"name\", \"url\", …}}): {}",
            json_problem(&e)
        )
    })?;
    let mut specs: Vec<ProbeSpec> = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.into_iter().enumerate() {
        let spec = input
            .apply(None)
            .map_err(|(field, why)| format!("[{i}].{field}: {why}"))?;
        if specs.iter().any(|s| s.name == spec.name) {
            return Err(format!("[{i}].name: '{}' is given twice", spec.name));
        }
        specs.push(spec);
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: &str) -> ProbeInput {
        serde_json::from_str(json).expect("valid JSON input")
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let spec = input(r#"{"name": "api", "url": "https://api.example.com/health"}"#)
            .apply(None)
            .expect("valid");
        assert_eq!(
            spec,
            ProbeSpec {
                name: "api".into(),
                url: "https://api.example.com/health".into(),
                interval_seconds: 60,
                timeout_ms: 10_000,
                expected_status: 200,
                body_contains: None,
                tls_verify: true,
                enabled: true,
            }
        );
        // A change keeps what it does not name; "" removes the body match.
        let base = ProbeSpec {
            body_contains: Some("ok".into()),
            ..spec.clone()
        };
        let changed = input(r#"{"interval_seconds": 30, "body_contains": ""}"#)
            .apply(Some(&base))
            .expect("valid");
        assert_eq!(changed.interval_seconds, 30);
        assert_eq!(changed.body_contains, None);
        assert_eq!(changed.url, base.url);
    }

    #[test]
    fn a_problem_names_its_field() {
        let cases = [
            (r#"{"url": "https://x.io"}"#, "name"),
            (r#"{"name": "api"}"#, "url"),
            (r#"{"name": "a b", "url": "https://x.io"}"#, "name"),
            (r#"{"name": "api", "url": "ftp://x.io"}"#, "url"),
            (r#"{"name": "api", "url": "not a url"}"#, "url"),
            (r#"{"name": "api", "url": "https://u@x.io"}"#, "url"),
            (
                r#"{"name": "api", "url": "https://x.io/?token=***"}"#,
                "url",
            ),
            (r#"{"name": "api", "url": "https://u:***@x.io"}"#, "url"),
            (
                r#"{"name": "api", "url": "https://x.io", "interval_seconds": 1}"#,
                "interval_seconds",
            ),
            (
                r#"{"name": "api", "url": "https://x.io", "timeout_ms": 50}"#,
                "timeout_ms",
            ),
            (
                r#"{"name": "api", "url": "https://x.io", "interval_seconds": 5, "timeout_ms": 5000}"#,
                "timeout_ms",
            ),
            (
                r#"{"name": "api", "url": "https://x.io", "expected_status": 700}"#,
                "expected_status",
            ),
        ];
        for (json, field) in cases {
            let got = input(json).apply(None).err().map(|(f, _)| f);
            assert_eq!(got.as_deref(), Some(field), "{json}");
        }
    }

    #[test]
    fn secrets_in_the_url_are_write_only() {
        let stored = input(r#"{"name": "api", "url": "https://u:pw@x.io/health?token=abc&v=1"}"#)
            .apply(None)
            .expect("a URL with secrets is valid");
        let target = ProbeTarget {
            id: 1,
            name: stored.name.clone(),
            url: stored.url.clone(),
            interval_seconds: stored.interval_seconds,
            timeout_ms: stored.timeout_ms,
            expected_status: stored.expected_status,
            body_contains: None,
            tls_verify: true,
            enabled: true,
            created_at: chrono::DateTime::UNIX_EPOCH,
        };
        let shown = redacted(&target);
        assert_eq!(shown.url, "https://u:***@x.io/health?token=***&v=1");
        assert_eq!(
            ProbeTarget {
                url: target.url.clone(),
                ..shown.clone()
            },
            target
        );
        // (sent, stored after the change)
        let cases = [
            // The URL as shown, sent back with the rest of the probe: the secret stays.
            (shown.url.clone(), Some(stored.url.as_str())),
            (format!("  {}  ", shown.url), Some(stored.url.as_str())),
            // A new secret replaces the old one.
            (
                "https://u:pw2@x.io/health?token=new&v=1".into(),
                Some("https://u:pw2@x.io/health?token=new&v=1"),
            ),
            // Another URL that still shows a placeholder is a mistake, not a secret.
            ("https://u:***@x.io/health?token=***&v=2".into(), None),
            ("https://y.io/health?token=***".into(), None),
        ];
        for (sent, kept) in cases {
            let changed = ProbeInput {
                url: Some(sent.clone()),
                interval_seconds: Some(30),
                ..ProbeInput::default()
            }
            .apply(Some(&stored));
            match kept {
                Some(url) => {
                    let changed = changed.expect(&sent);
                    assert_eq!(changed.url, url, "{sent}");
                    assert_eq!(changed.interval_seconds, 30);
                }
                None => assert_eq!(
                    changed.err().map(|(f, _)| f).as_deref(),
                    Some("url"),
                    "{sent}"
                ),
            }
        }
        // A new probe cannot be made from a shown URL either.
        assert!(
            input(&format!(r#"{{"name": "b", "url": "{}"}}"#, shown.url))
                .apply(None)
                .is_err()
        );
    }

    #[test]
    fn the_env_list_says_which_entry_is_wrong() {
        assert_eq!(
            parse_list(r#"[{"name": "a", "url": "http://127.0.0.1:1/"}, {"name": "b", "url": "https://b.io", "timeout_ms": 1}]"#)
                .err()
                .as_deref(),
            Some("[1].timeout_ms: must be 100 to 60000")
        );
        assert!(
            parse_list(r#"[{"name": "a", "url": "http://a.io", "colour": "red"}]"#)
                .is_err_and(|e| e.contains("unknown field"))
        );
        assert!(
            parse_list(r#"{"name": "a"}"#).is_err_and(|e| e.starts_with("expected a JSON list"))
        );
        assert!(parse_list(
            r#"[{"name": "a", "url": "http://a.io"}, {"name": "a", "url": "http://b.io"}]"#
        )
        .is_err_and(|e| e.contains("given twice")));
        assert_eq!(parse_list("[]"), Ok(vec![]));
        // A value in the wrong place is not repeated (it may be a secret).
        let err = parse_list(r#"[{"name": "a", "timeout_ms": "https://x/?token=abc"}]"#)
            .expect_err("a string is not a number");
        assert!(
            err.contains(r#"invalid type: string "…", expected u32"#),
            "{err}"
        );
        assert!(!err.contains("abc"), "{err}");
    }
}
