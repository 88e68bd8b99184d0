//! The GraphQL documents Signalbox sends to Railway and the shapes of their answers.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::cursor::RawLine;

/// The fields of a `Log` Signalbox reads.
const LOG_FIELDS: &str =
    "timestamp message severity tags { deploymentInstanceId serviceId } attributes { key value }";

/// Logs of one deployment in a time window (start inclusive).
pub fn deployment_logs_query() -> String {
    format!(
        "query DeploymentLogs($deploymentId: String!, $limit: Int, $filter: String, $startDate: DateTime, $endDate: DateTime) {{ \
         deploymentLogs(deploymentId: $deploymentId, limit: $limit, filter: $filter, startDate: $startDate, endDate: $endDate) {{ {LOG_FIELDS} }} }}"
    )
}

/// The live logs of one deployment (recent lines are replayed first).
pub fn deployment_logs_subscription() -> String {
    format!(
        "subscription DeploymentLogs($deploymentId: String!, $filter: String, $limit: Int) {{ \
         deploymentLogs(deploymentId: $deploymentId, filter: $filter, limit: $limit) {{ {LOG_FIELDS} }} }}"
    )
}

/// A project's services and environments.
pub const PROJECT_QUERY: &str = "query Project($id: String!) { project(id: $id) { id name \
    services { edges { node { id name } } } environments { edges { node { id name } } } } }";

/// What a project token may see.
pub const PROJECT_TOKEN_QUERY: &str =
    "query ProjectToken { projectToken { projectId environmentId } }";

/// Recent deployments of one service in one environment.
pub const DEPLOYMENTS_QUERY: &str =
    "query Deployments($input: DeploymentListInput!, $first: Int) { \
    deployments(input: $input, first: $first) { edges { node { id status createdAt staticUrl url meta } } } }";

#[derive(Debug, Deserialize)]
pub struct LogsData {
    #[serde(rename = "deploymentLogs")]
    pub deployment_logs: Vec<Log>,
}

#[derive(Debug, Deserialize)]
pub struct Log {
    pub timestamp: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub tags: Option<Tags>,
    #[serde(default)]
    pub attributes: Vec<Attribute>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Tags {
    #[serde(rename = "deploymentInstanceId", default)]
    pub deployment_instance_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Attribute {
    pub key: String,
    pub value: String,
}

impl Log {
    /// The line, or `None` when its timestamp is unreadable (such a line cannot be placed).
    pub fn into_raw(self) -> Option<RawLine> {
        let timestamp = DateTime::parse_from_rfc3339(&self.timestamp)
            .ok()?
            .with_timezone(&Utc);
        Some(RawLine {
            timestamp,
            message: self.message,
            severity: self.severity,
            instance: self
                .tags
                .and_then(|t| t.deployment_instance_id)
                .unwrap_or_default(),
            attributes: self
                .attributes
                .into_iter()
                .map(|a| (a.key, unquote(&a.value)))
                .collect(),
        })
    }
}

/// Attribute values come as plain text or as JSON text (`"\"error\""`); both mean `error`.
pub fn unquote(value: &str) -> String {
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        if let Ok(serde_json::Value::String(s)) = serde_json::from_str(value) {
            return s;
        }
    }
    value.to_string()
}

/// Logs sorted oldest first (stable: the order of ties is kept); unreadable ones dropped.
pub fn into_lines(logs: Vec<Log>) -> (Vec<RawLine>, usize) {
    let total = logs.len();
    let mut lines: Vec<RawLine> = logs.into_iter().filter_map(Log::into_raw).collect();
    lines.sort_by_key(|l| l.timestamp);
    let dropped = total - lines.len();
    (lines, dropped)
}

#[derive(Debug, Deserialize)]
pub struct ProjectData {
    pub project: Project,
}

#[derive(Debug, Deserialize)]
pub struct Project {
    pub services: Connection<Named>,
    pub environments: Connection<Named>,
}

#[derive(Debug, Deserialize)]
pub struct Connection<T> {
    pub edges: Vec<Edge<T>>,
}

#[derive(Debug, Deserialize)]
pub struct Edge<T> {
    pub node: T,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub struct ProjectTokenData {
    #[serde(rename = "projectToken")]
    pub project_token: ProjectToken,
}

#[derive(Debug, Deserialize)]
pub struct ProjectToken {
    #[serde(rename = "projectId")]
    pub project_id: String,
    #[serde(rename = "environmentId")]
    pub environment_id: String,
}

#[derive(Debug, Deserialize)]
pub struct DeploymentsData {
    pub deployments: Connection<Deployment>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub status: String,
    #[serde(rename = "createdAt")]
    pub created_at: DateTime<Utc>,
    /// The service's Railway domain (no scheme), when it has one.
    #[serde(rename = "staticUrl", default)]
    pub static_url: Option<String>,
    /// Where the deployment is served (a full URL), when it is.
    #[serde(default)]
    pub url: Option<String>,
    /// What triggered it (JSON; `commitHash` for deploys from a repository).
    #[serde(default)]
    pub meta: Option<serde_json::Value>,
}

impl Deployment {
    /// The deployed commit, when `meta` names one.
    pub fn commit_sha(&self) -> Option<String> {
        self.meta
            .as_ref()?
            .get("commitHash")?
            .as_str()
            .filter(|sha| !sha.is_empty())
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_values_in_both_shapes() {
        for (value, want) in [
            ("error", "error"),
            ("\"error\"", "error"),
            ("42", "42"),
            ("\"", "\""),
            ("\"a\\\"b\"", "a\"b"),
        ] {
            assert_eq!(unquote(value), want, "{value}");
        }
    }

    #[test]
    fn the_commit_comes_from_meta_when_there_is_one() {
        for (meta, want) in [
            (
                r#""meta":{"commitHash":"5280bcd8","branch":"main"}"#,
                Some("5280bcd8"),
            ),
            (r#""meta":{"reason":"deploy"}"#, None),
            (r#""meta":{"commitHash":""}"#, None),
            (r#""meta":{"commitHash":7}"#, None),
            (r#""meta":null"#, None),
            (r#""url":null"#, None),
        ] {
            let d: Deployment = serde_json::from_str(&format!(
                r#"{{"id":"d","status":"SUCCESS","createdAt":"2026-11-27T10:00:00Z",{meta}}}"#
            ))
            .expect("valid deployment");
            assert_eq!(d.commit_sha().as_deref(), want, "{meta}");
        }
    }

    #[test]
    fn logs_become_sorted_lines() {
        let logs: Vec<Log> = serde_json::from_str(
            r#"[{"timestamp":"2026-11-27T10:01:02.123456789Z","message":"b","severity":"error","tags":{"deploymentInstanceId":"i1","serviceId":"s"},"attributes":[{"key":"level","value":"\"error\""}]},
                {"timestamp":"2026-11-27T10:01:01Z","message":"a","severity":null,"tags":null,"attributes":[]},
                {"timestamp":"yesterday","message":"c","attributes":[]}]"#,
        )
        .expect("valid logs");
        let (lines, dropped) = into_lines(logs);
        assert_eq!(dropped, 1);
        assert_eq!(lines[0].message, "a");
        assert_eq!(lines[1].instance, "i1");
        assert_eq!(lines[1].timestamp.timestamp_subsec_nanos(), 123_456_789);
        assert_eq!(
            lines[1].attributes,
            vec![("level".to_string(), "error".to_string())]
        );
    }
}
