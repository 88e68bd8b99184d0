//! Governance tasks mirrored to GitHub issues (`GITHUB_ISSUES_ENABLED`): one issue per task
//! that is not done, labelled `signalbox`, its body ending with a fingerprint marker. Before an
//! issue is opened, the repository's `signalbox` issues are searched for the marker, so a task
//! whose issue exists (a crash between "opened" and "recorded", another replica, an earlier
//! database) gets that issue instead of a second one.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use crate::fixer::for_github;
use crate::fixer::github::{GitHub, GitHubError, GitHubSettings};
use crate::model::Task;
use crate::store::{Store, StoreError};

/// The label every mirrored issue has (and the search for markers uses).
pub const LABEL: &str = "signalbox";

/// The marker that identifies a group's issue: an HTML comment, invisible on GitHub.
pub fn marker(fingerprint: &str) -> String {
    format!("<!-- signalbox:task-fingerprint={fingerprint} -->")
}

/// The issue's body: the task's description (log text defused for GitHub) and the marker.
pub fn issue_body(task: &Task) -> String {
    format!(
        "{}\n\n_Mirrored from Signalbox task #{}._\n\n{}\n",
        for_github(&task.description, 60_000),
        task.id,
        marker(&task.fingerprint)
    )
}

/// What went wrong mirroring.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
}

/// The mirror of one replica.
pub struct IssueMirror {
    store: Store,
    github: GitHub,
    interval: Duration,
}

impl IssueMirror {
    pub fn new(
        store: Store,
        settings: GitHubSettings,
        interval: Duration,
    ) -> Result<IssueMirror, GitHubError> {
        Ok(IssueMirror {
            store,
            github: GitHub::new(settings)?,
            interval,
        })
    }

    /// Mirrors new tasks every `interval` until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            match self.pass().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(issues = n, "tasks mirrored to GitHub issues"),
                Err(e) => {
                    tracing::warn!(error = %e, "GitHub issue mirroring failed; retrying later")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Mirrors the tasks that have no issue yet; how many got one.
    pub async fn pass(&self) -> Result<usize, MirrorError> {
        let mut mirrored = 0;
        for task in self.store.tasks_without_issue(20).await? {
            let mark = marker(&task.fingerprint);
            let (number, url) = match self.github.find_issue(LABEL, &mark).await? {
                Some(found) => found,
                None => {
                    self.github
                        .create_issue(
                            &for_github(&task.title, 250),
                            &issue_body(&task),
                            &[LABEL.to_string()],
                        )
                        .await?
                }
            };
            self.store
                .record_task_issue(
                    task.id,
                    i64::try_from(number).unwrap_or(i64::MAX),
                    &url,
                    Utc::now(),
                )
                .await?;
            self.store
                .comment_task(
                    task.id,
                    &format!("Mirrored to GitHub issue [#{number}]({url})."),
                    Utc::now(),
                )
                .await?;
            mirrored += 1;
        }
        Ok(mirrored)
    }
}
