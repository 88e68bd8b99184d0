//! The fix generator: for an error group, gather the context (template, scrubbed sample,
//! frames, the in-app source files from GitHub), ask Claude for the root cause and a patch,
//! validate the patch, and push it as a draft pull request — or keep it here (a dry run) —
//! then track the pull request to merge.
//!
//! Safe by construction: log text is delimited data in the prompt and scrubbed again; the model
//! only proposes; [`validate`] decides what may reach GitHub (only files given from the stack
//! trace, never CI, build, lock, secret or binary files, within caps, hunks that apply); and
//! nothing is merged, ever.
//!
//! Work goes through the `fixes` table: a request queues a fix (one in flight per group), a
//! worker in each replica takes queued fixes one at a time (a conditional UPDATE), within the
//! hourly and daily limits; fixes `AUTO_FIX_ENABLED` asks for arrive through the notification
//! outbox (`fix` rows).

pub mod claude;
pub mod context;
pub mod github;
pub mod policy;
pub mod prompt;
pub mod validate;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

pub use claude::{Analysis, Claude, ClaudeSettings, OutputMode, Usage};
pub use github::{GitHub, GitHubError, GitHubSettings};
pub use validate::{Caps, Proposal};

use crate::config::Config;
use crate::model::{Fix, FixState, Group, NotifyChannel, PrState};
use crate::pipeline::scrub::Scrubber;
use crate::store::{NewFix, Store, StoreError};
use context::{Budget, Context, ShownFile};

/// The model asked when `ANTHROPIC_MODEL` is unset.
pub const DEFAULT_MODEL: &str = "claude-sonnet-5-5";

/// Why the fix generator is off, or `None` when it is on.
pub fn off_reason(config: &Config) -> Option<String> {
    if config.anthropic_api_key.is_none() {
        return Some("ANTHROPIC_API_KEY is not set".into());
    }
    if config.github_repository.is_none() {
        return Some("GITHUB_REPOSITORY is not set: there is no source to fix".into());
    }
    None
}

/// Why fixes are kept here instead of pushed (a dry run), or `None` when they are pushed.
pub fn dry_run_reason(config: &Config) -> Option<String> {
    if config.github_token.is_none() {
        return Some("GITHUB_TOKEN is not set".into());
    }
    if !config.auto_fix_enabled {
        return Some("AUTO_FIX_ENABLED=false".into());
    }
    None
}

/// Everything the generator needs.
#[derive(Clone)]
pub struct Settings {
    pub claude: ClaudeSettings,
    pub github: GitHubSettings,
    /// Set: every fix is a dry run, for this reason.
    pub dry_run_reason: Option<String>,
    pub public_url: String,
    /// Read the source at this commit (else the default branch).
    pub deployed_commit: Option<String>,
    pub max_per_hour: u32,
    pub max_per_day: u32,
    pub caps: Caps,
    pub budget: Budget,
    /// Labels of the pull requests.
    pub labels: Vec<String>,
    /// How often the queue and the outbox are looked at.
    pub poll_interval: Duration,
    /// How often open pull requests are polled.
    pub pr_poll_interval: Duration,
    /// A fix running longer than this is taken to have lost its worker and is queued again.
    pub stale_after: Duration,
    /// Scrubs the prompt again (the built-in rules plus `SCRUB_PATTERNS`).
    pub scrubber: Scrubber,
}

