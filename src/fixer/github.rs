//! GitHub through octocrab, with our own retry policy (octocrab's is off: it re-sends POSTs
//! at once and ignores `retry-after`): secondary rate limits wait `retry-after` (else a
//! minute), a primary limit waits for its reset, 5xx back off; writes are made one at a time.

use std::future::Future;
use std::time::Duration;

use base64::Engine;
use octocrab::models::repos::Object;
use octocrab::params::repos::Reference;
use octocrab::service::middleware::retry::RetryConfig;
use octocrab::Octocrab;
use secrecy::{ExposeSecret, SecretString};

use super::validate::{ChangedFile, SourceFile};
use crate::model::PrState;

/// Where and how to reach GitHub.
#[derive(Clone)]
pub struct GitHubSettings {
    /// `None`: anonymous reads only (public repositories).
    pub token: Option<SecretString>,
    pub api_url: String,
    pub owner: String,
    pub repo: String,
    pub max_attempts: u32,
    pub backoff_base: Duration,
    /// Longest wait honoured; a longer one fails the call.
    pub max_wait: Duration,
}

/// A GitHub call that failed for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("GitHub {what}: {message}")]
pub struct GitHubError {
    pub what: String,
    /// HTTP status, 0 for a transport error.
    pub status: u16,
    pub message: String,
}

/// What to do after a failed call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Retry(Option<Duration>),
    Stop,
}

/// Decides a failed call's fate from its status, message and rate-limit headers (spec:
/// secondary limit → `retry-after`, else 60 s; primary (`remaining: 0`) → until reset;
/// 5xx → backoff; anything else stops).
pub fn next_step(
    status: u16,
    message: &str,
    retry_after: Option<u64>,
    remaining: Option<u64>,
    reset_in: Option<u64>,
) -> Next {
    let lower = message.to_ascii_lowercase();
    match status {
        403 | 429 if lower.contains("secondary rate limit") || retry_after.is_some() => {
            Next::Retry(Some(Duration::from_secs(retry_after.unwrap_or(60))))
        }
        403 | 429 if remaining == Some(0) || lower.contains("rate limit") => {
            Next::Retry(Some(Duration::from_secs(reset_in.unwrap_or(60))))
        }
        429 => Next::Retry(Some(Duration::from_secs(60))),
        0 | 500..=599 => Next::Retry(None),
        _ => Next::Stop,
    }
}

/// The GitHub client of the fix generator.
pub struct GitHub {
    crab: Octocrab,
    settings: GitHubSettings,
}

fn header_u64(headers: Option<&http::HeaderMap>, name: &str) -> Option<u64> {
    headers?.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Status, message and the rate-limit facts of an octocrab error.
fn describe(e: &octocrab::Error) -> (u16, String, Option<u64>, Option<u64>, Option<u64>) {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            let headers = source.headers.as_ref();
            let reset_in = source
                .rate_limit_reset
                .map(|r| r.saturating_sub(chrono::Utc::now().timestamp().max(0) as u64));
            let mut message = source.message.clone();
            if let Some(errors) = &source.errors {
                for err in errors {
                    if let Some(m) = err["message"].as_str() {
                        message.push_str(": ");
                        message.push_str(m);
                    }
                }
            }
            (
                source.status_code.as_u16(),
                message,
                header_u64(headers, "retry-after"),
                header_u64(headers, "x-ratelimit-remaining"),
                reset_in,
            )
        }
        other => (0, other.to_string(), None, None, None),
    }
}

