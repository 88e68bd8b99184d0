//! Authentication and the resolvers of the root fields: whole Railway objects from the fake's
//! state, shaped to the selection by `schema::complete`.

use axum::http::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value as Json};

use super::graphql::TypeRef;
use super::logs::{self, Filter, StoredLine, Tags};
use super::schema::{self, locations_json, RequestError, RootField, BAD_USER_INPUT};
use super::{DeploymentRec, ServiceRec, Shared, State, TokenKind};

/// Who is calling, from the request headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A valid account token: sees everything.
    Account,
    /// A valid project token: sees its project and environment only.
    Project,
    /// A missing or wrong token, with the message Railway gives for it.
    Rejected(&'static str),
}

/// `Project-Access-Token` wins over `Authorization`; a project token sent as Bearer (or an
/// account token as `Project-Access-Token`) is a wrong token, as on Railway.
pub(crate) fn authenticate(headers: &HeaderMap, shared: &Shared) -> Caller {
    let expected = shared.options.token.as_str();
    if let Some(v) = headers.get("project-access-token") {
        return match (shared.options.token_kind, v.to_str()) {
            (TokenKind::Project, Ok(t)) if t.trim() == expected => Caller::Project,
            _ => Caller::Rejected("Project Token not found"),
        };
    }
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    match (shared.options.token_kind, bearer) {
        (TokenKind::Account, Some(t)) if t == expected => Caller::Account,
        _ => Caller::Rejected("Not Authorized"),
    }
}

/// A resolver's failure: a GraphQL error on an HTTP 200.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct FieldError {
    pub message: String,
    /// Authorization errors carry `traceId` at the top level (as observed on Railway); the
    /// others in `extensions` (the other place the wire notes say it turns up).
    pub auth: bool,
}

impl FieldError {
    fn auth(message: &str) -> FieldError {
        FieldError {
            message: message.to_string(),
            auth: true,
        }
    }

    fn not_found(what: &str) -> FieldError {
        FieldError {
            message: format!("{what} not found"),
            auth: false,
        }
    }
}

/// One `errors[]` element of an execution error, Railway style.
pub(crate) fn error_json(
    st: &mut State,
    message: &str,
    field: Option<&RootField>,
    trace_top_level: bool,
) -> Json {
    let trace_id = (st.rng.next_u64() >> 1).to_string();
    let mut e = json!({ "message": message, "extensions": { "code": "INTERNAL_SERVER_ERROR" } });
    if let Some(f) = field {
        e["locations"] = locations_json(&[f.pos]);
        e["path"] = json!([f.key]);
    } else {
        e["locations"] = json!([{ "line": 1, "column": 1 }]);
    }
    if trace_top_level {
        e["traceId"] = json!(trace_id);
    } else {
        e["extensions"]["traceId"] = json!(trace_id);
    }
    e
}

