//! The group page's data beyond the group itself: per-hour counts, the stack trace with its
//! in-app frames marked, where it ran; and the Resolve / Ignore / Reopen actions.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use signalbox::model::{Group, GroupStatus};

/// Hours the group page's chart covers.
pub const CHART_HOURS: i64 = 48;
/// The attribute breakdown reads this many of the latest occurrences.
pub const BREAKDOWN_SAMPLE: u32 = 1000;

/// One line of a stack trace: a frame of the application's own code, a library's frame, or
/// another line (the exception, `Caused by:` …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LineKind {
    InApp,
    Library,
    Other,
}

/// How often each value of an attribute occurs, most first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    pub attribute: String,
    pub values: Vec<(String, i64)>,
}

/// The group page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupView {
    pub group: Group,
    /// Start of each hour of the chart and its occurrences.
    pub hours: Vec<(DateTime<Utc>, i64)>,
    pub trace: Vec<(LineKind, String)>,
    pub breakdown: Vec<Breakdown>,
    /// How many occurrences the breakdown read.
    pub sampled: usize,
    pub admin_token: bool,
}

/// Whether a trace line is a frame, and whose. Frames are the lines runtimes print for
/// them: `at …` (JVM, Node, .NET), `File "…"` (Python), `N: module::fn` and `at file:line`
/// (Rust), a Go file line (`\t/path/file.go:12 +0x1d`), Ruby's `from file:line`.
pub fn line_kind(line: &str, in_app: impl Fn(&str) -> bool) -> LineKind {
    let t = line.trim();
    let location = if let Some(rest) = t.strip_prefix("at ") {
        // `at fn (file:line)`: the file decides; else what follows `at`.
        rest.rsplit_once('(')
            .map(|(_, f)| f.trim_end_matches(')'))
            .unwrap_or(rest)
    } else if let Some(rest) = t.strip_prefix("File \"") {
        rest.split('"').next().unwrap_or(rest)
    } else if let Some(rest) = t.strip_prefix("from ") {
        rest
    } else if t
        .split_once(": ")
        .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    {
        t.split_once(": ").map_or(t, |(_, f)| f)
    } else if line.starts_with('\t') && t.contains(".go:") {
        t
    } else {
        return LineKind::Other;
    };
    if in_app(location) {
        LineKind::InApp
    } else {
        LineKind::Library
    }
}

/// Where one occurrence ran: service, deployment, environment.
pub type Placement = (Option<String>, Option<String>, Option<String>);

/// Counts of each value of service, deployment and environment among `placements`, most
/// first, ties by name; a missing value counts as `—`.
pub fn breakdown(placements: &[Placement]) -> Vec<Breakdown> {
    let count = |attribute: &str, pick: fn(&Placement) -> &Option<String>| {
        let mut values: Vec<(String, i64)> = Vec::new();
        for p in placements {
            let v = pick(p).clone().unwrap_or_else(|| "—".into());
            match values.iter_mut().find(|(name, _)| *name == v) {
                Some((_, n)) => *n += 1,
                None => values.push((v, 1)),
            }
        }
        values.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Breakdown {
            attribute: attribute.into(),
            values,
        }
    };
    vec![
        count("service", |p| &p.0),
        count("deployment", |p| &p.1),
        count("environment", |p| &p.2),
    ]
}

/// The group page: the group, its hours, trace and breakdown; `None` for an unknown group.
#[server(prefix = "/api/ui", endpoint = "group")]
pub async fn group_detail(fingerprint: String) -> Result<Option<GroupView>, ServerFnError> {
    use chrono::Duration;

    use super::{failed, store};
    use crate::chart;

    super::require_read()?;
    let store = store()?;
    let Some(group) = store.group(&fingerprint).await.map_err(failed)? else {
        return Ok(None);
    };
    let now = Utc::now();
    let since = now - Duration::hours(CHART_HOURS);
    let counts: Vec<(i64, i64)> = store
        .group_series(
            std::slice::from_ref(&group.fingerprint),
            since,
            Duration::hours(1),
        )
        .await
        .map_err(failed)?
        .into_iter()
        .map(|b| (b.bucket.timestamp_millis(), b.count))
        .collect();
    let starts = chart::buckets(since.timestamp_millis(), now.timestamp_millis(), 3_600_000);
    let hours = starts
        .iter()
        .zip(chart::fill(&starts, &counts))
        .filter_map(|(ms, n)| DateTime::from_timestamp_millis(*ms).map(|t| (t, n)))
        .collect();
    let trace = group
        .stack_trace
        .as_deref()
        .unwrap_or_default()
        .lines()
        .map(|l| {
            (
                line_kind(l, signalbox::pipeline::exception::is_in_app),
                l.to_string(),
            )
        })
        .collect();
    let placements = store
        .recent_placements(&group.fingerprint, BREAKDOWN_SAMPLE)
        .await
        .map_err(failed)?;
    Ok(Some(GroupView {
        group,
        hours,
        trace,
        breakdown: breakdown(&placements),
        sampled: placements.len(),
        admin_token: super::changes_locked(),
    }))
}