impl GitHub {
    pub fn new(settings: GitHubSettings) -> Result<GitHub, GitHubError> {
        let fail = |e: octocrab::Error| GitHubError {
            what: "client".into(),
            status: 0,
            message: e.to_string(),
        };
        let mut builder = Octocrab::builder()
            .base_uri(settings.api_url.as_str())
            .map_err(fail)?
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(Duration::from_secs(10)))
            .set_read_timeout(Some(Duration::from_secs(30)));
        if let Some(token) = &settings.token {
            builder = builder.personal_token(token.expose_secret().to_string());
        }
        Ok(GitHub {
            crab: builder.build().map_err(fail)?,
            settings,
        })
    }

    /// Runs `call` with the retry policy.
    async fn retry<T, F, Fut>(&self, what: &str, call: F) -> Result<T, GitHubError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, octocrab::Error>>,
    {
        let mut attempt = 1;
        loop {
            let e = match call().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let (status, message, retry_after, remaining, reset_in) = describe(&e);
            let error = GitHubError {
                what: what.to_string(),
                status,
                message,
            };
            let wait = match next_step(status, &error.message, retry_after, remaining, reset_in) {
                Next::Stop => return Err(error),
                _ if attempt >= self.settings.max_attempts => return Err(error),
                Next::Retry(Some(wait)) => wait,
                Next::Retry(None) => super::claude::backoff(
                    self.settings.backoff_base,
                    attempt,
                    rand::Rng::random::<f64>(&mut rand::rng()),
                ),
            };
            if wait > self.settings.max_wait {
                return Err(GitHubError {
                    message: format!(
                        "{} (asked to wait {} s, more than the {} s allowed)",
                        error.message,
                        wait.as_secs(),
                        self.settings.max_wait.as_secs()
                    ),
                    ..error
                });
            }
            tracing::info!(what, status, retry_in = ?wait, "fix generator: GitHub call will be retried");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    fn repos(&self) -> octocrab::repos::RepoHandler<'_> {
        self.crab.repos(&self.settings.owner, &self.settings.repo)
    }

    /// `owner/name`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.settings.owner, self.settings.repo)
    }

    /// The repository's default branch.
    pub async fn default_branch(&self) -> Result<String, GitHubError> {
        let route = format!("/repos/{}/{}", self.settings.owner, self.settings.repo);
        let repo: serde_json::Value = self
            .retry("repository", || self.crab.get(route.as_str(), None::<&()>))
            .await?;
        Ok(repo["default_branch"]
            .as_str()
            .unwrap_or("main")
            .to_string())
    }

    /// The commit `branch` points at.
    pub async fn branch_sha(&self, branch: &str) -> Result<String, GitHubError> {
        let reference = Reference::Branch(branch.to_string());
        let found = self
            .retry("branch", || async {
                self.repos().get_ref(&reference).await
            })
            .await?;
        match found.object {
            Object::Commit { sha, .. } | Object::Tag { sha, .. } => Ok(sha),
            _ => Err(GitHubError {
                what: "branch".into(),
                status: 0,
                message: format!("{branch} does not point at a commit"),
            }),
        }
    }

    /// A text file at `at` (branch or commit); `None` when missing, too large for the
    /// contents API, or not UTF-8 text.
    pub async fn file(&self, path: &str, at: &str) -> Result<Option<SourceFile>, GitHubError> {
        let got = self
            .retry("file", || async {
                self.repos().get_content().path(path).r#ref(at).send().await
            })
            .await;
        let mut items = match got {
            Ok(items) => items,
            Err(e) if e.status == 404 => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(item) = items.take_items().into_iter().next() else {
            return Ok(None);
        };
        if item.r#type != "file" {
            return Ok(None);
        }
        // Decoded here, not with `decoded_content()`, which panics on malformed base64.
        let Some(encoded) = item.content.as_deref() else {
            return Ok(None);
        };
        let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
        let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(compact) else {
            return Ok(None);
        };
        if bytes.contains(&0) {
            return Ok(None);
        }
        Ok(String::from_utf8(bytes).ok().map(|content| SourceFile {
            path: path.to_string(),
            content,
            sha: item.sha,
        }))
    }

    /// Creates `branch` at `sha`; false when it already existed (422 "Reference already
    /// exists").
    pub async fn ensure_branch(&self, branch: &str, sha: &str) -> Result<bool, GitHubError> {
        let reference = Reference::Branch(branch.to_string());
        match self
            .retry("create branch", || async {
                self.repos().create_ref(&reference, sha).await
            })
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status == 422 && e.message.contains("Reference already exists") => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Commits the changed files on `branch` as one commit (git data API: blobs, a tree on
    /// the branch head's tree, a commit, a fast-forward of the branch). Nothing is committed
    /// when the branch already has exactly these contents (a reused branch). The commit's sha.
    pub async fn commit_files(
        &self,
        branch: &str,
        files: &[ChangedFile],
        message: &str,
    ) -> Result<Option<String>, GitHubError> {
        let repo = format!("/repos/{}/{}", self.settings.owner, self.settings.repo);
        let head = self.branch_sha(branch).await?;
        let route = format!("{repo}/git/commits/{head}");
        let commit: serde_json::Value = self
            .retry("read commit", || async {
                self.crab.get(route.as_str(), None::<&()>).await
            })
            .await?;
        let base_tree = commit["tree"]["sha"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut entries = Vec::with_capacity(files.len());
        for file in files {
            let body = serde_json::json!({"content": file.updated, "encoding": "utf-8"});
            let route = format!("{repo}/git/blobs");
            let blob: serde_json::Value = self
                .retry("create blob", || async {
                    self.crab.post(route.as_str(), Some(&body)).await
                })
                .await?;
            entries.push(serde_json::json!({
                "path": file.path, "mode": "100644", "type": "blob", "sha": blob["sha"],
            }));
        }
        let body = serde_json::json!({"base_tree": base_tree, "tree": entries});
        let route = format!("{repo}/git/trees");
        let tree: serde_json::Value = self
            .retry("create tree", || async {
                self.crab.post(route.as_str(), Some(&body)).await
            })
            .await?;
        let tree_sha = tree["sha"].as_str().unwrap_or_default().to_string();
        if tree_sha == base_tree {
            return Ok(None);
        }
        let body = serde_json::json!({"message": message, "tree": tree_sha, "parents": [head]});
        let route = format!("{repo}/git/commits");
        let created: serde_json::Value = self
            .retry("create commit", || async {
                self.crab.post(route.as_str(), Some(&body)).await
            })
            .await?;
        let sha = created["sha"].as_str().unwrap_or_default().to_string();
        let body = serde_json::json!({"sha": sha, "force": false});
        let route = format!("{repo}/git/refs/heads/{branch}");
        let _: serde_json::Value = self
            .retry("update branch", || async {
                self.crab.patch(route.as_str(), Some(&body)).await
            })
            .await?;
        Ok(Some(sha))
    }

    /// The open pull request from `branch`, as (number, url).
    pub async fn open_pr(&self, branch: &str) -> Result<Option<(u64, String)>, GitHubError> {
        let head = format!("{}:{branch}", self.settings.owner);
        let page = self
            .retry("list pull requests", || async {
                self.crab
                    .pulls(&self.settings.owner, &self.settings.repo)
                    .list()
                    .state(octocrab::params::State::Open)
                    .head(head.as_str())
                    .per_page(100u8)
                    .send()
                    .await
            })
            .await?;
        Ok(page
            .items
            .into_iter()
            .find(|p| p.head.ref_field == branch)
            .map(|p| {
                let url = p.html_url.map(|u| u.to_string()).unwrap_or(p.url);
                (p.number, url)
            }))
    }

    /// Opens a draft pull request; an existing open one for the branch (422 "A pull request
    /// already exists") is returned instead. (number, url, created).
    pub async fn create_draft_pr(
        &self,
        branch: &str,
        base: &str,
        title: &str,
        body: &str,
    ) -> Result<(u64, String, bool), GitHubError> {
        let created = self
            .retry("create pull request", || async {
                self.crab
                    .pulls(&self.settings.owner, &self.settings.repo)
                    .create(title, branch, base)
                    .body(body)
                    .draft(true)
                    .maintainer_can_modify(false)
                    .send()
                    .await
            })
            .await;
        match created {
            Ok(p) => {
                let url = p.html_url.map(|u| u.to_string()).unwrap_or(p.url);
                Ok((p.number, url, true))
            }
            Err(e) if e.status == 422 && e.message.contains("A pull request already exists") => {
                match self.open_pr(branch).await? {
                    Some((n, url)) => Ok((n, url, false)),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Adds labels to an issue or pull request.
    pub async fn add_labels(&self, number: u64, labels: &[String]) -> Result<(), GitHubError> {
        self.retry("labels", || async {
            self.crab
                .issues(&self.settings.owner, &self.settings.repo)
                .add_labels(number, labels)
                .await
        })
        .await
        .map(|_| ())
    }

    /// The issue (not pull request) labelled `label` whose body holds `marker`, as (number,
    /// url): the most recent 100 of any state are looked at.
    pub async fn find_issue(
        &self,
        label: &str,
        marker: &str,
    ) -> Result<Option<(u64, String)>, GitHubError> {
        let labels = vec![label.to_string()];
        let page = self
            .retry("list issues", || async {
                self.crab
                    .issues(&self.settings.owner, &self.settings.repo)
                    .list()
                    .state(octocrab::params::State::All)
                    .labels(&labels)
                    .per_page(100u8)
                    .send()
                    .await
            })
            .await?;
        Ok(page
            .items
            .into_iter()
            .filter(|i| i.pull_request.is_none())
            .find(|i| i.body.as_deref().is_some_and(|b| b.contains(marker)))
            .map(|i| (i.number, i.html_url.to_string())))
    }

    /// Opens an issue; (number, url).
    pub async fn create_issue(
        &self,
        title: &str,
        body: &str,
        labels: &[String],
    ) -> Result<(u64, String), GitHubError> {
        let issue = self
            .retry("create issue", || async {
                self.crab
                    .issues(&self.settings.owner, &self.settings.repo)
                    .create(title)
                    .body(body)
                    .labels(labels.to_vec())
                    .send()
                    .await
            })
            .await?;
        Ok((issue.number, issue.html_url.to_string()))
    }

    /// A pull request's state (`merged` read from the PR itself: `is_merged` says false for
    /// any error).
    pub async fn pr_state(&self, number: u64) -> Result<PrState, GitHubError> {
        let p = self
            .retry("pull request", || async {
                self.crab
                    .pulls(&self.settings.owner, &self.settings.repo)
                    .get(number)
                    .await
            })
            .await?;
        Ok(if p.merged == Some(true) || p.merged_at.is_some() {
            PrState::Merged
        } else if matches!(p.state, Some(octocrab::models::IssueState::Closed)) {
            PrState::Closed
        } else {
            PrState::Open
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_wait_as_the_spec_says() {
        let secondary = "You have exceeded a secondary rate limit. Please wait.";
        // (status, message, retry-after, remaining, reset in, expected)
        type Case<'a> = (u16, &'a str, Option<u64>, Option<u64>, Option<u64>, Next);
        let cases: &[Case] = &[
            (
                403,
                secondary,
                Some(5),
                None,
                None,
                Next::Retry(Some(Duration::from_secs(5))),
            ),
            (
                429,
                secondary,
                Some(3),
                None,
                None,
                Next::Retry(Some(Duration::from_secs(3))),
            ),
            (
                403,
                secondary,
                None,
                Some(10),
                None,
                Next::Retry(Some(Duration::from_secs(60))),
            ),
            (
                403,
                "API rate limit exceeded for user ID 1.",
                None,
                Some(0),
                Some(42),
                Next::Retry(Some(Duration::from_secs(42))),
            ),
            (
                429,
                "",
                None,
                None,
                None,
                Next::Retry(Some(Duration::from_secs(60))),
            ),
            (502, "Server Error", None, None, None, Next::Retry(None)),
            (0, "connection refused", None, None, None, Next::Retry(None)),
            (
                403,
                "Resource not accessible by integration",
                None,
                Some(4000),
                None,
                Next::Stop,
            ),
            (404, "Not Found", None, None, None, Next::Stop),
            (401, "Bad credentials", None, None, None, Next::Stop),
            (
                422,
                "Reference already exists",
                None,
                None,
                None,
                Next::Stop,
            ),
        ];
        for (status, message, retry_after, remaining, reset, expected) in cases {
            assert_eq!(
                &next_step(*status, message, *retry_after, *remaining, *reset),
                expected,
                "{status} {message}"
            );
        }
    }
}
