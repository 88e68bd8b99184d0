//! Generated fixes: what the fix generator proposed for an error group, and where it went.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::names::names;

/// Where a fix is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FixState {
    /// Waiting for its turn (limits, one at a time).
    Queued,
    /// Context, analysis, validation or GitHub in progress.
    Running,
    /// Validated but not pushed: a dry run (no `GITHUB_TOKEN`, `AUTO_FIX_ENABLED=false`, or
    /// `create_pr=false`). The diff is stored.
    Proposed,
    /// A draft pull request is open (or was reused).
    PrOpen,
    /// Its pull request was merged.
    Merged,
    /// Its pull request was closed without merging.
    Closed,
    /// Not safe or not possible: `reason` says why (validation, refusal, no source).
    Refused,
    /// An outside service failed after its retries: `reason` says which.
    Failed,
}

names!(FixState parse "fix state" listed {
    Queued => "queued",
    Running => "running",
    Proposed => "proposed",
    PrOpen => "pr_open",
    Merged => "merged",
    Closed => "closed",
    Refused => "refused",
    Failed => "failed",
});

impl FixState {
    /// Queued or running: the group's one fix in flight.
    pub fn in_flight(self) -> bool {
        matches!(self, FixState::Queued | FixState::Running)
    }
}

/// A pull request's state on GitHub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PrState {
    Open,
    Merged,
    Closed,
}

names!(PrState parse "pull request state" {
    Open => "open",
    Merged => "merged",
    Closed => "closed",
});

/// A fix the generator made (or is making, or refused to make) for an error group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "engine", derive(utoipa::ToSchema))]
pub struct Fix {
    pub id: i64,
    /// The group.
    pub fingerprint: String,
    /// The group's governance task, when it had one.
    pub task_id: Option<i64>,
    pub state: FixState,
    /// `manual` (Generate Fix, the API) or `auto` (an alert with `AUTO_FIX_ENABLED`).
    pub trigger: String,
    /// Whether a pull request was asked for (`create_pr`).
    pub create_pr: bool,
    /// Set when the fix was (or will be) kept here instead of pushed, with why.
    pub dry_run_reason: Option<String>,
    pub root_cause: Option<String>,
    /// `low`, `medium` or `high`, as the model put it.
    pub confidence: Option<String>,
    pub explanation: Option<String>,
    pub suggested_test: Option<String>,
    /// Unified diff of the proposed change.
    pub diff: Option<String>,
    /// Repository paths the change touches.
    pub files: Vec<String>,
    /// Why it was refused or failed.
    pub reason: Option<String>,
    pub model: Option<String>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// `auto-fix/{category}/{short fingerprint}`.
    pub branch: Option<String>,
    pub pr_number: Option<i64>,
    pub pr_url: Option<String>,
    pub pr_state: Option<PrState>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}
