//! Custom grouping rules, like Sentry's fingerprint rules but with regular expressions: an
//! error matching a rule is merged into a fixed group, or its group is split by a field.
//!
//! Rules come from the `GROUPING_RULES` setting (a JSON array); the first matching rule wins.

use regex::Regex;
use serde::Deserialize;

use crate::model::Event;
pub use crate::model::{RuleAction, RuleView, SplitField};

/// One rule as written in `GROUPING_RULES`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    #[serde(rename = "type")]
    error_type: Option<String>,
    message: Option<String>,
    path: Option<String>,
    service: Option<String>,
    fingerprint: Option<String>,
    split_by: Option<SplitField>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct GroupingRule {
    pub name: String,
    error_type: Option<Regex>,
    message: Option<Regex>,
    path: Option<Regex>,
    service: Option<Regex>,
    pub action: RuleAction,
}

impl GroupingRule {
    /// Whether the rule applies to `event` (every given pattern must match).
    pub fn matches(&self, event: &Event) -> bool {
        let error_type = event.exception.as_ref().map(|e| e.kind.as_str());
        let path = innermost_in_app_file(event);
        let checks = [
            (&self.error_type, error_type),
            (&self.message, Some(event.message.as_str())),
            (&self.path, path),
            (&self.service, event.service.as_deref()),
        ];
        checks.iter().all(|(pattern, value)| match pattern {
            None => true,
            Some(re) => value.is_some_and(|v| re.is_match(v)),
        })
    }

    /// The rule for the API.
    pub fn view(&self) -> RuleView {
        let matches = [
            ("type", &self.error_type),
            ("message", &self.message),
            ("path", &self.path),
            ("service", &self.service),
        ]
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|re| (k.to_string(), re.as_str().to_string()))
        })
        .collect();
        RuleView {
            name: self.name.clone(),
            matches,
            action: self.action.clone(),
        }
    }
}

/// The value of `field` in `event`, for a split.
pub fn split_value(event: &Event, field: SplitField) -> String {
    match field {
        SplitField::Service => event.service.clone(),
        SplitField::Environment => event.environment.clone(),
        SplitField::Deployment => event.deployment.clone(),
        SplitField::Path => innermost_in_app_file(event).map(str::to_string),
    }
    .unwrap_or_default()
}

fn innermost_in_app_file(event: &Event) -> Option<&str> {
    event
        .exception
        .as_ref()?
        .frames
        .iter()
        .rev()
        .find(|f| f.in_app)
        .and_then(|f| f.file.as_deref())
}

/// Parses and compiles `GROUPING_RULES`; the error names the rule and what is wrong.
pub fn parse_rules(json: &str) -> Result<Vec<GroupingRule>, String> {
    let specs: Vec<RuleSpec> =
        serde_json::from_str(json).map_err(|e| format!("not a JSON array of rules: {e}"))?;
    specs
        .into_iter()
        .map(|spec| {
            let name = spec.name.clone();
            let compile = |field: &str, pattern: &Option<String>| {
                pattern.as_deref().map(Regex::new).transpose().map_err(|e| {
                    format!(
                        "rule '{name}': {field}: invalid regex: {}",
                        e.to_string().lines().last().unwrap_or("")
                    )
                })
            };
            let action = match (spec.fingerprint, spec.split_by) {
                (Some(key), None) if !key.trim().is_empty() => RuleAction::Fingerprint(key),
                (None, Some(field)) => RuleAction::SplitBy(field),
                _ => {
                    return Err(format!(
                        "rule '{name}': needs exactly one of fingerprint or split_by"
                    ))
                }
            };
            let rule = GroupingRule {
                error_type: compile("type", &spec.error_type)?,
                message: compile("message", &spec.message)?,
                path: compile("path", &spec.path)?,
                service: compile("service", &spec.service)?,
                name: spec.name,
                action,
            };
            if rule.error_type.is_none()
                && rule.message.is_none()
                && rule.path.is_none()
                && rule.service.is_none()
            {
                return Err(format!(
                    "rule '{name}': needs at least one of type, message, path, service"
                ));
            }
            Ok(rule)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_rules_are_explained() {
        for (json, needle) in [
            ("{}", "JSON array"),
            (r#"[{"name":"a","message":"x"}]"#, "exactly one of"),
            (
                r#"[{"name":"a","message":"x","fingerprint":"k","split_by":"service"}]"#,
                "exactly one of",
            ),
            (r#"[{"name":"a","fingerprint":"k"}]"#, "at least one of"),
            (
                r#"[{"name":"a","message":"(","fingerprint":"k"}]"#,
                "rule 'a': message: invalid regex",
            ),
            (
                r#"[{"name":"a","message":"x","split_by":"colour"}]"#,
                "JSON array",
            ),
            (
                r#"[{"name":"a","mesage":"x","fingerprint":"k"}]"#,
                "JSON array",
            ),
        ] {
            let err = parse_rules(json).expect_err(json);
            assert!(err.contains(needle), "{json}: {err}");
        }
        assert_eq!(parse_rules("[]").map(|r| r.len()), Ok(0));
    }
}
