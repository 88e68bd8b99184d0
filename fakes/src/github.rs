//! Fake GitHub REST API (one repository, in memory); see `../shared/specs/github.md`.
//!
//! What Signalbox's fix generator and issue mirroring call, answered in the shapes octocrab
//! 0.54.9's strict models need (complete `Ref`, `Content`, `PullRequest`, `Issue`, `Label`
//! and `Author` objects, URLs that parse): refs (`GET /git/ref/heads/…`, `POST /git/refs` with
//! 422 "Reference already exists"), contents (`GET` with base64 split every 60 characters, 404
//! for a missing file; `PUT` with the blob `sha` required when updating, 409 on a stale one,
//! 403 for workflow files), the git data API (blobs, trees on a base tree, commits, a
//! fast-forward-only ref update: 422 "Update is not a fast forward"), pulls (list with the `owner:branch` head filter — a bare branch is
//! ignored, as GitHub does —, create with 422 "A pull request already exists", get with
//! `state`/`merged`), labels (created on first use) and issues.
//!
//! Every request needs `Authorization: Bearer <token>` (or `token <token>`) and a
//! `User-Agent`, and every answer has the `x-ratelimit-*` headers. Tests script failures with
//! [`FakeGitHub::fail_next`] (secondary rate limit: 403 + `retry-after`; primary: 403 with
//! `x-ratelimit-remaining: 0`; 502), merge or close pull requests, and read every request and
//! every write ([`FakeGitHub::writes`], [`FakeGitHub::written_paths`]).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The token the fake accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "ghp_fake000000000000000000000000000000";

/// A scripted answer to one request, in place of the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// 403 "You have exceeded a secondary rate limit" with `retry-after`.
    SecondaryRateLimit { retry_after_secs: u64 },
    /// 429 secondary rate limit with `retry-after`.
    SecondaryRateLimit429 { retry_after_secs: u64 },
    /// 403 "API rate limit exceeded", `x-ratelimit-remaining: 0`, reset in `reset_in_secs`.
    PrimaryRateLimit { reset_in_secs: u64 },
    /// 502 Bad Gateway.
    ServerError,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub body: Value,
    pub status: u16,
}

/// A pull request of the fake.
#[derive(Debug, Clone)]
pub struct Pull {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub head: String,
    pub base: String,
    pub draft: bool,
    pub state: String,
    pub merged: bool,
    pub labels: Vec<String>,
}

/// An issue of the fake.
#[derive(Debug, Clone)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub state: String,
    pub labels: Vec<String>,
}

#[derive(Default)]
struct Fake {
    token: String,
    owner: String,
    repo: String,
    default_branch: String,
    /// Branch → commit id.
    refs: BTreeMap<String, usize>,
    /// Commit id → the whole tree (small repositories only).
    commits: Vec<BTreeMap<String, Vec<u8>>>,
    /// Commit id → its parent (the first commit has none).
    parents: Vec<Option<usize>>,
    /// Blobs and trees made through the git data API, by sha.
    blobs: BTreeMap<String, Vec<u8>>,
    trees: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    pulls: Vec<Pull>,
    issues: Vec<Issue>,
    labels: Vec<String>,
    next_number: u64,
    failures: VecDeque<Failure>,
    requests: Vec<Request>,
}

/// A running fake; it stops when dropped.
pub struct FakeGitHub {
    addr: SocketAddr,
    shared: Arc<Mutex<Fake>>,
    server: JoinHandle<()>,
}