impl Settings {
    /// The settings `config` describes; `Err` with the reason when the feature is off.
    pub fn from_config(config: &Config) -> Result<Settings, String> {
        if let Some(reason) = off_reason(config) {
            return Err(reason);
        }
        let (Some(api_key), Some((owner, repo))) =
            (&config.anthropic_api_key, &config.github_repository)
        else {
            return Err("the fix generator is not configured".into());
        };
        Ok(Settings {
            claude: ClaudeSettings {
                api_key: api_key.clone(),
                base_url: config.anthropic_base_url.clone(),
                model: config.anthropic_model.clone(),
                mode: config.anthropic_output_mode,
                max_tokens: 8192,
                timeout: Duration::from_secs(180),
                max_attempts: 4,
                backoff_base: Duration::from_secs(2),
                max_wait: Duration::from_secs(120),
            },
            github: GitHubSettings {
                token: config.github_token.clone(),
                api_url: config.github_api_url.clone(),
                owner: owner.clone(),
                repo: repo.clone(),
                max_attempts: 4,
                backoff_base: Duration::from_secs(2),
                max_wait: Duration::from_secs(120),
            },
            dry_run_reason: dry_run_reason(config),
            public_url: config.public_url.clone(),
            deployed_commit: config.deployed_commit.clone(),
            max_per_hour: config.fix_max_per_hour,
            max_per_day: config.fix_max_per_day,
            caps: Caps::default(),
            budget: Budget::default(),
            labels: vec!["signalbox".into(), "auto-fix".into()],
            poll_interval: Duration::from_secs(1),
            pr_poll_interval: Duration::from_secs(60),
            // Longer than the worst case of one fix (4 × 180 s calls plus waits).
            stale_after: Duration::from_secs(30 * 60),
            scrubber: config.scrubber.clone(),
        })
    }
}

/// Why a fix must wait for the limits, or `None` when it may start now.
pub fn limit_wait(
    last_hour: i64,
    last_day: i64,
    max_per_hour: u32,
    max_per_day: u32,
) -> Option<String> {
    if last_day >= i64::from(max_per_day) {
        return Some(format!(
            "waiting: {last_day} fixes in the last 24 h (AUTO_FIX_MAX_PER_DAY={max_per_day})"
        ));
    }
    if last_hour >= i64::from(max_per_hour) {
        return Some(format!(
            "waiting: {last_hour} fixes in the last hour (AUTO_FIX_MAX_PER_HOUR={max_per_hour})"
        ));
    }
    None
}

/// `auto-fix/{category}/{first 12 characters of the fingerprint}`, made of safe characters.
pub fn branch_name(group: &Group) -> String {
    let short: String = group
        .fingerprint
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(12)
        .collect();
    let short = if short.is_empty() {
        "group".to_string()
    } else {
        short
    };
    format!("auto-fix/{}/{short}", group.category.as_str())
}