/// What a status form may ask for: `resolved`, `ignored` or `unresolved` (reopen).
pub fn settable(status: &str) -> Option<GroupStatus> {
    match status {
        "resolved" => Some(GroupStatus::Resolved),
        "ignored" => Some(GroupStatus::Ignored),
        "unresolved" => Some(GroupStatus::Unresolved),
        _ => None,
    }
}

/// Resolves, ignores or reopens a group (recorded in its history with the actor).
#[server(prefix = "/api/ui", endpoint = "groups/status")]
pub async fn change_group_status(
    fingerprint: String,
    status: String,
) -> Result<GroupStatus, ServerFnError> {
    use signalbox::store::{StatusChange, StatusOutcome};

    use super::{back_to, plain_form, store, Back, Refused};

    let fingerprint = fingerprint.trim().to_string();
    let page = Back::new(
        signalbox::model::group_path(&fingerprint),
        Some("status".into()),
    );
    super::authorize().map_err(|r| r.answer(&page))?;
    let status = settable(&status).ok_or_else(|| Refused::bad_request().answer(&page))?;
    let actor = if super::admin_token_configured() {
        "admin"
    } else {
        "anonymous"
    };
    let change = StatusChange::to(status, actor, Some("from the UI"));
    let now = Utc::now();
    let outcome = match store()?.set_status(&fingerprint, &change, now).await {
        Ok(outcome) => outcome,
        Err(e) => return Err(Refused::store(e).answer(&page)),
    };
    let status = match outcome {
        StatusOutcome::NoGroup => return Err(Refused::not_found().answer(&page)),
        StatusOutcome::Unchanged(s) => s,
        StatusOutcome::Changed(c) => c.to,
    };
    if plain_form() {
        back_to(&page.with("status", status.as_str()));
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(location: &str) -> bool {
        !location.contains("site-packages")
            && !location.contains("node_modules")
            && !location.starts_with("java.")
    }

    #[test]
    fn frames_are_told_apart_from_other_lines() {
        for (line, want) in [
            ("Traceback (most recent call last):", LineKind::Other),
            (
                "  File \"/app/shop/pay.py\", line 3, in charge",
                LineKind::InApp,
            ),
            (
                "  File \"/usr/lib/python3/site-packages/requests/api.py\", line 9, in get",
                LineKind::Library,
            ),
            (
                "    at java.base/java.lang.Thread.run(Thread.java:1583)",
                LineKind::InApp,
            ),
            ("    at java.lang.Thread.run", LineKind::Library),
            ("    at charge (/srv/app/pay.js:10:5)", LineKind::InApp),
            (
                "    at Module._compile (/srv/node_modules/x/index.js:1:1)",
                LineKind::Library,
            ),
            ("   3: shop::pay::charge", LineKind::InApp),
            ("\t/app/main.go:12 +0x1d", LineKind::InApp),
            ("KeyError: 'user'", LineKind::Other),
            ("Caused by: java.io.IOException: boom", LineKind::Other),
            ("", LineKind::Other),
        ] {
            assert_eq!(line_kind(line, app), want, "{line:?}");
        }
    }

    #[test]
    fn the_breakdown_counts_each_value_most_first() {
        let s = |v: &str| Some(v.to_string());
        let got = breakdown(&[
            (s("api"), s("d1"), None),
            (s("api"), s("d2"), None),
            (s("worker"), s("d2"), s("prod")),
        ]);
        assert_eq!(got[0].values, vec![("api".into(), 2), ("worker".into(), 1)]);
        assert_eq!(got[1].values, vec![("d2".into(), 2), ("d1".into(), 1)]);
        assert_eq!(got[2].values, vec![("—".into(), 2), ("prod".into(), 1)]);
        assert!(breakdown(&[]).iter().all(|b| b.values.is_empty()));
    }

    #[test]
    fn only_three_statuses_can_be_set() {
        assert_eq!(settable("resolved"), Some(GroupStatus::Resolved));
        assert_eq!(settable("ignored"), Some(GroupStatus::Ignored));
        assert_eq!(settable("unresolved"), Some(GroupStatus::Unresolved));
        assert_eq!(settable("regressed"), None);
    }
}