/// The sha of a whole tree (content-addressed like `sha_of`).
fn tree_sha(tree: &BTreeMap<String, Vec<u8>>) -> String {
    let mut bytes = Vec::new();
    for (path, data) in tree {
        bytes.extend_from_slice(path.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(sha_of(data).as_bytes());
    }
    sha_of(&bytes)
}

/// A 40-hex "sha" for `data` (not SHA-1, but stable and content-addressed).
fn sha_of(data: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut out = String::new();
    for salt in 0u8..3 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        data.hash(&mut h);
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(40);
    out
}

fn commit_sha(id: usize) -> String {
    sha_of(format!("commit {id}").as_bytes())
}

impl FakeGitHub {
    /// Starts a fake of `owner/repo` on a free loopback port with `files` on branch `main`.
    pub async fn start(
        owner: &str,
        repo: &str,
        files: BTreeMap<String, String>,
    ) -> std::io::Result<FakeGitHub> {
        FakeGitHub::start_on(0, DEFAULT_TOKEN, owner, repo, files).await
    }

    /// Starts a fake on `port` (0: any free one) accepting `token`.
    pub async fn start_on(
        port: u16,
        token: &str,
        owner: &str,
        repo: &str,
        files: BTreeMap<String, String>,
    ) -> std::io::Result<FakeGitHub> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let addr = listener.local_addr()?;
        let tree = files
            .into_iter()
            .map(|(k, v)| (k, v.into_bytes()))
            .collect();
        let mut refs = BTreeMap::new();
        refs.insert("main".to_string(), 0);
        let shared = Arc::new(Mutex::new(Fake {
            token: token.to_string(),
            owner: owner.to_string(),
            repo: repo.to_string(),
            default_branch: "main".into(),
            refs,
            commits: vec![tree],
            parents: vec![None],
            next_number: 1,
            ..Fake::default()
        }));
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "fake GitHub stopped");
            }
        });
        Ok(FakeGitHub {
            addr,
            shared,
            server,
        })
    }

    /// Base URL (`GITHUB_API_URL`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `owner/name` (`GITHUB_REPOSITORY`).
    pub fn repository(&self) -> String {
        let fake = self.lock();
        format!("{}/{}", fake.owner, fake.repo)
    }

    /// The token it accepts.
    pub fn token(&self) -> String {
        self.lock().token.clone()
    }

    /// The next `n` requests get `failure`.
    pub fn fail_next(&self, n: usize, failure: Failure) {
        self.lock().failures.extend(std::iter::repeat_n(failure, n));
    }

    /// Every request, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Every request that was not a read (`GET`), answered or refused.
    pub fn writes(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Repository paths of every file write attempted (`PUT /contents/…`), refused or not.
    pub fn written_paths(&self) -> Vec<String> {
        let mut paths = Vec::new();
        for r in self.writes() {
            if r.method == "PUT" {
                if let Some(rest) = r.path.split("/contents/").nth(1) {
                    paths.push(rest.split('?').next().unwrap_or(rest).to_string());
                }
            } else if r.path.ends_with("/git/trees") {
                for entry in r.body["tree"].as_array().into_iter().flatten() {
                    if let Some(p) = entry["path"].as_str() {
                        paths.push(p.to_string());
                    }
                }
            }
        }
        paths
    }

    /// Commits on `branch` since `base` (following first parents), newest first: their count.
    pub fn commits_between(&self, base: &str, branch: &str) -> usize {
        let fake = self.lock();
        let (Some(&stop), Some(&head)) = (fake.refs.get(base), fake.refs.get(branch)) else {
            return 0;
        };
        let mut n = 0;
        let mut at = Some(head);
        while let Some(c) = at {
            if c == stop {
                break;
            }
            n += 1;
            at = fake.parents.get(c).copied().flatten();
        }
        n
    }

    /// The pull requests.
    pub fn pulls(&self) -> Vec<Pull> {
        self.lock().pulls.clone()
    }

    /// The issues (pull requests excluded).
    pub fn issues(&self) -> Vec<Issue> {
        self.lock().issues.clone()
    }

    /// A file's text on `branch`.
    pub fn file(&self, branch: &str, path: &str) -> Option<String> {
        let fake = self.lock();
        let commit = *fake.refs.get(branch)?;
        let bytes = fake.commits.get(commit)?.get(path)?;
        Some(String::from_utf8_lossy(bytes).to_string())
    }

    /// The commit sha `branch` points at.
    pub fn head_sha(&self, branch: &str) -> Option<String> {
        self.lock().refs.get(branch).map(|&c| commit_sha(c))
    }

    /// Branch names.
    pub fn branches(&self) -> Vec<String> {
        self.lock().refs.keys().cloned().collect()
    }

    /// Merges pull request `number` (as someone on GitHub would).
    pub fn merge(&self, number: u64) {
        let mut fake = self.lock();
        if let Some(p) = fake.pulls.iter_mut().find(|p| p.number == number) {
            p.state = "closed".into();
            p.merged = true;
        }
    }

    /// Closes pull request `number` without merging it.
    pub fn close(&self, number: u64) {
        let mut fake = self.lock();
        if let Some(p) = fake.pulls.iter_mut().find(|p| p.number == number) {
            p.state = "closed".into();
        }
    }

    /// Runs until the process is stopped.
    pub async fn wait(self) {
        let _ = (&mut { self }.server).await;
    }

    fn lock(&self) -> MutexGuard<'_, Fake> {
        lock(&self.shared)
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(shared: &Mutex<Fake>) -> MutexGuard<'_, Fake> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads every file under `dir` (relative paths, `/`-separated), skipping unreadable ones.
pub fn files_from_dir(dir: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if let (Ok(text), Ok(rel)) =
                (std::fs::read_to_string(&path), path.strip_prefix(dir))
            {
                out.insert(rel.to_string_lossy().replace('\\', "/"), text);
            }
        }
    }
    Ok(out)
}

/// The demo services' source files (the paths the demo source's stack traces name, without
/// the container's `/app/` prefix), with the failing lines at the lines the traces give.
pub fn demo_files() -> BTreeMap<String, String> {
    [
        ("src/routes/cart.js", include_str!("github/demo/cart.js")),
        ("checkout/db.py", include_str!("github/demo/db.py")),
        ("checkout/orders.py", include_str!("github/demo/orders.py")),
        (
            "checkout/discounts.py",
            include_str!("github/demo/discounts.py"),
        ),
        (
            "internal/jobs/email.go",
            include_str!("github/demo/email.go"),
        ),
        ("src/session.rs", include_str!("github/demo/session.rs")),
        ("package-lock.json", "{\n  \"lockfileVersion\": 3\n}\n"),
        (".github/workflows/ci.yml", "name: ci\non: [push]\n"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

// ------------------------------------------------------------------------------------------
// JSON shapes.

fn api(fake: &Fake) -> String {
    format!("https://api.github.com/repos/{}/{}", fake.owner, fake.repo)
}

fn html(fake: &Fake) -> String {
    format!("https://github.com/{}/{}", fake.owner, fake.repo)
}

fn user_json(login: &str) -> Value {
    let u = format!("https://api.github.com/users/{login}");
    json!({
        "login": login, "id": 1, "node_id": "MDQ6VXNlcjE=",
        "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4", "gravatar_id": "",
        "url": u, "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{u}/followers"), "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"), "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"), "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"), "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"), "type": "User", "site_admin": false
    })
}

