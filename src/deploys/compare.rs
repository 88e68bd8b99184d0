//! What changed across a deploy: error groups new after it, whose rate at least doubled, or
//! that went quiet; and the one-line summary people read. Pure.

use chrono::{DateTime, Utc};

use crate::model::{Deploy, DeployState, GroupChange};

/// One group's counts around a deploy, as the store reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    pub fingerprint: String,
    pub template: String,
    pub first_seen: DateTime<Utc>,
    pub before: i64,
    pub after: i64,
}

/// A group whose rate per minute after the deploy is at least this many times the rate
/// before (and at least [`MIN_WORSE`] occurrences) got worse.
const WORSE_FACTOR: f64 = 2.0;
const MIN_WORSE: i64 = 3;

/// The changes worth showing: new groups, then worse, then quiet; each by count after.
/// `before_minutes` and `after_minutes` are the lengths of the two windows.
pub fn changes(
    rows: Vec<Counted>,
    deployed_at: DateTime<Utc>,
    before_minutes: f64,
    after_minutes: f64,
) -> Vec<GroupChange> {
    let rate = |n: i64, minutes: f64| n as f64 / minutes.max(1.0);
    let mut ranked: Vec<(u8, GroupChange)> = rows
        .into_iter()
        .filter_map(|r| {
            let new = r.first_seen >= deployed_at;
            let rank = if new {
                0
            } else if r.after >= MIN_WORSE
                && rate(r.after, after_minutes) >= WORSE_FACTOR * rate(r.before, before_minutes)
            {
                1
            } else if r.before > 0 && r.after == 0 {
                2
            } else {
                return None;
            };
            Some((
                rank,
                GroupChange {
                    fingerprint: r.fingerprint,
                    template: r.template,
                    before: r.before,
                    after: r.after,
                    new,
                },
            ))
        })
        .collect();
    ranked.sort_by_key(|(rank, c)| (*rank, std::cmp::Reverse(c.after)));
    ranked.into_iter().map(|(_, c)| c).collect()
}

/// `deploy abc1234 of web introduced 3 new groups; 4 of 5 checks passed` (or, for a deploy
/// only the logs named, `deploy web-d12 of web seen in logs; not verified`).
pub fn summary(deploy: &Deploy) -> String {
    if deploy.state == DeployState::Logged {
        return format!(
            "deploy {} of {} seen in logs; not verified",
            deploy.short_id(),
            deploy.service
        );
    }
    let groups = match deploy.new_groups {
        0 => "introduced no new group".to_string(),
        1 => "introduced 1 new group".to_string(),
        n => format!("introduced {n} new groups"),
    };
    let total = deploy.checks_passed + deploy.checks_failed;
    let checked = if total == 0 {
        "no checks ran".to_string()
    } else {
        format!("{} of {total} checks passed", deploy.checks_passed)
    };
    format!(
        "deploy {} of {} {groups}; {checked}",
        deploy.short_id(),
        deploy.service
    )
}

