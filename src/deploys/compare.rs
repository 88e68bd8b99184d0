//! What changed across a deploy: error groups new after it, whose rate at least doubled, or
//! that went quiet; and the one-line summary people read. Pure.

use chrono::{DateTime, Utc};

use crate::model::{Deploy, GroupChange};

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

/// `deploy abc1234 of web introduced 3 new groups; 4 of 5 checks passed`.
pub fn summary(deploy: &Deploy) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_795_773_600 + minute * 60, 0).expect("valid")
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
            id: "abc1234567".into(),
            service: "web".into(),
            status: "SUCCESS".into(),
            created_at: at(0),
            url: None,
            verified_at: None,
            checks_passed: 0,
            checks_failed: 0,
            new_groups: 3,
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
    }
}