fn label_json(fake: &Fake, name: &str) -> Value {
    let id = fake.labels.iter().position(|l| l == name).unwrap_or(0) as u64 + 1;
    json!({"id": id, "node_id": format!("LA_{id}"), "url": format!("{}/labels/{}", api(fake), name.replace(' ', "%20")),
           "name": name, "description": null, "color": "ededed", "default": false})
}

fn ref_json(fake: &Fake, branch: &str, commit: usize) -> Value {
    let sha = commit_sha(commit);
    json!({"ref": format!("refs/heads/{branch}"), "node_id": format!("REF_{commit}"),
           "url": format!("{}/git/refs/heads/{branch}", api(fake)),
           "object": {"type": "commit", "sha": sha, "url": format!("{}/git/commits/{sha}", api(fake))}})
}

fn content_json(fake: &Fake, path: &str, data: &[u8], branch: &str, with_content: bool) -> Value {
    let sha = sha_of(data);
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let wrapped: Vec<String> = encoded
        .as_bytes()
        .chunks(60)
        .map(|c| String::from_utf8_lossy(c).to_string())
        .collect();
    let url = format!("{}/contents/{path}?ref={branch}", api(fake));
    let html_url = format!("{}/blob/{branch}/{path}", html(fake));
    let git_url = format!("{}/git/blobs/{sha}", api(fake));
    let mut v = json!({
        "type": "file", "encoding": "base64", "size": data.len(),
        "name": path.rsplit('/').next().unwrap_or(path), "path": path, "sha": sha,
        "url": url, "git_url": git_url, "html_url": html_url,
        "download_url": format!("https://raw.githubusercontent.com/{}/{}/{branch}/{path}", fake.owner, fake.repo),
        "_links": {"self": url, "git": git_url, "html": html_url}
    });
    if with_content {
        v["content"] = json!(format!("{}\n", wrapped.join("\n")));
    }
    v
}

fn pull_json(fake: &Fake, p: &Pull) -> Value {
    let url = format!("{}/pulls/{}", api(fake), p.number);
    let html_url = format!("{}/pull/{}", html(fake), p.number);
    let head_sha = fake
        .refs
        .get(&p.head)
        .map_or_else(|| commit_sha(0), |c| commit_sha(*c));
    let base_sha = fake
        .refs
        .get(&p.base)
        .map_or_else(|| commit_sha(0), |c| commit_sha(*c));
    let labels: Vec<Value> = p.labels.iter().map(|l| label_json(fake, l)).collect();
    json!({
        "id": 1000 + p.number, "node_id": format!("PR_{}", p.number), "number": p.number,
        "url": url, "html_url": html_url, "diff_url": format!("{html_url}.diff"), "patch_url": format!("{html_url}.patch"),
        "issue_url": format!("{}/issues/{}", api(fake), p.number),
        "commits_url": format!("{url}/commits"), "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{}/pulls/comments{{/number}}", api(fake)),
        "comments_url": format!("{}/issues/{}/comments", api(fake), p.number),
        "statuses_url": format!("{}/statuses/{head_sha}", api(fake)),
        "state": p.state, "locked": false, "title": p.title, "body": p.body, "draft": p.draft,
        "user": user_json("signalbox-bot"), "labels": labels,
        "created_at": "2026-11-27T10:00:00Z", "updated_at": "2026-11-27T10:00:00Z",
        "closed_at": if p.state == "closed" { json!("2026-11-27T11:00:00Z") } else { Value::Null },
        "merged_at": if p.merged { json!("2026-11-27T11:00:00Z") } else { Value::Null },
        "merged": p.merged, "mergeable": null, "maintainer_can_modify": false,
        "head": {"label": format!("{}:{}", fake.owner, p.head), "ref": p.head, "sha": head_sha, "user": user_json(&fake.owner)},
        "base": {"label": format!("{}:{}", fake.owner, p.base), "ref": p.base, "sha": base_sha, "user": user_json(&fake.owner)},
    })
}