/// Model-written text for GitHub: no @-mentions that would ping people, no HTML comments
/// that could forge our marker, at most `max` characters.
pub fn for_github(text: &str, max: usize) -> String {
    let cleaned = text.replace('@', "@\u{200b}").replace("<!--", "&lt;!--");
    if cleaned.chars().count() <= max {
        cleaned
    } else {
        let mut cut: String = cleaned.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

/// The pull request's title.
pub fn pr_title(group: &Group) -> String {
    format!(
        "Fix: {}",
        for_github(group.template.lines().next().unwrap_or(""), 70)
    )
}

/// The pull request's body: root cause, the group's link and counts, the task, the notice.
pub fn pr_body(
    group: &Group,
    proposal: &Proposal,
    task_id: Option<i64>,
    public_url: &str,
    model: &str,
) -> String {
    let link = crate::notify::group_link(public_url, Some(&group.fingerprint));
    let mut body = format!(
        "> **Generated by Signalbox ({model}) — review before merging.** This pull request is a draft; nothing is merged automatically.\n\n\
         ## Root cause\n\n{}\n\n## Explanation\n\n{}\n\n## Error group\n\n\
         - [{}]({link})\n- {} occurrences, first seen {}, last seen {}\n- service: {}, category: {}, severity: {}\n- confidence: {}\n",
        for_github(&proposal.root_cause, 2000),
        for_github(&proposal.explanation, 4000),
        for_github(&group.template, 200).replace(['[', ']'], ""),
        group.occurrences,
        group.first_seen.format("%Y-%m-%d %H:%M UTC"),
        group.last_seen.format("%Y-%m-%d %H:%M UTC"),
        group.service.as_deref().unwrap_or("unknown"),
        group.category.as_str(),
        group.severity.as_str(),
        for_github(&proposal.confidence, 20),
    );
    if let Some(task) = task_id {
        body.push_str(&format!(
            "- task: [#{task}]({}/api/tasks/{task})\n",
            public_url.trim_end_matches('/')
        ));
    }
    if !proposal.suggested_test.trim().is_empty() {
        body.push_str(&format!(
            "\n## Suggested test\n\n{}\n",
            for_github(&proposal.suggested_test, 2000)
        ));
    }
    body.push_str(&format!(
        "\n<!-- signalbox:fingerprint={} -->\n",
        group.fingerprint
    ));
    body
}

/// The commit message: the analysis, and the fingerprint as a trailer.
pub fn commit_message(group: &Group, proposal: &Proposal) -> String {
    let subject = for_github(proposal.root_cause.lines().next().unwrap_or(""), 60);
    format!(
        "fix({}): {subject}\n\n{}\n\nSignalbox-Fingerprint: {}\n",
        group.category.as_str(),
        for_github(&proposal.explanation, 2000),
        group.fingerprint
    )
}

/// Queues a fix for `fingerprint`: `None` when there is no such group; else the fix and
/// whether it is new (false: the group's fix in flight).
pub async fn request_fix(
    store: &Store,
    config: &Config,
    fingerprint: &str,
    trigger: &str,
    create_pr: bool,
    now: DateTime<Utc>,
) -> Result<Option<(Fix, bool)>, StoreError> {
    let dry =
        dry_run_reason(config).or_else(|| (!create_pr).then(|| "create_pr=false".to_string()));
    store
        .queue_fix(&NewFix {
            fingerprint,
            trigger,
            create_pr,
            dry_run_reason: dry.as_deref(),
            now,
        })
        .await
}

/// The fix generator of one replica.
pub struct Fixer {
    store: Store,
    settings: Settings,
    claude: Claude,
    github: GitHub,
}

/// What a step of a fix came to, before it is stored.
enum Outcome {
    Refused(String),
    Failed(String),
}

impl Fixer {
    pub fn new(store: Store, settings: Settings) -> Result<Fixer, String> {
        let claude = Claude::new(settings.claude.clone())
            .map_err(|e| format!("HTTP client: {}", e.without_url()))?;
        let github = GitHub::new(settings.github.clone()).map_err(|e| e.to_string())?;
        Ok(Fixer {
            store,
            settings,
            claude,
            github,
        })
    }

    /// Works until `shutdown`: the outbox's fix rows, the queue, the pull requests.
    pub async fn run(self, shutdown: CancellationToken) {
        match self.claude.model_is_listed().await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(
                model = self.claude.model(),
                "ANTHROPIC_MODEL is not among the models the Anthropic API lists; fixes will fail until it is changed"
            ),
            Err(e) => tracing::warn!(error = %e, "fix generator: could not list Anthropic models"),
        }
        let mut last_pr_poll: Option<std::time::Instant> = None;
        while !shutdown.is_cancelled() {
            if let Err(e) = self.take_outbox_rows().await {
                tracing::warn!(error = %e, "fix generator: outbox unavailable");
            }
            // One fix per turn, so a shutdown waits for at most one.
            match self.pass().await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "fix generator: store unavailable"),
            }
            if last_pr_poll.is_none_or(|t| t.elapsed() >= self.settings.pr_poll_interval) {
                last_pr_poll = Some(std::time::Instant::now());
                if let Err(e) = self.track_pull_requests().await {
                    tracing::warn!(error = %e, "fix generator: tracking pull requests failed");
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Turns due `fix` rows of the outbox (alerts with `AUTO_FIX_ENABLED`) into queued fixes.
    pub async fn take_outbox_rows(&self) -> Result<usize, StoreError> {
        let now = Utc::now();
        let rows = self
            .store
            .due_notifications(NotifyChannel::Fix, now, 20)
            .await?;
        let mut taken = 0;
        for row in rows {
            let claim = crate::notify::worker::claim_until(now, std::time::Duration::from_secs(60));
            if !self
                .store
                .claim_notification(row.id, row.next_attempt_at, claim)
                .await?
            {
                continue;
            }
            let Some(fingerprint) = row.payload["fingerprint"].as_str() else {
                self.store
                    .notification_failed(row.id, claim, None, "no fingerprint in the row")
                    .await?;
                continue;
            };
            let new = NewFix {
                fingerprint,
                trigger: "auto",
                create_pr: true,
                dry_run_reason: self.settings.dry_run_reason.as_deref(),
                now,
            };
            match self.store.queue_fix(&new).await? {
                Some(_) => {
                    self.store.notification_sent(row.id, claim, now).await?;
                    taken += 1;
                }
                None => {
                    self.store
                        .notification_failed(row.id, claim, None, "the group no longer exists")
                        .await?;
                }
            }
        }
        Ok(taken)
    }

    /// Takes the oldest queued fix, when the limits allow, and works it to its end. Returns
    /// the fix it worked on.
    pub async fn pass(&self) -> Result<Option<Fix>, StoreError> {
        let now = Utc::now();
        let stale = now - chrono::Duration::from_std(self.settings.stale_after).unwrap_or_default();
        self.store.requeue_stale_fixes(stale, now).await?;
        let Some(mut fix) = self.store.next_queued_fix().await? else {
            return Ok(None);
        };
        let last_hour = self
            .store
            .fixes_started_since(now - chrono::Duration::hours(1))
            .await?;
        let last_day = self
            .store
            .fixes_started_since(now - chrono::Duration::hours(24))
            .await?;
        if let Some(wait) = limit_wait(
            last_hour,
            last_day,
            self.settings.max_per_hour,
            self.settings.max_per_day,
        ) {
            if fix.reason.as_deref() != Some(wait.as_str()) {
                fix.reason = Some(wait);
                self.store.save_fix(&fix, now).await?;
            }
            return Ok(None);
        }
        if !self.store.start_fix(fix.id, now).await? {
            return Ok(None);
        }
        fix.state = FixState::Running;
        fix.reason = None;
        let fix = self.work(fix).await;
        self.store.save_fix(&fix, Utc::now()).await?;
        Ok(Some(fix))
    }

    /// Context → analysis → validation → GitHub (or dry run), recorded on `fix`.
    async fn work(&self, mut fix: Fix) -> Fix {
        fix.model = Some(self.claude.model().to_string());
        match self.try_work(&mut fix).await {
            Ok(()) => {}
            Err(Outcome::Refused(reason)) => {
                tracing::info!(fix = fix.id, %reason, "fix generator: refused");
                fix.state = FixState::Refused;
                fix.reason = Some(reason);
            }
            Err(Outcome::Failed(reason)) => {
                tracing::warn!(fix = fix.id, %reason, "fix generator: failed");
                fix.state = FixState::Failed;
                fix.reason = Some(reason);
            }
        }
        fix
    }

    async fn try_work(&self, fix: &mut Fix) -> Result<(), Outcome> {
        let failed = |e: StoreError| Outcome::Failed(format!("store: {e}"));
        let Some(group) = self.store.group(&fix.fingerprint).await.map_err(failed)? else {
            return Err(Outcome::Refused("the error group no longer exists".into()));
        };
        let gh = |e: GitHubError| Outcome::Failed(e.to_string());
        let base = self.github.default_branch().await.map_err(gh)?;
        let at = self
            .settings
            .deployed_commit
            .clone()
            .unwrap_or_else(|| base.clone());
        let ctx = self.gather(&group, &at).await.map_err(gh)?;
        if ctx.files.is_empty() {
            let tried: Vec<String> = ctx
                .frames
                .iter()
                .filter(|(f, _)| f.in_app)
                .map(|(f, _)| f.file.clone())
                .collect();
            return Err(Outcome::Refused(if tried.is_empty() {
                "the stack trace names no application file to fix".into()
            } else {
                format!(
                    "no source file of the stack trace could be read from {} at {at} (trace paths: {})",
                    self.github.repository(),
                    tried.join(", ")
                )
            }));
        }
        let user = prompt::user_prompt(&ctx);
        // Scrubbed when stored and again while gathering: asserted once more before it leaves.
        if self.settings.scrubber.scrub(&user) != user {
            return Err(Outcome::Refused(
                "the prompt still held secret-looking text after scrubbing; nothing was sent"
                    .into(),
            ));
        }
        let (analysis, usage) = self.claude.analyse(&user).await;
        fix.input_tokens += usage.input_tokens;
        fix.output_tokens += usage.output_tokens;
        metrics::counter!("signalbox_fix_tokens_total", "kind" => "input")
            .increment(usage.input_tokens.max(0) as u64);
        metrics::counter!("signalbox_fix_tokens_total", "kind" => "output")
            .increment(usage.output_tokens.max(0) as u64);
        let proposal = match analysis {
            Analysis::Proposal(p) => p,
            Analysis::Declined(reason) => return Err(Outcome::Refused(reason)),
            Analysis::Failed(reason) => return Err(Outcome::Failed(reason)),
        };
        fix.root_cause = Some(proposal.root_cause.clone());
        fix.confidence = Some(proposal.confidence.clone());
        fix.explanation = Some(proposal.explanation.clone());
        fix.suggested_test = Some(proposal.suggested_test.clone());
        let changed = validate::validate(&proposal, &ctx.files, self.settings.caps)
            .map_err(|e| Outcome::Refused(format!("validation: {e}")))?;
        fix.diff = Some(validate::unified_diff(&changed));
        fix.files = changed.iter().map(|c| c.path.clone()).collect();
        let dry = fix
            .dry_run_reason
            .clone()
            .or_else(|| self.settings.dry_run_reason.clone());
        if dry.is_some() {
            fix.dry_run_reason = dry;
            fix.state = FixState::Proposed;
            return Ok(());
        }
        self.push(fix, &group, &proposal, &changed, &base)
            .await
            .map_err(gh)
    }

    /// Branch, commit, draft pull request (or the open one), labels; links task ↔ PR.
    async fn push(
        &self,
        fix: &mut Fix,
        group: &Group,
        proposal: &Proposal,
        changed: &[validate::ChangedFile],
        base: &str,
    ) -> Result<(), GitHubError> {
        let branch = branch_name(group);
        fix.branch = Some(branch.clone());
        // From the deployed commit when known: the patch was checked against that source,
        // so the pull request shows exactly the fix and GitHub merges it into the base.
        let from = match &self.settings.deployed_commit {
            Some(sha) => sha.clone(),
            None => self.github.branch_sha(base).await?,
        };
        self.github.ensure_branch(&branch, &from).await?;
        let message = commit_message(group, proposal);
        self.github.commit_files(&branch, changed, &message).await?;
        let (number, url) = match self.github.open_pr(&branch).await? {
            Some(open) => open,
            None => {
                let body = pr_body(
                    group,
                    proposal,
                    fix.task_id,
                    &self.settings.public_url,
                    self.claude.model(),
                );
                let (n, url, _) = self
                    .github
                    .create_draft_pr(&branch, base, &pr_title(group), &body)
                    .await?;
                (n, url)
            }
        };
        let mut labels = self.settings.labels.clone();
        labels.push(group.category.as_str().to_string());
        self.github.add_labels(number, &labels).await?;
        fix.pr_number = i64::try_from(number).ok();
        fix.pr_url = Some(url.clone());
        fix.pr_state = Some(PrState::Open);
        fix.state = FixState::PrOpen;
        if let Some(task) = fix.task_id {
            let comment = format!(
                "Fix generated: draft pull request [#{number}]({url}) on branch `{branch}` — review before merging."
            );
            if let Err(e) = self.store.comment_task(task, &comment, Utc::now()).await {
                tracing::warn!(error = %e, task, "fix generator: could not link the task to the pull request");
            }
        }
        Ok(())
    }

    /// Reads the context of `group` with the source at `at`.
    async fn gather(&self, group: &Group, at: &str) -> Result<Context, GitHubError> {
        let scrub = |t: &str| self.settings.scrubber.scrub(t).into_owned();
        let budget = self.settings.budget;
        let (mut ctx, frames) = context::from_group(group, &scrub, budget);
        // Trace path → repository path, for the in-app files that exist.
        let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
        for frame in frames.iter().filter(|f| f.in_app) {
            if found.contains_key(&frame.file)
                || found.values().filter(|v| v.is_some()).count() >= budget.max_files
            {
                continue;
            }
            let mut hit = None;
            for candidate in context::candidate_paths(&frame.file) {
                if let Some(file) = self.github.file(&candidate, at).await? {
                    ctx.files.insert(candidate.clone(), file);
                    hit = Some(candidate);
                    break;
                }
            }
            found.insert(frame.file.clone(), hit);
        }
        ctx.frames = frames
            .into_iter()
            .map(|f| {
                let repo = found.get(&f.file).cloned().flatten();
                (f, repo)
            })
            .collect();
        let share = budget.source_bytes / ctx.files.len().max(1);
        ctx.shown = ctx
            .files
            .values()
            .map(|file| {
                let lines: Vec<u32> = ctx
                    .frames
                    .iter()
                    .filter(|(_, p)| p.as_deref() == Some(file.path.as_str()))
                    .map(|(f, _)| f.line)
                    .collect();
                let shown = context::window(&file.content, &lines, share, budget.radius);
                ShownFile {
                    path: file.path.clone(),
                    ranges: shown.ranges,
                    text: scrub(&shown.text),
                }
            })
            .collect();
        Ok(ctx)
    }

    /// Polls the open pull requests; a merged one marks its group (resolved, "fix merged").
    pub async fn track_pull_requests(&self) -> Result<usize, StoreError> {
        let mut changed = 0;
        for fix in self.store.fixes_with_open_pr().await? {
            let Some(number) = fix.pr_number.and_then(|n| u64::try_from(n).ok()) else {
                continue;
            };
            match self.github.pr_state(number).await {
                Ok(PrState::Open) => {}
                Ok(state) => {
                    self.store.set_fix_pr_state(&fix, state, Utc::now()).await?;
                    tracing::info!(
                        fix = fix.id,
                        pr = number,
                        state = state.as_str(),
                        "fix generator: pull request changed"
                    );
                    changed += 1;
                }
                Err(e) => {
                    tracing::warn!(fix = fix.id, error = %e, "fix generator: pull request state unknown")
                }
            }
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold_fixes_back() {
        assert_eq!(limit_wait(0, 0, 5, 20), None);
        assert_eq!(limit_wait(4, 19, 5, 20), None);
        assert!(limit_wait(5, 5, 5, 20).is_some_and(|w| w.contains("AUTO_FIX_MAX_PER_HOUR=5")));
        assert!(limit_wait(0, 20, 5, 20).is_some_and(|w| w.contains("AUTO_FIX_MAX_PER_DAY=20")));
        assert!(limit_wait(0, 0, 0, 20).is_some());
    }

    #[test]
    fn github_text_pings_no_one_and_forges_no_marker() {
        let t = for_github("cc @admins <!-- signalbox:fingerprint=x -->", 100);
        assert!(!t.contains("@admins"));
        assert!(!t.contains("<!--"));
        assert_eq!(for_github(&"x".repeat(10), 3), "xxx…");
    }
}
