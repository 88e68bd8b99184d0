//! `DEPLOY_CHECKS`: which checks run against a new deployment of which service. Pure.

use serde::Deserialize;

use crate::model::DeployCheckKind;

/// The checks of one service (or of every service: `"*"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployChecks {
    /// A service name, or `*` for every watched service without an entry of its own.
    pub service: String,
    /// Where to send the checks, instead of the deployment's own URL.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Must answer 2xx (default `/health`).
    #[serde(default = "default_health")]
    pub health_path: Option<String>,
    /// API endpoints that must answer 2xx.
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Static assets that must answer 2xx with a body.
    #[serde(default)]
    pub assets: Vec<String>,
    /// The app's detailed health, whose JSON must say its database is reachable.
    #[serde(default)]
    pub detailed_health_path: Option<String>,
}

fn default_health() -> Option<String> {
    Some("/health".into())
}

impl DeployChecks {
    /// The checks to run, in order: (kind, path).
    pub fn plan(&self) -> Vec<(DeployCheckKind, String)> {
        let mut plan = Vec::new();
        if let Some(path) = &self.health_path {
            plan.push((DeployCheckKind::Health, path.clone()));
        }
        plan.extend(
            self.endpoints
                .iter()
                .map(|p| (DeployCheckKind::Endpoint, p.clone())),
        );
        plan.extend(
            self.assets
                .iter()
                .map(|p| (DeployCheckKind::Asset, p.clone())),
        );
        if let Some(path) = &self.detailed_health_path {
            plan.push((DeployCheckKind::Database, path.clone()));
        }
        plan
    }
}

/// The checks for `service`: its own entry, else the `*` entry.
pub fn for_service<'a>(all: &'a [DeployChecks], service: &str) -> Option<&'a DeployChecks> {
    all.iter()
        .find(|c| c.service == service)
        .or_else(|| all.iter().find(|c| c.service == "*"))
}

/// Reads `DEPLOY_CHECKS`, a JSON list; the error says which entry and field is wrong.
pub fn parse_list(json: &str) -> Result<Vec<DeployChecks>, String> {
    let list: Vec<DeployChecks> = serde_json::from_str(json).map_err(|e| {
        format!("expected a JSON list like [{{\"service\": \"web\", \"endpoints\": [\"/api/x\"]}}]: {e}")
    })?;
    for (i, c) in list.iter().enumerate() {
        if c.service.trim().is_empty() {
            return Err(format!("[{i}].service: required (a service name or *)"));
        }
        if list[..i].iter().any(|o| o.service == c.service) {
            return Err(format!("[{i}].service: '{}' is given twice", c.service));
        }
        if let Some(url) = &c.base_url {
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => {
                    return Err(format!(
                        "[{i}].base_url: expected an http:// or https:// URL"
                    ))
                }
            }
        }
        let paths = c
            .health_path
            .iter()
            .map(|p| ("health_path", p))
            .chain(c.endpoints.iter().map(|p| ("endpoints", p)))
            .chain(c.assets.iter().map(|p| ("assets", p)))
            .chain(
                c.detailed_health_path
                    .iter()
                    .map(|p| ("detailed_health_path", p)),
            );
        for (field, path) in paths {
            if !path.starts_with('/') || path.len() > 2_000 {
                return Err(format!(
                    "[{i}].{field}: '{path}' must be a path starting with /"
                ));
            }
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_with_defaults_and_a_catch_all() {
        let list = parse_list(
            r#"[{"service": "web", "endpoints": ["/api/items"], "assets": ["/app.js"], "detailed_health_path": "/health/detailed"},
                {"service": "*", "health_path": null}]"#,
        )
        .expect("valid");
        let web = for_service(&list, "web").expect("web");
        assert_eq!(
            web.plan(),
            vec![
                (DeployCheckKind::Health, "/health".to_string()),
                (DeployCheckKind::Endpoint, "/api/items".to_string()),
                (DeployCheckKind::Asset, "/app.js".to_string()),
                (DeployCheckKind::Database, "/health/detailed".to_string()),
            ]
        );
        let other = for_service(&list, "worker").expect("the catch-all");
        assert!(other.plan().is_empty());
        assert_eq!(for_service(&list[..1], "worker"), None);
    }

    #[test]
    fn mistakes_name_the_entry_and_field() {
        let cases = [
            (r#"{"service": "web"}"#, "expected a JSON list"),
            (r#"[{"service": ""}]"#, "[0].service"),
            (r#"[{"service": "a"}, {"service": "a"}]"#, "[1].service"),
            (
                r#"[{"service": "a", "endpoints": ["api"]}]"#,
                "[0].endpoints",
            ),
            (
                r#"[{"service": "a", "base_url": "ftp://x"}]"#,
                "[0].base_url",
            ),
            (r#"[{"service": "a", "colour": 1}]"#, "unknown field"),
        ];
        for (json, says) in cases {
            let err = parse_list(json).expect_err(json);
            assert!(err.contains(says), "{json}: {err}");
        }
    }
}