/// Argument checks that Railway answers with HTTP 400 `BAD_USER_INPUT` although the schema
/// accepts them: a `limit` above the maximum (or negative), an anchor date that isn't a date.
pub(crate) fn check_arguments(
    shared: &Shared,
    fields: &[RootField],
) -> Result<(), Vec<RequestError>> {
    let mut errors = Vec::new();
    let mut bad = |message: String, f: &RootField| {
        errors.push(RequestError {
            message,
            locations: vec![f.pos],
            code: BAD_USER_INPUT,
        });
    };
    for f in fields {
        let limits: &[&str] = match f.name.as_str() {
            "deploymentLogs" => &["limit"],
            "environmentLogs" => &["beforeLimit", "afterLimit"],
            "deployments" => &["first", "last"],
            _ => &[],
        };
        for arg in limits {
            let Some(n) = f.arguments.get(*arg).and_then(Json::as_i64) else {
                continue;
            };
            if n < 0 {
                bad(format!("`{arg}` must not be negative (got {n})"), f);
            } else if let Some(max) = shared.options.max_limit.filter(|m| n as u64 > *m as u64) {
                if f.name != "deployments" {
                    bad(format!("`{arg}` must be at most {max} (got {n})"), f);
                }
            }
        }
        if f.name == "environmentLogs" {
            for arg in ["anchorDate", "beforeDate", "afterDate"] {
                if let Some(s) = f.arguments.get(arg).and_then(Json::as_str) {
                    if parse_date(s).is_none() {
                        bad(format!("`{arg}` is not a valid date: {s:?}"), f);
                    }
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// A resolved root field: a value still to be shaped to the selection, or the window of a
/// deployment's log lines (positions in its stored lines), shaped and rendered line by line.
enum Resolved {
    Value(Json),
    Logs {
        deployment_id: String,
        window: Vec<usize>,
        tags: Tags,
    },
}

/// Runs the root fields of a query; the answer's JSON text: `{"data": …}`, or
/// `{"data": null, "errors": […]}` when any field failed (all Railway root fields are
/// non-null, so one error nulls `data`).
pub(crate) fn execute(
    shared: &Shared,
    st: &mut State,
    caller: Caller,
    fields: &[RootField],
) -> String {
    // Keys in the order a JSON object of the answer has them; a repeated key keeps its last value.
    let mut keys = Map::new();
    let mut rendered: std::collections::HashMap<&str, String> = Default::default();
    let mut errors = Vec::new();
    for f in fields {
        let resolved = if f.name == "deploymentLogs" {
            deployment_logs(shared, st, caller, f)
        } else {
            resolve_field(shared, st, caller, f).map(Resolved::Value)
        };
        match resolved {
            Ok(Resolved::Value(value)) => {
                let value = schema::schema().complete(&value, &f.ty, &f.children);
                rendered.insert(&f.key, value.to_string());
            }
            Ok(Resolved::Logs {
                deployment_id,
                window,
                tags,
            }) => {
                let text = render_logs(st, &deployment_id, &window, &tags, f);
                rendered.insert(&f.key, text);
            }
            Err(e) => errors.push(error_json(st, &e.message, Some(f), e.auth)),
        }
        keys.insert(f.key.clone(), Json::Null);
    }
    if !errors.is_empty() {
        return json!({ "errors": errors, "data": null }).to_string();
    }
    let mut out = String::from("{\"data\":{");
    for (i, key) in keys.keys().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Json::String(key.clone()).to_string());
        out.push(':');
        out.push_str(rendered.get(key.as_str()).map_or("null", String::as_str));
    }
    out.push_str("}}");
    out
}

/// `deploymentLogs`: the window of the deployment's lines the arguments select.
fn deployment_logs(
    shared: &Shared,
    st: &State,
    caller: Caller,
    f: &RootField,
) -> Result<Resolved, FieldError> {
    if let Caller::Rejected(message) = caller {
        return Err(FieldError::auth(message));
    }
    let (deployment_id, filter, limit) = deployment_logs_args(shared, st, f)?;
    let tags = tags_of(shared, st, &deployment_id);
    let lines = st
        .logs
        .get(&deployment_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let start = arg_str(f, "startDate").and_then(parse_date);
    let end = arg_str(f, "endDate").and_then(parse_date);
    // Lines are sorted by timestamp: look at the window only, so a query costs the same
    // whatever the size of the backlog behind it (a real log store has an index too).
    let from = start.map_or(0, |s| lines.partition_point(|l| l.line.timestamp < s));
    let to = end.map_or(lines.len(), |e| {
        lines.partition_point(|l| l.line.timestamp < e)
    });
    let matching = lines
        .get(from..to)
        .unwrap_or_default()
        .iter()
        .zip(from..)
        .filter(|(l, _)| filter.matches(&l.line, &tags));
    let window = logs::deployment_window(matching, start, end, limit)
        .into_iter()
        .map(|(_, i)| i)
        .collect();
    Ok(Resolved::Logs {
        deployment_id,
        window,
        tags,
    })
}

/// The JSON text of a window of log lines shaped to `f`'s selection. Each line's text is kept
/// (per selection): a backlog is read in overlapping pages, and the fake should cost little
/// next to the client it serves.
fn render_logs(
    st: &mut State,
    deployment_id: &str,
    window: &[usize],
    tags: &Tags,
    f: &RootField,
) -> String {
    let schema = schema::schema();
    let lines = st
        .logs
        .get(deployment_id)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let Some(item) = list_item(&f.ty) else {
        // Not a list (the schema says it is): shape the whole value at once.
        let all = Json::Array(
            window
                .iter()
                .filter_map(|&i| lines.get(i))
                .map(|l| logs::log_json(l, tags))
                .collect(),
        );
        return schema.complete(&all, &f.ty, &f.children).to_string();
    };
    let shape = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        format!("{:?}{:?}{:?}", f.ty, f.children, tags).hash(&mut h);
        h.finish()
    };
    let mut out = String::with_capacity(window.len() * 512 + 2);
    out.push('[');
    for (n, line) in window.iter().filter_map(|&i| lines.get(i)).enumerate() {
        if n > 0 {
            out.push(',');
        }
        let cached = st
            .rendered
            .get(&line.seq)
            .filter(|(s, _)| *s == shape)
            .map(|(_, text)| text.as_str());
        match cached {
            Some(text) => out.push_str(text),
            None => {
                let text = schema
                    .complete(&logs::log_json(line, tags), item, &f.children)
                    .to_string();
                out.push_str(&text);
                st.rendered.insert(line.seq, (shape, text));
            }
        }
    }
    out.push(']');
    out
}

/// The item type of a (non-null) list type.
fn list_item(ty: &TypeRef) -> Option<&TypeRef> {
    match ty {
        TypeRef::NonNull(inner) => list_item(inner),
        TypeRef::List(item) => Some(item),
        TypeRef::Named(_) => None,
    }
}

fn arg_str<'a>(f: &'a RootField, name: &str) -> Option<&'a str> {
    f.arguments.get(name).and_then(Json::as_str)
}

fn arg_usize(f: &RootField, name: &str) -> Option<usize> {
    f.arguments
        .get(name)
        .and_then(Json::as_u64)
        .map(|n| n as usize)
}

/// Lenient RFC 3339 (`DateTime` arguments were validated already; anchor dates are `String`).
pub(crate) fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `createdAt`-style timestamps: milliseconds and `Z`, as Railway (JavaScript) writes them.
fn iso_ms(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Default `limit` of a log query without one **[unverified]**: the CLI's 500.
pub(crate) const DEFAULT_LOG_LIMIT: usize = 500;

fn resolve_field(
    shared: &Shared,
    st: &mut State,
    caller: Caller,
    f: &RootField,
) -> Result<Json, FieldError> {
    if let Caller::Rejected(message) = caller {
        return Err(FieldError::auth(message));
    }
    let p = &shared.project;
    let scoped = caller == Caller::Project;
    match f.name.as_str() {
        "me" => {
            if scoped {
                return Err(FieldError::auth("Not Authorized"));
            }
            Ok(json!({
                "id": p.user_id, "name": "Signalbox Fake", "email": "fake@signalbox.invalid", "username": "signalbox-fake",
                "createdAt": iso_ms(&p.created_at), "lastLogin": iso_ms(&p.created_at), "isVerified": true,
            }))
        }
        "projectToken" => {
            if !scoped {
                return Err(FieldError::auth("Project Token not found"));
            }
            Ok(json!({
                "id": p.token_id, "name": "signalbox", "displayToken": "****",
                "projectId": p.id, "environmentId": p.environment_id, "createdAt": iso_ms(&p.created_at),
                "project": project_json(shared, st), "environment": environment_json(shared),
            }))
        }
        "project" => {
            if arg_str(f, "id") != Some(p.id.as_str()) {
                return Err(if scoped {
                    FieldError::auth("Not Authorized")
                } else {
                    FieldError::not_found("Project")
                });
            }
            Ok(project_json(shared, st))
        }
        "serviceInstance" => {
            if arg_str(f, "environmentId") != Some(p.environment_id.as_str()) {
                return Err(if scoped {
                    FieldError::auth("Not Authorized")
                } else {
                    FieldError::not_found("ServiceInstance")
                });
            }
            let service =
                arg_str(f, "serviceId").and_then(|id| st.services.iter().find(|s| s.id == id));
            let Some(service) = service else {
                return Err(FieldError::not_found("ServiceInstance"));
            };
            Ok(service_instance_json(shared, st, service))
        }
        "deployment" => {
            let d = arg_str(f, "id").and_then(|id| st.deployments.iter().find(|d| d.id == id));
            let Some(d) = d else {
                return Err(FieldError::not_found("Deployment"));
            };
            Ok(deployment_json(shared, st, d))
        }
        "deployments" => deployments(shared, st, scoped, f),
        "environmentLogs" => {
            if arg_str(f, "environmentId") != Some(p.environment_id.as_str()) {
                return Err(if scoped {
                    FieldError::auth("Not Authorized")
                } else {
                    FieldError::not_found("Environment")
                });
            }
            let filter = Filter::parse(arg_str(f, "filter").unwrap_or_default());
            let mut all: Vec<(&StoredLine, Tags)> = Vec::new();
            for (deployment_id, lines) in &st.logs {
                let tags = tags_of(shared, st, deployment_id);
                all.extend(
                    lines
                        .iter()
                        .filter(|l| filter.matches(&l.line, &tags))
                        .map(|l| (l, tags.clone())),
                );
            }
            // Stable: ties keep their arrival order across deployments too.
            all.sort_by_key(|(l, _)| (l.line.timestamp, l.seq));
            let after_limit = arg_usize(f, "afterLimit");
            let before_limit = arg_usize(f, "beforeLimit").unwrap_or(if after_limit.is_some() {
                0
            } else {
                default_limit(shared)
            });
            let window = logs::anchored_window(
                all,
                arg_str(f, "anchorDate").and_then(parse_date),
                arg_str(f, "beforeDate").and_then(parse_date),
                before_limit,
                arg_str(f, "afterDate").and_then(parse_date),
                after_limit.unwrap_or(0),
            );
            Ok(Json::Array(
                window
                    .into_iter()
                    .map(|(l, tags)| logs::log_json(l, &tags))
                    .collect(),
            ))
        }
        other => Err(FieldError {
            message: format!("Cannot query field \"{other}\""),
            auth: false,
        }),
    }
}

fn default_limit(shared: &Shared) -> usize {
    shared
        .options
        .max_limit
        .map_or(DEFAULT_LOG_LIMIT, |m| m.min(DEFAULT_LOG_LIMIT))
}

/// The deployment, filter and limit of a `deploymentLogs` query or subscription; the errors
/// Railway gives for an unknown deployment.
pub(crate) fn deployment_logs_args(
    shared: &Shared,
    st: &State,
    f: &RootField,
) -> Result<(String, Filter, usize), FieldError> {
    let id = arg_str(f, "deploymentId").unwrap_or_default();
    if !st.deployments.iter().any(|d| d.id == id) {
        return Err(FieldError::not_found("Deployment"));
    }
    let filter = Filter::parse(arg_str(f, "filter").unwrap_or_default());
    let limit = arg_usize(f, "limit").unwrap_or_else(|| default_limit(shared));
    Ok((id.to_string(), filter, limit))
}

/// The tags of lines logged by a deployment.
pub(crate) fn tags_of(shared: &Shared, st: &State, deployment_id: &str) -> Tags {
    Tags {
        project_id: shared.project.id.clone(),
        environment_id: shared.project.environment_id.clone(),
        service_id: st
            .deployments
            .iter()
            .find(|d| d.id == deployment_id)
            .map(|d| d.service_id.clone()),
        deployment_id: deployment_id.to_string(),
    }
}

fn page_info(edges: &[Json], has_next: bool, has_previous: bool) -> Json {
    json!({
        "hasNextPage": has_next,
        "hasPreviousPage": has_previous,
        "startCursor": edges.first().map(|e| e["cursor"].clone()),
        "endCursor": edges.last().map(|e| e["cursor"].clone()),
    })
}

fn connection(nodes: Vec<Json>) -> Json {
    let edges: Vec<Json> = nodes
        .into_iter()
        .map(|n| json!({ "cursor": n["id"].clone(), "node": n }))
        .collect();
    let info = page_info(&edges, false, false);
    json!({ "edges": edges, "pageInfo": info })
}

fn environment_json(shared: &Shared) -> Json {
    let p = &shared.project;
    json!({
        "__typename": "Environment", "id": p.environment_id, "name": p.environment_name, "projectId": p.id,
        "createdAt": iso_ms(&p.created_at), "updatedAt": iso_ms(&p.created_at), "isEphemeral": false, "canAccess": true,
    })
}

fn service_json(shared: &Shared, s: &ServiceRec) -> Json {
    json!({
        "__typename": "Service", "id": s.id, "name": s.name, "projectId": shared.project.id, "icon": null,
        "createdAt": iso_ms(&s.created_at), "updatedAt": iso_ms(&s.created_at),
    })
}

fn project_json(shared: &Shared, st: &State) -> Json {
    let p = &shared.project;
    json!({
        "__typename": "Project", "id": p.id, "name": p.name, "description": null,
        "createdAt": iso_ms(&p.created_at), "updatedAt": iso_ms(&p.created_at),
        "baseEnvironmentId": p.environment_id, "primaryEnvironmentId": p.environment_id,
        "services": connection(st.services.iter().map(|s| service_json(shared, s)).collect()),
        "environments": connection(vec![environment_json(shared)]),
    })
}

fn deployment_json(shared: &Shared, st: &State, d: &DeploymentRec) -> Json {
    let service = st.services.iter().find(|s| s.id == d.service_id);
    let slug = service.map_or_else(
        || "service".to_string(),
        |s| s.name.to_lowercase().replace(' ', "-"),
    );
    let (static_url, url) = match &d.url {
        Some(url) => (
            url.split_once("://")
                .map_or(url.as_str(), |(_, rest)| rest)
                .to_string(),
            url.clone(),
        ),
        None => {
            let host = format!(
                "{slug}-production-{}.up.railway.app",
                &d.id[..4.min(d.id.len())]
            );
            let url = format!("https://{host}");
            (host, url)
        }
    };
    json!({
        "__typename": "Deployment", "id": d.id, "status": d.status,
        "createdAt": iso_ms(&d.created_at), "updatedAt": iso_ms(&d.status_updated_at),
        "statusUpdatedAt": iso_ms(&d.status_updated_at),
        "projectId": shared.project.id, "environmentId": shared.project.environment_id, "serviceId": d.service_id,
        "staticUrl": static_url, "url": url,
        "meta": match &d.commit_hash {
            Some(sha) => json!({ "reason": "deploy", "commitHash": sha, "branch": "main" }),
            None => json!({ "reason": "deploy" }),
        },
        "snapshotId": null,
        "canRedeploy": true, "canRollback": false,
        "deploymentStopped": matches!(d.status.as_str(), "REMOVED" | "CRASHED" | "FAILED" | "SKIPPED"),
        "environment": environment_json(shared),
        "service": service.map(|s| service_json(shared, s)),
    })
}

fn service_instance_json(shared: &Shared, st: &State, s: &ServiceRec) -> Json {
    let mine: Vec<&DeploymentRec> = st
        .deployments
        .iter()
        .filter(|d| d.service_id == s.id)
        .collect();
    let latest = mine
        .iter()
        .max_by_key(|d| d.created_at)
        .map(|d| deployment_json(shared, st, d));
    let active: Vec<Json> = mine
        .iter()
        .filter(|d| d.status == "SUCCESS")
        .map(|d| deployment_json(shared, st, d))
        .collect();
    json!({
        "__typename": "ServiceInstance", "id": format!("{}-{}", s.id, shared.project.environment_id),
        "serviceId": s.id, "serviceName": s.name, "environmentId": shared.project.environment_id,
        "createdAt": iso_ms(&s.created_at), "updatedAt": iso_ms(&s.created_at),
        "latestDeployment": latest, "activeDeployments": active,
        "numReplicas": 1, "restartPolicyType": "ON_FAILURE", "restartPolicyMaxRetries": 10,
        "builder": "RAILPACK", "region": "us-west2", "service": service_json(shared, s),
    })
}

/// `deployments(input, first, after, last, before)`: a Relay connection in an order that is NOT
/// by creation time (Railway doesn't document one; clients must sort).
fn deployments(
    shared: &Shared,
    st: &State,
    scoped: bool,
    f: &RootField,
) -> Result<Json, FieldError> {
    let input = f.arguments.get("input").cloned().unwrap_or_default();
    let want = |key: &str| input.get(key).and_then(Json::as_str).map(str::to_string);
    let p = &shared.project;
    let out_of_scope = want("projectId").is_some_and(|id| id != p.id)
        || want("environmentId").is_some_and(|id| id != p.environment_id);
    if out_of_scope && scoped {
        return Err(FieldError::auth("Not Authorized"));
    }
    let statuses = |key: &str| -> Option<Vec<String>> {
        input.get("status")?.get(key)?.as_array().map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
    };
    let (only, except) = (statuses("in"), statuses("notIn"));
    let service = want("serviceId");
    let mut chosen: Vec<&DeploymentRec> = st
        .deployments
        .iter()
        .filter(|_| !out_of_scope)
        .filter(|d| service.as_ref().is_none_or(|s| &d.service_id == s))
        .filter(|d| only.as_ref().is_none_or(|v| v.contains(&d.status)))
        .filter(|d| except.as_ref().is_none_or(|v| !v.contains(&d.status)))
        .collect();
    // Random ids, so this order has nothing to do with creation time.
    chosen.sort_by(|a, b| a.id.cmp(&b.id));
    let mut from = 0;
    let mut to = chosen.len();
    if let Some(after) = arg_str(f, "after") {
        from = chosen
            .iter()
            .position(|d| d.id == after)
            .map_or(to, |i| i + 1);
    }
    if let Some(before) = arg_str(f, "before") {
        to = chosen
            .iter()
            .position(|d| d.id == before)
            .unwrap_or(to)
            .max(from);
    }
    if let Some(first) = arg_usize(f, "first") {
        to = to.min(from + first);
    }
    if let Some(last) = arg_usize(f, "last") {
        from = from.max(to.saturating_sub(last));
    }
    let edges: Vec<Json> = chosen[from..to]
        .iter()
        .map(|d| json!({ "cursor": d.id, "node": deployment_json(shared, st, d) }))
        .collect();
    let info = page_info(&edges, to < chosen.len(), from > 0);
    Ok(json!({ "edges": edges, "pageInfo": info }))
}