fn issue_json(fake: &Fake, i: &Issue) -> Value {
    let url = format!("{}/issues/{}", api(fake), i.number);
    let labels: Vec<Value> = i.labels.iter().map(|l| label_json(fake, l)).collect();
    json!({
        "id": 2000 + i.number, "node_id": format!("I_{}", i.number), "number": i.number,
        "url": url, "repository_url": api(fake), "labels_url": format!("{url}/labels{{/name}}"),
        "comments_url": format!("{url}/comments"), "events_url": format!("{url}/events"),
        "html_url": format!("{}/issues/{}", html(fake), i.number),
        "state": i.state, "title": i.title, "body": i.body, "user": user_json("signalbox-bot"),
        "labels": labels, "assignees": [], "assignee": null, "locked": false, "comments": 0,
        "created_at": "2026-11-27T10:00:00Z", "updated_at": "2026-11-27T10:00:00Z", "closed_at": null,
        "author_association": "OWNER"
    })
}

// ------------------------------------------------------------------------------------------
// Requests.

fn error(status: u16, message: &str) -> (u16, Value) {
    (
        status,
        json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
    )
}

async fn handle(
    State(shared): State<Arc<Mutex<Fake>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path_and_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.to_string());
    let json_body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut fake = lock(&shared);
    fake.requests.push(Request {
        method: method.to_string(),
        path: path_and_query.clone(),
        body: json_body.clone(),
        status: 0,
    });
    let mut extra: Vec<(&'static str, String)> = Vec::new();
    let mut remaining = 4999u64.saturating_sub(fake.requests.len() as u64);
    let (status, value) = match authorize(&fake, &headers) {
        Err(answer) => answer,
        Ok(()) => match fake.failures.pop_front() {
            Some(Failure::SecondaryRateLimit { retry_after_secs }) => {
                extra.push(("retry-after", retry_after_secs.to_string()));
                error(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
            }
            Some(Failure::SecondaryRateLimit429 { retry_after_secs }) => {
                extra.push(("retry-after", retry_after_secs.to_string()));
                error(429, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.")
            }
            Some(Failure::PrimaryRateLimit { reset_in_secs }) => {
                remaining = 0;
                extra.push((
                    "x-ratelimit-reset",
                    (chrono::Utc::now().timestamp() as u64 + reset_in_secs).to_string(),
                ));
                error(403, "API rate limit exceeded for user ID 1.")
            }
            Some(Failure::ServerError) => error(502, "Server Error"),
            None => route(
                &mut fake,
                &method,
                uri.path(),
                uri.query().unwrap_or(""),
                &json_body,
            ),
        },
    };
    if let Some(r) = fake.requests.last_mut() {
        r.status = status;
    }
    drop(fake);
    let mut response = if status == 204 {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(value),
        )
            .into_response()
    };
    let reset = (chrono::Utc::now().timestamp() + 3600).to_string();
    let mut all = vec![
        ("x-ratelimit-limit", "5000".to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", (5000 - remaining).to_string()),
        ("x-ratelimit-resource", "core".to_string()),
        ("x-github-request-id", "FAKE:0001".to_string()),
    ];
    if !extra.iter().any(|(k, _)| *k == "x-ratelimit-reset") {
        all.push(("x-ratelimit-reset", reset));
    }
    all.extend(extra);
    for (name, value) in all {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn authorize(fake: &Fake, headers: &HeaderMap) -> Result<(), (u16, Value)> {
    if headers.get("user-agent").is_none() {
        return Err(error(403, "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required)."));
    }
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "))
        .unwrap_or("");
    if token != fake.token {
        return Err(error(401, "Bad credentials"));
    }
    Ok(())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.replace("%3A", ":").replace("%2F", "/"))
    })
}

fn route(fake: &mut Fake, method: &Method, path: &str, query: &str, body: &Value) -> (u16, Value) {
    let prefix = format!("/repos/{}/{}", fake.owner, fake.repo);
    let Some(rest) = path.strip_prefix(&prefix) else {
        return error(404, "Not Found");
    };
    let rest = rest.to_string();
    match (method.as_str(), rest.as_str()) {
        ("GET", "") => (
            200,
            json!({"id": 1, "name": fake.repo, "full_name": format!("{}/{}", fake.owner, fake.repo),
                   "default_branch": fake.default_branch, "private": true, "url": api(fake), "html_url": html(fake)}),
        ),
        ("GET", r) if r.starts_with("/git/ref/heads/") => {
            let branch = &r["/git/ref/heads/".len()..];
            match fake.refs.get(branch) {
                Some(&c) => (200, ref_json(fake, branch, c)),
                None => error(404, "Not Found"),
            }
        }
        ("POST", "/git/refs") => create_ref(fake, body),
        ("PATCH", r) if r.starts_with("/git/refs/heads/") => {
            update_ref(fake, &r["/git/refs/heads/".len()..], body)
        }
        ("POST", "/git/blobs") => {
            let data = match (body["content"].as_str(), body["encoding"].as_str()) {
                (Some(c), Some("base64")) => {
                    match base64::engine::general_purpose::STANDARD.decode(c.replace('\n', "")) {
                        Ok(d) => d,
                        Err(_) => return error(422, "content is not valid Base64"),
                    }
                }
                (Some(c), _) => c.as_bytes().to_vec(),
                (None, _) => return error(422, "Invalid request.\n\n\"content\" wasn't supplied."),
            };
            let sha = sha_of(&data);
            fake.blobs.insert(sha.clone(), data);
            (
                201,
                json!({"sha": sha, "url": format!("{}/git/blobs/{sha}", api(fake))}),
            )
        }
        ("POST", "/git/trees") => create_tree(fake, body),
        ("POST", "/git/commits") => create_commit(fake, body),
        ("GET", r) if r.starts_with("/git/commits/") => {
            let sha = &r["/git/commits/".len()..];
            match (0..fake.commits.len()).find(|&c| commit_sha(c) == sha) {
                Some(c) => (200, commit_json(fake, c, "")),
                None => error(404, "Not Found"),
            }
        }
        ("GET", r) if r.starts_with("/contents/") => {
            let file = &r["/contents/".len()..];
            let branch = query_param(query, "ref").unwrap_or_else(|| fake.default_branch.clone());
            // A branch name or a commit sha.
            let commit = fake
                .refs
                .get(&branch)
                .copied()
                .or_else(|| (0..fake.commits.len()).find(|&c| commit_sha(c) == branch));
            let Some(commit) = commit else {
                return error(404, &format!("No commit found for the ref {branch}"));
            };
            match fake.commits[commit].get(file) {
                Some(data) => (200, content_json(fake, file, data, &branch, true)),
                None => error(404, "Not Found"),
            }
        }
        ("PUT", r) if r.starts_with("/contents/") => put_file(fake, &r["/contents/".len()..], body),
        ("GET", "/pulls") => {
            let state = query_param(query, "state").unwrap_or_else(|| "open".into());
            // GitHub ignores a head filter without `owner:`.
            let head = query_param(query, "head").and_then(|h| {
                let (owner, branch) = h.split_once(':')?;
                Some((owner.to_string(), branch.to_string()))
            });
            let list: Vec<Value> = fake
                .pulls
                .iter()
                .filter(|p| state == "all" || p.state == state)
                .filter(|p| {
                    head.as_ref()
                        .is_none_or(|(o, b)| *o == fake.owner && *b == p.head)
                })
                .map(|p| pull_json(fake, p))
                .collect();
            (200, Value::Array(list))
        }
        ("POST", "/pulls") => create_pull(fake, body),
        ("GET", r) if r.starts_with("/pulls/") => {
            let tail = &r["/pulls/".len()..];
            let (number, merge) = match tail.strip_suffix("/merge") {
                Some(n) => (n, true),
                None => (tail, false),
            };
            let pull = number
                .parse::<u64>()
                .ok()
                .and_then(|n| fake.pulls.iter().find(|p| p.number == n));
            match (pull, merge) {
                (Some(p), false) => (200, pull_json(fake, p)),
                (Some(p), true) if p.merged => (204, Value::Null),
                _ => error(404, "Not Found"),
            }
        }
        ("POST", r) if r.starts_with("/issues/") && r.ends_with("/labels") => {
            let number = r["/issues/".len()..r.len() - "/labels".len()]
                .parse::<u64>()
                .ok();
            let Some(names) = body["labels"].as_array() else {
                return error(
                    422,
                    "Invalid request.\n\nFor 'links/0/schema', nil is not an array.",
                );
            };
            let names: Vec<String> = names
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            for n in &names {
                if !fake.labels.contains(n) {
                    fake.labels.push(n.clone());
                }
            }
            let target = number.and_then(|n| {
                if let Some(p) = fake.pulls.iter_mut().find(|p| p.number == n) {
                    Some(&mut p.labels)
                } else {
                    fake.issues
                        .iter_mut()
                        .find(|i| i.number == n)
                        .map(|i| &mut i.labels)
                }
            });
            let Some(labels) = target else {
                return error(404, "Not Found");
            };
            for n in names {
                if !labels.contains(&n) {
                    labels.push(n);
                }
            }
            let labels = labels.clone();
            (
                200,
                Value::Array(labels.iter().map(|l| label_json(fake, l)).collect()),
            )
        }
        ("POST", "/issues") => {
            let Some(title) = body["title"].as_str().filter(|t| !t.is_empty()) else {
                return (
                    422,
                    json!({"message": "Validation Failed", "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}], "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue"}),
                );
            };
            let labels: Vec<String> = body["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            for n in &labels {
                if !fake.labels.contains(n) {
                    fake.labels.push(n.clone());
                }
            }
            let issue = Issue {
                number: fake.next_number,
                title: title.to_string(),
                body: body["body"].as_str().unwrap_or("").to_string(),
                state: "open".into(),
                labels,
            };
            fake.next_number += 1;
            let v = issue_json(fake, &issue);
            fake.issues.push(issue);
            (201, v)
        }
        ("GET", "/issues") => {
            let state = query_param(query, "state").unwrap_or_else(|| "open".into());
            let label = query_param(query, "labels");
            let list: Vec<Value> = fake
                .issues
                .iter()
                .filter(|i| state == "all" || i.state == state)
                .filter(|i| label.as_ref().is_none_or(|l| i.labels.contains(l)))
                .map(|i| issue_json(fake, i))
                .collect();
            (200, Value::Array(list))
        }
        _ => error(404, "Not Found"),
    }
}

fn commit_json(fake: &Fake, c: usize, message: &str) -> Value {
    let sha = commit_sha(c);
    let tree = tree_sha(&fake.commits[c]);
    let parents: Vec<Value> = fake.parents[c]
        .iter()
        .map(|p| json!({"sha": commit_sha(*p), "url": format!("{}/git/commits/{}", api(fake), commit_sha(*p))}))
        .collect();
    json!({"sha": sha, "node_id": format!("C_{c}"), "url": format!("{}/git/commits/{sha}", api(fake)),
           "html_url": format!("{}/commit/{sha}", html(fake)), "message": message,
           "author": {"name": "signalbox", "email": "signalbox@localhost", "date": "2026-11-27T10:00:00Z"},
           "committer": {"name": "signalbox", "email": "signalbox@localhost", "date": "2026-11-27T10:00:00Z"},
           "tree": {"sha": tree, "url": format!("{}/git/trees/{tree}", api(fake))}, "parents": parents})
}

fn tree_of(fake: &Fake, sha: &str) -> Option<BTreeMap<String, Vec<u8>>> {
    fake.trees
        .get(sha)
        .cloned()
        .or_else(|| fake.commits.iter().find(|t| tree_sha(t) == sha).cloned())
}

fn create_tree(fake: &mut Fake, body: &Value) -> (u16, Value) {
    let mut tree = match body["base_tree"].as_str() {
        Some(base) => match tree_of(fake, base) {
            Some(t) => t,
            None => return error(422, "Invalid tree info"),
        },
        None => BTreeMap::new(),
    };
    for entry in body["tree"].as_array().into_iter().flatten() {
        let Some(path) = entry["path"].as_str() else {
            return error(422, "Invalid tree info");
        };
        if path.starts_with(".github/workflows/") {
            return error(403, &format!("refusing to allow a Personal Access Token to create or update workflow `{path}` without `workflow` scope"));
        }
        match (&entry["sha"], entry["content"].as_str()) {
            (Value::Null, None) if entry.get("sha").is_some() => {
                tree.remove(path);
            }
            (Value::String(sha), _) => match fake.blobs.get(sha) {
                Some(data) => {
                    tree.insert(path.to_string(), data.clone());
                }
                None => return error(422, &format!("tree.sha {sha} is not a valid blob")),
            },
            (_, Some(content)) => {
                tree.insert(path.to_string(), content.as_bytes().to_vec());
            }
            _ => return error(422, "Invalid tree info"),
        }
    }
    let sha = tree_sha(&tree);
    fake.trees.insert(sha.clone(), tree);
    (
        201,
        json!({"sha": sha, "url": format!("{}/git/trees/{sha}", api(fake)), "tree": [], "truncated": false}),
    )
}

fn create_commit(fake: &mut Fake, body: &Value) -> (u16, Value) {
    let (Some(message), Some(tree)) = (body["message"].as_str(), body["tree"].as_str()) else {
        return error(
            422,
            "Invalid request.\n\n\"message\", \"tree\" weren't supplied.",
        );
    };
    let Some(contents) = tree_of(fake, tree) else {
        return error(422, "Tree SHA does not exist");
    };
    let parent = match body["parents"]
        .as_array()
        .and_then(|p| p.first())
        .and_then(|p| p.as_str())
    {
        Some(p) => match (0..fake.commits.len()).find(|&c| commit_sha(c) == p) {
            Some(c) => Some(c),
            None => return error(422, "Parent SHA does not exist or is not a commit object"),
        },
        None => None,
    };
    fake.commits.push(contents);
    fake.parents.push(parent);
    let c = fake.commits.len() - 1;
    (201, commit_json(fake, c, message))
}

fn update_ref(fake: &mut Fake, branch: &str, body: &Value) -> (u16, Value) {
    let Some(sha) = body["sha"].as_str() else {
        return error(422, "Invalid request.\n\n\"sha\" wasn't supplied.");
    };
    let Some(&current) = fake.refs.get(branch) else {
        return error(422, "Reference does not exist");
    };
    let Some(new) = (0..fake.commits.len()).find(|&c| commit_sha(c) == sha) else {
        return error(422, "Object does not exist");
    };
    let force = body["force"].as_bool().unwrap_or(false);
    let mut at = Some(new);
    let mut fast_forward = false;
    while let Some(c) = at {
        if c == current {
            fast_forward = true;
            break;
        }
        at = fake.parents.get(c).copied().flatten();
    }
    if !fast_forward && !force {
        return error(422, "Update is not a fast forward");
    }
    fake.refs.insert(branch.to_string(), new);
    (200, ref_json(fake, branch, new))
}

fn create_ref(fake: &mut Fake, body: &Value) -> (u16, Value) {
    let (Some(name), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
        return error(
            422,
            "Invalid request.\n\n\"ref\", \"sha\" weren't supplied.",
        );
    };
    let Some(branch) = name.strip_prefix("refs/heads/") else {
        return error(
            422,
            "Reference name must start with 'refs/' and have at least two slashes.",
        );
    };
    if fake.refs.contains_key(branch) {
        return error(422, "Reference already exists");
    }
    let Some(commit) = (0..fake.commits.len()).find(|&c| commit_sha(c) == sha) else {
        return error(422, "Object does not exist");
    };
    fake.refs.insert(branch.to_string(), commit);
    (201, ref_json(fake, branch, commit))
}

fn put_file(fake: &mut Fake, path: &str, body: &Value) -> (u16, Value) {
    if path.starts_with(".github/workflows/") {
        return error(403, &format!("refusing to allow a Personal Access Token to create or update workflow `{path}` without `workflow` scope"));
    }
    let (Some(message), Some(content)) = (body["message"].as_str(), body["content"].as_str())
    else {
        return (
            422,
            json!({"message": "Invalid request.\n\n\"message\", \"content\" weren't supplied.", "documentation_url": "https://docs.github.com/rest/repos/contents#create-or-update-file-contents"}),
        );
    };
    let Ok(data) = base64::engine::general_purpose::STANDARD.decode(content.replace('\n', ""))
    else {
        return error(422, "content is not valid Base64");
    };
    let branch = body["branch"]
        .as_str()
        .unwrap_or(&fake.default_branch)
        .to_string();
    let Some(&commit) = fake.refs.get(&branch) else {
        return error(404, &format!("Branch {branch} not found"));
    };
    let existing = fake.commits[commit].get(path).map(|d| sha_of(d));
    match (&existing, body["sha"].as_str()) {
        (Some(_), None) => return error(422, "Invalid request.\n\n\"sha\" wasn't supplied."),
        (Some(old), Some(given)) if old != given => {
            return error(409, &format!("{path} does not match {given}"))
        }
        _ => {}
    }
    let _ = message;
    let mut tree = fake.commits[commit].clone();
    tree.insert(path.to_string(), data.clone());
    fake.commits.push(tree);
    fake.parents.push(Some(commit));
    let new_commit = fake.commits.len() - 1;
    fake.refs.insert(branch.clone(), new_commit);
    let sha = commit_sha(new_commit);
    let status = if existing.is_some() { 200 } else { 201 };
    (
        status,
        json!({
            "content": content_json(fake, path, &data, &branch, false),
            "commit": {"sha": sha, "node_id": format!("C_{new_commit}"), "url": format!("{}/git/commits/{sha}", api(fake)),
                       "html_url": format!("{}/commit/{sha}", html(fake)),
                       "author": {"name": body["author"]["name"].as_str().unwrap_or("signalbox"), "email": body["author"]["email"].as_str().unwrap_or("signalbox@localhost"), "date": "2026-11-27T10:00:00Z"},
                       "committer": {"name": body["committer"]["name"].as_str().unwrap_or("signalbox"), "email": body["committer"]["email"].as_str().unwrap_or("signalbox@localhost"), "date": "2026-11-27T10:00:00Z"},
                       "message": message, "tree": {"sha": sha_of(sha.as_bytes()), "url": format!("{}/git/trees/x", api(fake))}, "parents": []}
        }),
    )
}

fn create_pull(fake: &mut Fake, body: &Value) -> (u16, Value) {
    let (Some(title), Some(head), Some(base)) = (
        body["title"].as_str(),
        body["head"].as_str(),
        body["base"].as_str(),
    ) else {
        return (
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "missing_field", "field": "head"}], "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}),
        );
    };
    let head = head.split_once(':').map_or(head, |(_, b)| b).to_string();
    let validation = |message: String| {
        (
            422,
            json!({"message": "Validation Failed", "errors": [{"resource": "PullRequest", "code": "custom", "message": message}], "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request"}),
        )
    };
    let (Some(&h), Some(&b)) = (fake.refs.get(&head), fake.refs.get(base)) else {
        return validation(format!("head: {head} or base: {base} is invalid"));
    };
    if fake
        .pulls
        .iter()
        .any(|p| p.head == head && p.state == "open")
    {
        return validation(format!(
            "A pull request already exists for {}:{head}.",
            fake.owner
        ));
    }
    if fake.commits[h] == fake.commits[b] {
        return validation(format!("No commits between {base} and {head}"));
    }
    let pull = Pull {
        number: fake.next_number,
        title: title.to_string(),
        body: body["body"].as_str().unwrap_or("").to_string(),
        head,
        base: base.to_string(),
        draft: body["draft"].as_bool().unwrap_or(false),
        state: "open".into(),
        merged: false,
        labels: Vec::new(),
    };
    fake.next_number += 1;
    let v = pull_json(fake, &pull);
    fake.pulls.push(pull);
    (201, v)
}

/// Runs a fake seeded with `files` until the process is stopped (`signalbox-fake github`).
pub async fn run(
    port: u16,
    token: &str,
    repository: &str,
    files: BTreeMap<String, String>,
) -> std::io::Result<()> {
    let (owner, repo) = repository.split_once('/').unwrap_or(("acme", "shop"));
    let count = files.len();
    let fake = FakeGitHub::start_on(port, token, owner, repo, files).await?;
    println!(
        "fake GitHub API on {} ({owner}/{repo}, {count} files on main)",
        fake.url()
    );
    println!(
        "  GITHUB_API_URL={} GITHUB_TOKEN={token} GITHUB_REPOSITORY={owner}/{repo}",
        fake.url()
    );
    fake.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn behaves_like_the_rest_api() {
        let fake = FakeGitHub::start("acme", "shop", demo_files())
            .await
            .expect("starts");
        let client = reqwest::Client::new();
        let call = |method: reqwest::Method, path: &str, body: Option<Value>, token: &str| {
            let mut r = client
                .request(method, format!("{}/repos/acme/shop{path}", fake.url()))
                .header("user-agent", "test")
                .bearer_auth(token);
            if let Some(b) = body {
                r = r.json(&b);
            }
            async move {
                let r = r.send().await.expect("sent");
                let status = r.status().as_u16();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap_or("").to_string());
                (
                    status,
                    retry,
                    r.json::<Value>().await.unwrap_or(Value::Null),
                )
            }
        };
        let (s, _, v) = call(
            reqwest::Method::GET,
            "/git/ref/heads/main",
            None,
            DEFAULT_TOKEN,
        )
        .await;
        assert_eq!(s, 200);
        let sha = v["object"]["sha"].as_str().expect("sha").to_string();
        assert_eq!(
            call(reqwest::Method::GET, "/git/ref/heads/main", None, "bad")
                .await
                .0,
            401
        );
        let new_ref = json!({"ref": "refs/heads/fix", "sha": sha});
        assert_eq!(
            call(
                reqwest::Method::POST,
                "/git/refs",
                Some(new_ref.clone()),
                DEFAULT_TOKEN
            )
            .await
            .0,
            201
        );
        let (s, _, v) = call(
            reqwest::Method::POST,
            "/git/refs",
            Some(new_ref),
            DEFAULT_TOKEN,
        )
        .await;
        assert_eq!(
            (s, v["message"].as_str()),
            (422, Some("Reference already exists"))
        );
        assert_eq!(
            call(
                reqwest::Method::GET,
                "/contents/nope.txt?ref=fix",
                None,
                DEFAULT_TOKEN
            )
            .await
            .0,
            404
        );
        let (s, _, v) = call(
            reqwest::Method::GET,
            "/contents/checkout/db.py?ref=fix",
            None,
            DEFAULT_TOKEN,
        )
        .await;
        assert_eq!(s, 200);
        let blob = v["sha"].as_str().expect("sha").to_string();
        let put = json!({"message": "fix", "content": base64::engine::general_purpose::STANDARD.encode("x = 1\n"), "branch": "fix"});
        assert_eq!(
            call(
                reqwest::Method::PUT,
                "/contents/checkout/db.py",
                Some(put.clone()),
                DEFAULT_TOKEN
            )
            .await
            .0,
            422
        );
        let mut put_sha = put.clone();
        put_sha["sha"] = json!(blob);
        assert_eq!(
            call(
                reqwest::Method::PUT,
                "/contents/checkout/db.py",
                Some(put_sha),
                DEFAULT_TOKEN
            )
            .await
            .0,
            200
        );
        assert_eq!(
            fake.file("fix", "checkout/db.py").as_deref(),
            Some("x = 1\n")
        );
        let pr = json!({"title": "t", "head": "fix", "base": "main", "body": "b", "draft": true});
        let (s, _, v) = call(
            reqwest::Method::POST,
            "/pulls",
            Some(pr.clone()),
            DEFAULT_TOKEN,
        )
        .await;
        assert_eq!((s, v["draft"].as_bool()), (201, Some(true)));
        let (s, _, v) = call(reqwest::Method::POST, "/pulls", Some(pr), DEFAULT_TOKEN).await;
        assert_eq!(s, 422);
        assert!(v["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("A pull request already exists")));
        let (_, _, v) = call(
            reqwest::Method::GET,
            "/pulls?state=open&head=acme:fix",
            None,
            DEFAULT_TOKEN,
        )
        .await;
        assert_eq!(v.as_array().map(Vec::len), Some(1));
        let (_, _, v) = call(
            reqwest::Method::GET,
            "/pulls?state=open&head=other",
            None,
            DEFAULT_TOKEN,
        )
        .await;
        assert_eq!(
            v.as_array().map(Vec::len),
            Some(1),
            "a bare branch filter is ignored"
        );
        fake.fail_next(
            1,
            Failure::SecondaryRateLimit {
                retry_after_secs: 5,
            },
        );
        let (s, retry, _) = call(reqwest::Method::GET, "/pulls/1", None, DEFAULT_TOKEN).await;
        assert_eq!((s, retry.as_deref()), (403, Some("5")));
        fake.merge(1);
        let (_, _, v) = call(reqwest::Method::GET, "/pulls/1", None, DEFAULT_TOKEN).await;
        assert_eq!(
            (v["state"].as_str(), v["merged"].as_bool()),
            (Some("closed"), Some(true))
        );
        assert_eq!(
            fake.written_paths(),
            vec!["checkout/db.py", "checkout/db.py"]
        );
    }
}
