//! Grouping upgrades. When [`ALGORITHM_VERSION`] changes, an error that an earlier version put
//! in a stored group gets another fingerprint; without care every stored group would start
//! again as a "new" group (new alerts, new tasks) on the first occurrence after an upgrade.
//! Like Sentry's secondary hashes, the fingerprint the current version gives a stored group's
//! sample is an *alias* of that group: events with it keep joining the group they always
//! joined. Pure: the store reads the earlier groups, this decides.

use std::collections::HashMap;

use super::normalize::ALGORITHM_VERSION;
use super::Pipeline;
use crate::model::{Event, Group};

/// Current fingerprint → stored group, for `earlier` (groups of versions before
/// [`ALGORITHM_VERSION`], oldest first). When several earlier groups now share one
/// fingerprint (the new version merges them), the oldest keeps receiving; the others stay as
/// they are. `pipeline` is the one that fingerprints incoming events, without aliases.
pub fn aliases(pipeline: &Pipeline, earlier: &[Group]) -> HashMap<String, String> {
    let mut aliases = HashMap::new();
    for group in earlier
        .iter()
        .filter(|g| g.algorithm_version < ALGORITHM_VERSION)
    {
        let Some(current) = pipeline.process(sample_event(group)).group else {
            continue;
        };
        if current.fingerprint != group.fingerprint {
            aliases
                .entry(current.fingerprint)
                .or_insert_with(|| group.fingerprint.clone());
        }
    }
    aliases
}

/// The event a group's stored sample stands for (its message is scrubbed already; scrubbing
/// it again changes nothing).
fn sample_event(group: &Group) -> Event {
    Event {
        timestamp: group.first_seen,
        level: group.level,
        message: group.sample_message.clone(),
        exception: None,
        stack_trace: group.stack_trace.clone(),
        service: group.service.clone(),
        deployment: None,
        environment: None,
        attributes: Default::default(),
        source: "upgrade".into(),
        source_id: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, GroupStatus, Level, Severity};
    use chrono::{TimeZone, Utc};

    fn group(fingerprint: &str, version: i64, message: &str) -> Group {
        Group {
            fingerprint: fingerprint.into(),
            template: String::new(),
            error_type: None,
            level: Level::Error,
            service: Some("api".into()),
            first_seen: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            last_seen: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            occurrences: 1,
            status: GroupStatus::Unresolved,
            sample_message: message.into(),
            stack_trace: None,
            category: Category::Internal,
            severity: Severity::Medium,
            fixable: false,
            algorithm_version: version,
        }
    }

    fn fingerprint(pipeline: &Pipeline, message: &str) -> String {
        let event = sample_event(&group("", 0, message));
        pipeline
            .process(event)
            .group
            .map(|g| g.fingerprint)
            .unwrap_or_default()
    }

    #[test]
    fn earlier_groups_keep_their_errors() {
        let pipeline = Pipeline::default();
        let earlier = [
            group("old-a", 2, "block blk_-42 failed"),
            // The current version merges it with old-a: the older group keeps receiving.
            group("old-b", 2, "block blk_43 failed"),
            group("old-c", 2, "cache miss for deadbeef"),
            // A group of the current version is no alias of anything.
            group("new-d", ALGORITHM_VERSION, "queue full"),
        ];
        let aliases = aliases(&pipeline, &earlier);
        let aliased = pipeline.with_aliases(aliases.clone());
        assert_eq!(fingerprint(&aliased, "block blk_7 failed"), "old-a");
        assert_eq!(fingerprint(&aliased, "cache miss for deadbeef"), "old-c");
        assert_eq!(aliases.len(), 2, "{aliases:?}");
        // Errors no earlier group had get the current fingerprint.
        let fresh = "disk quota exceeded";
        assert_eq!(
            fingerprint(&aliased, fresh),
            fingerprint(&Pipeline::default(), fresh)
        );
    }
}