/// A deploy marker's label on the System Health chart: `web abc1234 (5280bcd) 4/5 checks, 3
/// new groups`; the commit when known, what verification found when it ran.
pub fn marker(deploy: &Deploy) -> String {
    let mut label = format!("{} {}", deploy.service, deploy.short_id());
    if let Some(sha) = &deploy.commit_sha {
        let end = sha.char_indices().nth(7).map_or(sha.len(), |(i, _)| i);
        label.push_str(&format!(" ({})", &sha[..end]));
    }
    let mut found = Vec::new();
    match deploy.state {
        DeployState::Pending => found.push("checking".to_string()),
        DeployState::Checked => {
            let total = deploy.checks_passed + deploy.checks_failed;
            if total > 0 {
                found.push(format!("{}/{total} checks", deploy.checks_passed));
            }
            found.push(match deploy.new_groups {
                0 => "no new group".to_string(),
                1 => "1 new group".to_string(),
                n => format!("{n} new groups"),
            });
        }
        DeployState::Skipped | DeployState::Logged => {}
    }
    if !found.is_empty() {
        label.push(' ');
        label.push_str(&found.join(", "));
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_773_600 + minute * 60, 0).expect("valid")
    }

    /// A checked deploy `abc1234` of web: no checks, no new groups.
    fn checked() -> Deploy {
        Deploy {
            id: "abc1234567".into(),
            service: "web".into(),
            status: "SUCCESS".into(),
            created_at: at(0),
            url: None,
            verified_at: None,
            checks_passed: 0,
            checks_failed: 0,
            new_groups: 0,
            state: DeployState::Checked,
            commit_sha: None,
            first_log_at: None,
            last_log_at: None,
        }
    }

    fn row(fp: &str, first_seen: i64, before: i64, after: i64) -> Counted {
        Counted {
            fingerprint: fp.into(),
            template: format!("error {fp}"),
            first_seen: at(first_seen),
            before,
            after,
        }
    }

    #[test]
    fn new_worse_and_quiet_groups_in_that_order() {
        let rows = vec![
            row("steady", -100, 30, 30),
            row("quiet", -100, 10, 0),
            row("worse", -100, 5, 12),
            row("new-small", 2, 0, 1),
            row("new-big", 1, 0, 40),
            row("barely", -100, 1, 2),
        ];
        let got: Vec<(String, bool)> = changes(rows, at(0), 30.0, 30.0)
            .into_iter()
            .map(|c| (c.fingerprint, c.new))
            .collect();
        assert_eq!(
            got,
            vec![
                ("new-big".into(), true),
                ("new-small".into(), true),
                ("worse".into(), false),
                ("quiet".into(), false),
            ]
        );
    }

    #[test]
    fn rates_use_the_length_of_each_window() {
        // 10 in the 30 minutes before, 4 in the 5 minutes since: 0.33/min → 0.8/min.
        let got = changes(vec![row("g", -100, 10, 4)], at(0), 30.0, 5.0);
        assert_eq!(got.len(), 1);
        // The same 4 over 30 minutes is not worse.
        assert!(changes(vec![row("g", -100, 10, 4)], at(0), 30.0, 30.0).is_empty());
    }

    #[test]
    fn the_summary_line() {
        let deploy = Deploy {
            new_groups: 3,
            ..checked()
        };
        assert_eq!(
            summary(&Deploy {
                checks_passed: 1,
                checks_failed: 1,
                ..deploy.clone()
            }),
            "deploy abc1234 of web introduced 3 new groups; 1 of 2 checks passed"
        );
        let quiet = Deploy {
            new_groups: 0,
            ..deploy
        };
        assert_eq!(
            summary(&quiet),
            "deploy abc1234 of web introduced no new group; no checks ran"
        );
        let logged = Deploy {
            id: "web-d12".into(),
            status: String::new(),
            state: DeployState::Logged,
            ..quiet
        };
        assert_eq!(
            summary(&logged),
            "deploy web-d12 of web seen in logs; not verified"
        );
    }

    #[test]
    fn marker_labels() {
        let base = checked();
        for (deploy, want) in [
            (
                Deploy {
                    checks_passed: 4,
                    checks_failed: 1,
                    new_groups: 3,
                    commit_sha: Some("5280bcd8a2595ff5737a8b501cd2f5404fae1180".into()),
                    ..base.clone()
                },
                "web abc1234 (5280bcd) 4/5 checks, 3 new groups",
            ),
            (
                Deploy {
                    new_groups: 1,
                    ..base.clone()
                },
                "web abc1234 1 new group",
            ),
            (base.clone(), "web abc1234 no new group"),
            (
                Deploy {
                    state: DeployState::Pending,
                    commit_sha: Some("abc".into()),
                    ..base.clone()
                },
                "web abc1234 (abc) checking",
            ),
            (
                Deploy {
                    state: DeployState::Skipped,
                    ..base.clone()
                },
                "web abc1234",
            ),
            (
                Deploy {
                    id: "web-d12".into(),
                    status: String::new(),
                    state: DeployState::Logged,
                    ..base.clone()
                },
                "web web-d12",
            ),
        ] {
            assert_eq!(marker(&deploy), want);
        }
    }
}
