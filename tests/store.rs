//! The store test suite, run against both backends: embedded SQLite and a real PostgreSQL
//! server started for the test.

mod support;

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use signalbox::deploys::Seen;
use signalbox::model::{
    Alert, AlertAction, AlertRuleType, DeliveryStatus, Deploy, DeployCheck, DeployCheckKind,
    DeployState, Event, GroupStatus, Level, NotifyChannel, TaskPriority, TaskStatus,
};
use signalbox::notify::{self, Channels};
use signalbox::pipeline::{Pipeline, Processed};
use signalbox::store::{
    CursorUpdate, GroupQuery, GroupSort, RunReport, StatusChange, StatusOutcome, Store, StoreError,
    TaskQuery,
};
use support::postgres::PgServer;

fn process(e: Event) -> Processed {
    Pipeline::default().process(e)
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("valid time")
        .with_timezone(&Utc)
}

fn event(at: DateTime<Utc>, level: Level, service: &str, message: &str) -> Event {
    Event {
        timestamp: at,
        level,
        message: message.to_string(),
        exception: None,
        stack_trace: None,
        service: Some(service.to_string()),
        deployment: Some("d1".into()),
        environment: Some("production".into()),
        attributes: BTreeMap::from([("replica".to_string(), "r1".to_string())]),
        source: "test".into(),
        source_id: None,
    }
}

async fn write(store: &Store, events: Vec<Event>) -> signalbox::store::WriteSummary {
    let processed: Vec<_> = events.into_iter().map(process).collect();
    store.write_batch(&processed, None).await.expect("write")
}

// ---- the cases ---------------------------------------------------------------------------

/// A clock the test moves by hand.
fn clock_at(
    start: DateTime<Utc>,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicI64>,
    signalbox::store::Clock,
) {
    let ms = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(start.timestamp_millis()));
    let read = ms.clone();
    let clock: signalbox::store::Clock = std::sync::Arc::new(move || {
        DateTime::from_timestamp_millis(read.load(std::sync::atomic::Ordering::SeqCst))
            .unwrap_or_default()
    });
    (ms, clock)
}

/// Writes `n` events of one message at `at` (one batch) and returns the names of the rules
/// that fired, the store's clock set to `at`.
async fn minute(
    store: &Store,
    clock: &std::sync::atomic::AtomicI64,
    at: DateTime<Utc>,
    n: usize,
    level: Level,
    message: &str,
) -> Vec<String> {
    clock.store(at.timestamp_millis(), std::sync::atomic::Ordering::SeqCst);
    let events = (0..n).map(|_| event(at, level, "api", message)).collect();
    let summary = write(store, events).await;
    summary.alerts.into_iter().map(|a| a.rule_name).collect()
}

async fn default_rules_fire_on_a_simulated_timeline(store: Store) {
    let start = t("2026-11-27T10:00:00Z");
    let (clock, read) = clock_at(start);
    let store = store.with_clock(read);
    let m = |n: i64| start + Duration::minutes(n) + Duration::seconds(10);
    let names = store
        .alert_rules()
        .await
        .expect("rules")
        .into_iter()
        .map(|r| r.name)
        .collect::<Vec<_>>();
    assert_eq!(
        names,
        [
            "New error",
            "Spike",
            "Sustained",
            "Critical",
            "Regression",
            "Error rate",
            "Probe down",
            "Probe slow",
            "Certificate expiring",
            "DNS failure",
            "Signalbox memory",
            "Signalbox error rate",
            "Source lagging",
            "Deploy checks failed",
            "Deploy introduced errors"
        ]
    );
    let db = "database connection refused on 10.0.0.5:5432";

    // Minute 0: a new error, then nine more of it in the same minute: the tenth is a spike.
    assert_eq!(
        minute(&store, &clock, m(0), 1, Level::Error, db).await,
        ["New error"]
    );
    assert!(
        minute(&store, &clock, m(0), 8, Level::Error, db)
            .await
            .is_empty(),
        "nine in minute 0"
    );
    assert_eq!(
        minute(&store, &clock, m(0), 1, Level::Error, db).await,
        ["Spike"],
        "the tenth"
    );
    // Minutes 1 to 4: once a minute; at minute 4 it has occurred in five minutes in a row.
    for n in 1..=3 {
        assert!(
            minute(&store, &clock, m(n), 1, Level::Error, db)
                .await
                .is_empty(),
            "minute {n}"
        );
    }
    assert_eq!(
        minute(&store, &clock, m(4), 1, Level::Error, db).await,
        ["Sustained"]
    );
    // Minute 5: another spike, but the spike rule is cooling down for 30 minutes.
    assert!(
        minute(&store, &clock, m(5), 10, Level::Error, db)
            .await
            .is_empty(),
        "cooldown"
    );
    // Minute 40: the cooldowns are over; half a spike, then (a new handle on the same
    // database: the window's state is in the store) the other half.
    assert!(minute(&store, &clock, m(40), 5, Level::Error, db)
        .await
        .is_empty());
    store.reload_rules();
    let again = store.clone();
    assert_eq!(
        minute(&again, &clock, m(40), 5, Level::Error, db).await,
        ["Spike"]
    );
    // A late event, for minute 38, evaluated at minute 41: no spike (not ten in minute 38).
    clock.store(
        m(41).timestamp_millis(),
        std::sync::atomic::Ordering::SeqCst,
    );
    assert!(write(&store, vec![event(m(38), Level::Error, "api", db)])
        .await
        .alerts
        .is_empty());

    // A critical event of a new group: new error and critical, together.
    let mut fired = minute(
        &store,
        &clock,
        m(42),
        1,
        Level::Critical,
        "disk full on /var/lib/postgresql",
    )
    .await;
    fired.sort();
    assert_eq!(fired, ["Critical", "New error"]);

    // Resolved by hand, then it occurs again: regression.
    let fp = store
        .list_groups(&GroupQuery {
            limit: 10,
            ..GroupQuery::default()
        })
        .await
        .expect("groups")
        .items
        .into_iter()
        .find(|g| g.template.contains("database connection refused"))
        .expect("the db group")
        .fingerprint;
    set_status(&store, &fp, GroupStatus::Resolved).await;
    assert_eq!(
        minute(&store, &clock, m(50), 1, Level::Error, db).await,
        ["Regression"]
    );

    // Error rate: 2 % of the service's lines in five minutes (and enough lines to judge).
    assert!(
        minute(&store, &clock, m(90), 150, Level::Info, "GET /health 200")
            .await
            .is_empty()
    );
    assert_eq!(
        minute(&store, &clock, m(91), 3, Level::Warn, "slow request 900ms").await,
        Vec::<String>::new()
    );
    let fired = minute(
        &store,
        &clock,
        m(92),
        3,
        Level::Error,
        "upstream returned 502 Bad Gateway",
    )
    .await;
    // The second error of a new group: 2 of 155 lines (1.3 %) — and that group is new.
    assert_eq!(fired, ["New error", "Error rate"]);

    // Every firing is stored, newest first, and counted on its rule.
    let alerts = store.alerts(None, 100).await.expect("alerts");
    assert_eq!(alerts.len(), 9, "{alerts:#?}");
    assert_eq!(alerts[0].rule_name, "Error rate");
    assert_eq!(alerts[0].fingerprint, None);
    // The rules that create tasks opened one per group, and only one.
    let tasks = store
        .tasks(&TaskQuery {
            limit: 100,
            ..TaskQuery::default()
        })
        .await
        .expect("tasks");
    let titles: Vec<&str> = tasks.items.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles.len(), 3, "db, disk and 502 groups: {titles:?}");
    assert!(titles.iter().all(|t| t.starts_with("Investigate error: ")));
    let spike = store
        .alert_rules()
        .await
        .expect("rules")
        .into_iter()
        .find(|r| r.name == "Spike")
        .expect("spike");
    assert_eq!(spike.trigger_count, 2);
}

async fn rules_are_edited_with_clear_errors(store: Store) {
    use signalbox::model::{AlertAction, AlertCondition, AlertRule, AlertRuleType};
    let rule = AlertRule {
        id: 0,
        name: "Checkout timeouts".into(),
        rule_type: AlertRuleType::Spike,
        condition: AlertCondition {
            threshold: Some(3),
            window_minutes: Some(5),
            service: Some("checkout".into()),
            pattern: Some("(?i)timeout".into()),
            ..AlertCondition::default()
        },
        action: AlertAction::Notify,
        enabled: true,
        cooldown_minutes: 10,
        last_triggered: None,
        trigger_count: 0,
    };
    let created = store
        .create_alert_rule(&rule)
        .await
        .expect("store")
        .expect("valid");
    assert!(created.id > 0);
    assert_eq!(created.condition, rule.condition);
    let duplicate = store
        .create_alert_rule(&rule)
        .await
        .expect("store")
        .expect_err("same name");
    assert_eq!(duplicate.field, "name");
    let bad = AlertRule {
        condition: AlertCondition {
            minutes: Some(5),
            ..AlertCondition::default()
        },
        ..rule.clone()
    };
    assert_eq!(
        store
            .create_alert_rule(&AlertRule {
                name: "x".into(),
                ..bad
            })
            .await
            .expect("store")
            .expect_err("bad")
            .field,
        "condition.minutes"
    );
    let disabled = AlertRule {
        enabled: false,
        cooldown_minutes: 60,
        ..created.clone()
    };
    let updated = store
        .update_alert_rule(created.id, &disabled)
        .await
        .expect("store")
        .expect("exists")
        .expect("valid");
    assert!(!updated.enabled);
    assert_eq!(updated.cooldown_minutes, 60);
    assert!(store
        .update_alert_rule(999_999, &disabled)
        .await
        .expect("store")
        .is_none());
    assert!(store.delete_alert_rule(created.id).await.expect("delete"));
    assert!(!store.delete_alert_rule(created.id).await.expect("delete"));
}

async fn migrations_are_idempotent(store: Store) {
    assert!(store.is_ready().await);
    assert_eq!(store.migrate().await.expect("second migrate"), 0);
}

async fn errors_become_groups_and_every_line_is_counted(store: Store) {
    let at = t("2026-11-27T10:00:30Z");
    let summary = write(
        &store,
        vec![
            event(at, Level::Info, "api", "GET /health 200"),
            event(at, Level::Warn, "api", "slow request 1200ms"),
            event(
                at,
                Level::Error,
                "api",
                "HTTP 500 at /api/foo user_id=123 timestamp=2024-01-01",
            ),
            event(
                at + Duration::seconds(5),
                Level::Error,
                "api",
                "HTTP 500 at /api/foo user_id=456 timestamp=2024-01-02",
            ),
            event(at, Level::Critical, "db", "database down"),
        ],
    )
    .await;
    assert_eq!(summary.accepted, 5);
    assert_eq!(summary.occurrences, 3);
    assert_eq!(summary.new_groups.len(), 2);

    let page = store
        .list_groups(&GroupQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(page.items.len(), 2);
    let top = &page.items[0];
    assert_eq!(
        top.template,
        "HTTP 500 at /api/foo user_id=<num> timestamp=<ts>"
    );
    assert_eq!(top.occurrences, 2);
    assert_eq!(top.first_seen, at);
    assert_eq!(top.last_seen, at + Duration::seconds(5));
    assert_eq!(
        top.sample_message,
        "HTTP 500 at /api/foo user_id=456 timestamp=2024-01-02"
    );
    assert_eq!(top.status, GroupStatus::Unresolved);
    assert_eq!(page.items[1].level, Level::Critical);

    // Classification filters.
    let by = |q: GroupQuery| {
        let store = store.clone();
        async move {
            store
                .list_groups(&GroupQuery { limit: 10, ..q })
                .await
                .expect("list")
                .items
                .len()
        }
    };
    assert_eq!(
        by(GroupQuery {
            severity: Some(signalbox::model::Severity::Critical),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        by(GroupQuery {
            category: Some(signalbox::model::Category::Database),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        by(GroupQuery {
            fixable: Some(true),
            ..Default::default()
        })
        .await,
        1
    );
    assert_eq!(
        by(GroupQuery {
            fixable: Some(false),
            ..Default::default()
        })
        .await,
        1
    );
    let categories = store.category_counts().await.expect("counts");
    assert_eq!(categories.iter().map(|(_, n)| n).sum::<i64>(), 2);

    // Text search: `_` and `%` are literal, a backslash is fine on both backends.
    for (text, found) in [
        ("user_id", 1),
        ("USER_ID=<", 1),
        ("user%id", 0),
        ("a\\b", 0),
        ("\\", 0),
    ] {
        let page = store
            .list_groups(&GroupQuery {
                text: Some(text.into()),
                limit: 10,
                ..Default::default()
            })
            .await
            .expect("search works");
        assert_eq!(page.items.len(), found, "search {text:?}");
    }

    let stats = store
        .stats(at + Duration::minutes(1), Duration::hours(24))
        .await
        .expect("stats");
    assert_eq!(stats.lines, 5);
    assert_eq!(stats.errors, 3);
    assert!((stats.error_rate - 0.6).abs() < 1e-9);
    assert_eq!(stats.groups, 2);
    assert_eq!(stats.per_minute.len(), 1);
    assert_eq!(stats.per_minute[0].minute, t("2026-11-27T10:00:00Z"));

    // A second batch updates the group instead of creating one.
    let later = write(
        &store,
        vec![event(
            at + Duration::hours(1),
            Level::Error,
            "api",
            "HTTP 500 at /api/foo user_id=9 timestamp=2024-03-01",
        )],
    )
    .await;
    assert!(later.new_groups.is_empty());
    let group = store
        .group(&top.fingerprint)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(group.occurrences, 3);
    assert_eq!(group.first_seen, at);
}

/// A batch of more groups and counters than one statement takes (groups and counters are
/// written fifty and a hundred per statement): every group, count and regression is kept.
async fn batches_of_many_groups_are_written_whole(store: Store) {
    let at = t("2026-11-27T10:00:30Z");
    // Letters only: each message is a template of its own.
    let name = |i: usize| {
        let letters = b"abcdefghijklmnopqrstuvwxyz";
        format!("{}{}", letters[i / 26] as char, letters[i % 26] as char)
    };
    let events = |minutes: i64| -> Vec<Event> {
        (0..130)
            .flat_map(|i| {
                (0..minutes).map(move |m| {
                    let service = if i % 2 == 0 { "api" } else { "worker" };
                    (i, m, service)
                })
            })
            .map(|(i, m, service)| {
                event(
                    at + Duration::minutes(m),
                    Level::Error,
                    service,
                    &format!("checkout step {} failed", name(i)),
                )
            })
            .collect()
    };
    let first = write(&store, events(2)).await;
    assert_eq!(first.accepted, 260);
    assert_eq!(first.new_groups.len(), 130);
    let fingerprints = first.new_groups.clone();
    for fp in &fingerprints {
        let group = store.group(fp).await.expect("read").expect("stored");
        assert_eq!(group.occurrences, 2, "{}", group.template);
        assert_eq!(group.first_seen, at);
        assert_eq!(group.last_seen, at + Duration::minutes(1));
    }
    for fp in fingerprints.iter().take(60) {
        set_status(&store, fp, GroupStatus::Resolved).await;
    }
    let second = write(&store, events(1)).await;
    assert!(second.new_groups.is_empty());
    assert_eq!(second.regressed.len(), 60);
    for fp in &fingerprints {
        let group = store.group(fp).await.expect("read").expect("stored");
        assert_eq!(group.occurrences, 3, "{}", group.template);
    }
    let stats = store
        .stats(at + Duration::minutes(2), Duration::hours(1))
        .await
        .expect("stats");
    assert_eq!((stats.errors, stats.lines), (390, 390));
}

async fn duplicates_are_dropped_and_cursors_commit_with_events(store: Store) {
    let at = t("2026-11-27T10:00:00Z");
    let mut events: Vec<Event> = (0..4)
        .map(|i| {
            let mut e = event(at, Level::Error, "api", "boom");
            e.source_id = Some(format!("line-{i}"));
            e
        })
        .collect();
    // The same id twice in one batch counts once.
    events.push(events[0].clone());
    let processed: Vec<_> = events.iter().cloned().map(process).collect();
    let cursor = CursorUpdate {
        source: "test".into(),
        cursor: "c1".into(),
    };
    let first = store
        .write_batch(&processed, Some(&cursor))
        .await
        .expect("write");
    assert_eq!((first.accepted, first.duplicates), (4, 1));
    assert_eq!(
        store.cursor("test").await.expect("cursor").as_deref(),
        Some("c1")
    );

    // Replaying the batch (a crash before the caller saw the commit) changes nothing.
    let again = store
        .write_batch(
            &processed,
            Some(&CursorUpdate {
                source: "test".into(),
                cursor: "c2".into(),
            }),
        )
        .await
        .expect("write");
    assert_eq!((again.accepted, again.duplicates), (0, 5));
    assert_eq!(
        store.cursor("test").await.expect("cursor").as_deref(),
        Some("c2")
    );
    let group = &store
        .list_groups(&GroupQuery {
            limit: 5,
            ..Default::default()
        })
        .await
        .expect("list")
        .items[0];
    assert_eq!(group.occurrences, 4);
    let stats = store
        .stats(at + Duration::minutes(1), Duration::hours(1))
        .await
        .expect("stats");
    assert_eq!(stats.lines, 4);
    assert_eq!(store.cursor("other").await.expect("cursor"), None);

    // Old and new ids mixed, over several statements' worth of ids: only the new ones count,
    // and the old ones in later statements undo nothing written before them.
    let mixed: Vec<_> = (0..700)
        .map(|i| {
            let mut e = event(at, Level::Info, "api", "hello");
            e.source_id = Some(format!("mixed-{i:03}"));
            e
        })
        .chain([1, 3].map(|i| {
            let mut e = event(at, Level::Error, "api", "boom");
            e.source_id = Some(format!("line-{i}"));
            e
        }))
        .map(process)
        .collect();
    let seen_some = store.write_batch(&mixed[..350], None).await.expect("write");
    assert_eq!((seen_some.accepted, seen_some.duplicates), (350, 0));
    let rest = store.write_batch(&mixed, None).await.expect("write");
    assert_eq!((rest.accepted, rest.duplicates), (350, 352));
    let stats = store
        .stats(at + Duration::minutes(1), Duration::hours(1))
        .await
        .expect("stats");
    assert_eq!((stats.lines, stats.errors), (704, 4));
}

async fn group_lists_filter_sort_and_page(store: Store) {
    let base = t("2026-11-27T00:00:00Z");
    let mut events = Vec::new();
    for i in 0..25i64 {
        // Group i has i+1 occurrences; the last seen time grows with i too.
        for k in 0..=i {
            let service = if i % 2 == 0 { "even" } else { "odd" };
            let level = if i == 3 {
                Level::Critical
            } else {
                Level::Error
            };
            events.push(event(
                base + Duration::minutes(i) + Duration::seconds(k),
                level,
                service,
                &format!("failure kind{} happened", (b'a' + i as u8) as char),
            ));
        }
    }
    write(&store, events).await;

    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_groups(&GroupQuery {
                limit: 7,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .expect("page");
        seen.extend(page.items.iter().map(|g| g.occurrences));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, (1..=25).rev().collect::<Vec<i64>>());

    let mut by_time = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_groups(&GroupQuery {
                sort: GroupSort::LastSeen,
                limit: 10,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .expect("page");
        by_time.extend(page.items.iter().map(|g| g.last_seen));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(by_time.len(), 25);
    assert!(by_time.windows(2).all(|w| w[0] >= w[1]));

    let odd = store
        .list_groups(&GroupQuery {
            service: Some("odd".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(odd.items.len(), 12);
    let critical = store
        .list_groups(&GroupQuery {
            level: Some(Level::Critical),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(critical.items.len(), 1);
    let text = store
        .list_groups(&GroupQuery {
            text: Some("KINDC".into()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(text.items.len(), 1);
    let recent = store
        .list_groups(&GroupQuery {
            since: Some(base + Duration::minutes(20)),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(recent.items.len(), 5);
    assert!(store
        .list_groups(&GroupQuery {
            cursor: Some("nonsense".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .is_err());
}

async fn occurrences_page_newest_first(store: Store) {
    let base = t("2026-11-27T00:00:00Z");
    let events: Vec<Event> = (0..1000)
        .map(|i| {
            event(
                base + Duration::seconds(i),
                Level::Error,
                "api",
                &format!("job {i} failed"),
            )
        })
        .collect();
    write(&store, events).await;
    let fp = store
        .list_groups(&GroupQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .items[0]
        .fingerprint
        .clone();
    let mut ids = HashSet::new();
    let mut last_time = None;
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store
            .occurrences(&fp, cursor.as_deref(), 300)
            .await
            .expect("page");
        pages += 1;
        for o in &page.items {
            assert!(ids.insert(o.id), "occurrence {} twice", o.id);
            if let Some(prev) = last_time {
                assert!(o.timestamp <= prev);
            }
            last_time = Some(o.timestamp);
            assert_eq!(o.attributes.get("replica").map(String::as_str), Some("r1"));
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!((ids.len(), pages), (1000, 4));
    assert!(store.occurrences(&fp, Some("x"), 10).await.is_err());
}

async fn resolved_groups_reopen_on_a_new_occurrence(store: Store) {
    let at = t("2026-11-27T00:00:00Z");
    write(&store, vec![event(at, Level::Error, "api", "boom")]).await;
    let fp = store
        .list_groups(&GroupQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .items[0]
        .fingerprint
        .clone();
    assert!(matches!(
        set_status(&store, &fp, GroupStatus::Resolved).await,
        StatusOutcome::Changed(_)
    ));
    assert_eq!(
        set_status(&store, &"0".repeat(64), GroupStatus::Resolved).await,
        StatusOutcome::NoGroup
    );
    write(
        &store,
        vec![event(at + Duration::hours(1), Level::Error, "api", "boom")],
    )
    .await;
    assert_eq!(
        store
            .group(&fp)
            .await
            .expect("read")
            .expect("exists")
            .status,
        GroupStatus::Regressed
    );
    let history = store.status_history(&fp, None, 10).await.expect("history");
    assert_eq!(history.items[0].to, GroupStatus::Regressed, "{history:?}");
    assert_eq!(history.items[0].actor, "signalbox");
    // Ignored for two more occurrences: the first keeps it ignored, the second ends the mute.
    let mute = StatusChange {
        mute_for_occurrences: Some(2),
        ..StatusChange::to(GroupStatus::Ignored, "admin", None)
    };
    store
        .set_status(&fp, &mute, Utc::now())
        .await
        .expect("mute");
    write(
        &store,
        vec![event(
            at + Duration::minutes(90),
            Level::Error,
            "api",
            "boom",
        )],
    )
    .await;
    assert_eq!(
        store
            .group(&fp)
            .await
            .expect("read")
            .expect("exists")
            .status,
        GroupStatus::Ignored
    );
    write(
        &store,
        vec![event(
            at + Duration::minutes(95),
            Level::Error,
            "api",
            "boom",
        )],
    )
    .await;
    assert_eq!(
        store
            .group(&fp)
            .await
            .expect("read")
            .expect("exists")
            .status,
        GroupStatus::Unresolved
    );
    // Ignored stays ignored.
    set_status(&store, &fp, GroupStatus::Ignored).await;
    write(
        &store,
        vec![event(at + Duration::hours(2), Level::Error, "api", "boom")],
    )
    .await;
    assert_eq!(
        store
            .group(&fp)
            .await
            .expect("read")
            .expect("exists")
            .status,
        GroupStatus::Ignored
    );
}

async fn retention_keeps_groups_and_counts(store: Store) {
    let old = t("2026-10-01T00:00:00Z");
    let new = t("2026-11-27T00:00:00Z");
    let mut events = vec![
        event(old, Level::Error, "api", "boom"),
        event(new, Level::Error, "api", "boom"),
    ];
    events[0].source_id = Some("old".into());
    let replay = events[0].clone();
    write(&store, events).await;
    let deleted = store
        .prune(t("2026-11-01T00:00:00Z"), || false)
        .await
        .expect("prune");
    assert_eq!(
        deleted, 2,
        "one raw log, one occurrence; the id was seen just now and stays"
    );
    // Reading the old event again (a source replaying history) does not count it twice.
    assert_eq!(write(&store, vec![replay]).await.duplicates, 1);
    let group = &store
        .list_groups(&GroupQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .items[0];
    assert_eq!(group.occurrences, 2);
    assert_eq!(
        store
            .occurrences(&group.fingerprint, None, 10)
            .await
            .expect("page")
            .items
            .len(),
        1
    );
    assert_eq!(
        store
            .stats(old + Duration::minutes(1), Duration::hours(1))
            .await
            .expect("stats")
            .errors,
        1
    );
}

async fn crawl_runs_are_recorded(store: Store) {
    let at = t("2026-11-27T00:00:00Z");
    store
        .start_run("run-1", "api", None, at)
        .await
        .expect("start");
    let done = RunReport {
        events: 10,
        errors_found: 3,
        api_errors: 1,
        ..RunReport::default()
    };
    store
        .finish_run("run-1", at + Duration::seconds(2), &done)
        .await
        .expect("finish");
    store
        .start_run(
            "run-2",
            "schedule",
            Some("railway"),
            at + Duration::seconds(5),
        )
        .await
        .expect("start");
    let failed = RunReport {
        error: Some("railway: 429".into()),
        ..RunReport::default()
    };
    store
        .finish_run("run-2", at + Duration::seconds(5), &failed)
        .await
        .expect("finish");
    assert!(
        store.start_run("run-1", "api", None, at).await.is_err(),
        "run ids are unique"
    );
    let runs = store.recent_runs(10).await.expect("runs");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].id, "run-2", "newest first");
    assert_eq!(runs[0].status, "failed");
    assert_eq!(runs[0].source.as_deref(), Some("railway"));
    assert_eq!(runs[1].status, "succeeded");
    assert_eq!(
        (runs[1].events, runs[1].errors_found, runs[1].api_errors),
        (10, 3, 1)
    );
    assert_eq!(runs[1].duration_ms, Some(2000));
}

async fn one_lease_holder_at_a_time(store: Store) {
    let now = t("2026-11-27T00:00:00Z");
    let ttl = Duration::seconds(20);
    assert!(store
        .acquire_lease("monitor", "a", now, ttl)
        .await
        .expect("lease"));
    assert!(
        !store
            .acquire_lease("monitor", "b", now, ttl)
            .await
            .expect("lease"),
        "held by a"
    );
    assert!(
        store
            .acquire_lease("monitor", "a", now + Duration::seconds(5), ttl)
            .await
            .expect("lease"),
        "a renews"
    );
    assert!(
        !store
            .acquire_lease("monitor", "b", now + Duration::seconds(24), ttl)
            .await
            .expect("lease"),
        "renewed until 25 s"
    );
    assert!(
        store
            .acquire_lease("monitor", "b", now + Duration::seconds(26), ttl)
            .await
            .expect("lease"),
        "expired: b takes over"
    );
    assert!(!store
        .acquire_lease("monitor", "a", now + Duration::seconds(27), ttl)
        .await
        .expect("lease"));
    store.release_lease("monitor", "b").await.expect("release");
    assert!(
        store
            .acquire_lease("monitor", "a", now + Duration::seconds(28), ttl)
            .await
            .expect("lease"),
        "released"
    );
}

async fn projects_and_keys(store: Store) {
    let fixed = store
        .create_project(
            "checkout",
            Some(42),
            Some("0123456789abcdef0123456789abcdef"),
        )
        .await
        .expect("create");
    assert_eq!(
        (fixed.id, fixed.public_key.as_str()),
        (42, "0123456789abcdef0123456789abcdef")
    );
    let generated = store
        .create_project("web", None, None)
        .await
        .expect("create");
    assert_eq!(generated.public_key.len(), 32);
    assert_ne!(generated.id, 42);
    assert!(
        store.create_project("web", None, None).await.is_err(),
        "names are unique"
    );
    assert_eq!(store.project(42).await.expect("read"), Some(fixed.clone()));
    assert_eq!(store.project(7).await.expect("read"), None);
    assert_eq!(
        store
            .project_by_key("0123456789abcdef0123456789abcdef")
            .await
            .expect("read"),
        Some(fixed.clone())
    );
    assert_eq!(store.project_by_key("nope").await.expect("read"), None);
    assert_eq!(store.projects().await.expect("list").len(), 2);
    assert_eq!(
        fixed.dsn("https://signalbox.example.com/"),
        "https://0123456789abcdef0123456789abcdef@signalbox.example.com/42"
    );
}

fn fired(group: &signalbox::model::Group, at: DateTime<Utc>) -> Alert {
    Alert {
        id: 0,
        rule_id: 9,
        rule_name: "new errors".into(),
        rule_type: AlertRuleType::NewFingerprint,
        action: AlertAction::Notify,
        fingerprint: Some(group.fingerprint.clone()),
        service: group.service.clone(),
        fired_at: at,
        summary: "first seen".into(),
    }
}

async fn notifications_enqueue_once_and_claim_once(store: Store) {
    let at = t("2026-11-27T10:00:00Z");
    write(
        &store,
        vec![event(
            at,
            Level::Error,
            "api",
            "could not connect to postgres: connection refused",
        )],
    )
    .await;
    let group = store
        .list_groups(&GroupQuery {
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .items
        .remove(0);
    assert!(group.fixable, "a database error is fixable");
    let channels = Channels {
        slack: true,
        webhook: true,
        auto_fix: true,
        public_url: "https://sb.example.com".into(),
    };
    let alert = fired(&group, at);
    // Replays of the same alert enqueue nothing twice.
    assert_eq!(
        notify::enqueue(&store, &alert, Some(&group), &channels)
            .await
            .expect("enqueue"),
        3
    );
    assert_eq!(
        notify::enqueue(&store, &alert, Some(&group), &channels)
            .await
            .expect("enqueue"),
        0
    );
    let rows = store.notifications(None, 50).await.expect("list");
    let mut by_channel: Vec<NotifyChannel> = rows.iter().map(|r| r.channel).collect();
    by_channel.sort();
    assert_eq!(
        by_channel,
        [
            NotifyChannel::Slack,
            NotifyChannel::Webhook,
            NotifyChannel::Fix
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.status == DeliveryStatus::Pending && r.attempts == 0));
    assert!(rows.iter().all(|r| r.alert == alert));
    // Another firing of the rule is another notification.
    assert_eq!(
        notify::enqueue(
            &store,
            &fired(&group, at + Duration::minutes(10)),
            Some(&group),
            &Channels {
                webhook: false,
                auto_fix: false,
                ..channels.clone()
            }
        )
        .await
        .expect("enqueue"),
        1
    );

    // Two workers claim the same due row at once: exactly one wins.
    let now = Utc::now();
    let due = store
        .due_notifications(NotifyChannel::Webhook, now, 10)
        .await
        .expect("due");
    assert_eq!(due.len(), 1);
    let row = &due[0];
    let (a, b) = (now + Duration::seconds(60), now + Duration::seconds(61));
    let (won_a, won_b) = tokio::join!(
        store.claim_notification(row.id, row.next_attempt_at, a),
        store.claim_notification(row.id, row.next_attempt_at, b),
    );
    let (won_a, won_b) = (won_a.expect("claim"), won_b.expect("claim"));
    assert!(won_a ^ won_b, "exactly one claim wins: {won_a} {won_b}");
    let (mine, theirs) = if won_a { (a, b) } else { (b, a) };
    assert!(
        store
            .due_notifications(NotifyChannel::Webhook, now, 10)
            .await
            .expect("due")
            .is_empty(),
        "a claimed row is not due"
    );
    // The loser cannot mark it; a retry is scheduled by the winner.
    assert!(!store
        .notification_failed(row.id, theirs, Some(now), "HTTP 500")
        .await
        .expect("update"));
    assert!(store
        .notification_failed(row.id, mine, Some(now), "HTTP 500: rollup_error")
        .await
        .expect("update"));
    let again = store
        .due_notifications(NotifyChannel::Webhook, now, 10)
        .await
        .expect("due");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempts, 1);
    assert_eq!(
        again[0].last_error.as_deref(),
        Some("HTTP 500: rollup_error")
    );
    // A release (shutdown mid-delivery) gives the attempt back.
    let claim = now + Duration::seconds(30);
    assert!(store
        .claim_notification(row.id, again[0].next_attempt_at, claim)
        .await
        .expect("claim"));
    assert!(store
        .release_notification(row.id, claim, now)
        .await
        .expect("release"));
    let released = store
        .due_notifications(NotifyChannel::Webhook, now, 10)
        .await
        .expect("due");
    assert_eq!(released[0].attempts, 1);
    // Then it fails for good.
    assert!(store
        .claim_notification(row.id, released[0].next_attempt_at, claim)
        .await
        .expect("claim"));
    assert!(store
        .notification_failed(row.id, claim, None, "HTTP 400: invalid_payload")
        .await
        .expect("update"));
    let failed = store
        .notifications(Some(DeliveryStatus::Failed), 10)
        .await
        .expect("list");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 2);

    // Sent once; a second mark with the same claim does nothing.
    let slack = store
        .due_notifications(NotifyChannel::Slack, now, 10)
        .await
        .expect("due");
    assert_eq!(slack.len(), 2);
    assert!(store
        .claim_notification(slack[0].id, slack[0].next_attempt_at, claim)
        .await
        .expect("claim"));
    assert!(store
        .notification_sent(slack[0].id, claim, now)
        .await
        .expect("sent"));
    assert!(!store
        .notification_sent(slack[0].id, claim, now)
        .await
        .expect("sent"));
    let sent = store
        .notifications(Some(DeliveryStatus::Sent), 10)
        .await
        .expect("list");
    assert_eq!(sent.len(), 1);
    assert!(sent[0].sent_at.is_some());
    assert_eq!(sent[0].payload["blocks"][0]["type"], "header");

    let counts = store.notification_counts().await.expect("counts");
    let count = |c, s| {
        counts
            .iter()
            .find(|(cc, ss, _)| *cc == c && *ss == s)
            .map_or(0, |(_, _, n)| *n)
    };
    assert_eq!(count(NotifyChannel::Slack, DeliveryStatus::Pending), 1);
    assert_eq!(count(NotifyChannel::Slack, DeliveryStatus::Sent), 1);
    assert_eq!(count(NotifyChannel::Webhook, DeliveryStatus::Failed), 1);
    assert_eq!(count(NotifyChannel::Fix, DeliveryStatus::Pending), 1);
}

// ---- the runner --------------------------------------------------------------------------

type Case = fn(Store) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Sets a group's status as the admin, now.
async fn set_status(store: &Store, fingerprint: &str, status: GroupStatus) -> StatusOutcome {
    store
        .set_status(
            fingerprint,
            &StatusChange::to(status, "admin", None),
            Utc::now(),
        )
        .await
        .expect("status change")
}

/// The fingerprint of the group `message` makes (one error event at `at`).
/// Switches every alert rule off: the task cases open tasks by hand, not through the rules.
async fn rules_off(store: &Store) {
    for rule in store.alert_rules().await.expect("rules") {
        let off = signalbox::model::AlertRule {
            enabled: false,
            ..rule.clone()
        };
        store
            .update_alert_rule(rule.id, &off)
            .await
            .expect("store")
            .expect("exists")
            .expect("valid");
    }
    store.reload_rules();
}

async fn group_at(store: &Store, at: DateTime<Utc>, message: &str) -> String {
    rules_off(store).await;
    let summary = write(store, vec![event(at, Level::Error, "api", message)]).await;
    let processed = process(event(at, Level::Error, "api", message));
    let fp = processed.group.expect("an error group").fingerprint;
    assert_eq!(summary.accepted, 1);
    fp
}

fn alert(rule_name: &str, rule_type: AlertRuleType, fingerprint: &str) -> Alert {
    Alert {
        id: 0,
        rule_id: 1,
        rule_name: rule_name.into(),
        rule_type,
        action: AlertAction::CreateTask,
        fingerprint: Some(fingerprint.into()),
        service: Some("api".into()),
        fired_at: Utc::now(),
        summary: "12 events in 1 min (threshold 10)".into(),
    }
}

async fn one_open_task_per_group_even_when_racing(store: Store) {
    let at = t("2026-11-27T10:00:00Z");
    let fp = group_at(&store, at, "payment provider timed out").await;
    let url = "https://sb.example.com";

    // Eight requests at once (two would do; eight make the race likely on both backends).
    let racers = (0..8).map(|_| {
        let store = store.clone();
        let fp = fp.clone();
        tokio::spawn(async move {
            store
                .create_task_for(&fp, None, url, at + Duration::minutes(1))
                .await
        })
    });
    let mut results = Vec::new();
    for racer in racers {
        results.push(
            racer
                .await
                .expect("joined")
                .expect("no database error")
                .expect("the group exists"),
        );
    }
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    let id = results[0].0.id;
    assert!(results.iter().all(|(task, _)| task.id == id));
    let all = store
        .tasks(&TaskQuery {
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(all.items.len(), 1, "one row");
    let task = store.task(id).await.expect("read").expect("exists");
    assert_eq!(task.status, TaskStatus::Open);
    assert_eq!(task.priority, TaskPriority::High, "first seen a minute ago");
    assert_eq!(task.rule, None);
    assert_eq!(
        task.comments.as_deref(),
        Some(&[][..]),
        "manual presses add nothing"
    );
    assert!(task.title.starts_with("Investigate error: "));
    assert_eq!(
        task.metadata["links"]["group"],
        format!("{url}/errors/{fp}")
    );
    assert_eq!(store.open_task_id(&fp).await.expect("read"), Some(id));

    // A rule firing later updates the open task and comments instead of opening another.
    write(
        &store,
        vec![event(
            at + Duration::hours(1),
            Level::Error,
            "api",
            "payment provider timed out",
        )],
    )
    .await;
    let spike = alert("spike", AlertRuleType::Spike, &fp);
    let later = at + Duration::hours(1);
    let (again, created) = store
        .create_task_for(&fp, Some(&spike), url, later)
        .await
        .expect("no database error")
        .expect("the group exists");
    assert!(!created);
    assert_eq!(
        (again.id, again.occurrences, again.updated_at),
        (id, 2, later)
    );
    let task = store.task(id).await.expect("read").expect("exists");
    let comments = task.comments.expect("comments");
    assert_eq!(comments.len(), 1);
    assert!(
        comments[0]
            .body
            .starts_with("Rule spike fired again: 12 events"),
        "{}",
        comments[0].body
    );
    assert_eq!(task.occurrences, 2);

    // Done: the next trigger opens a new task; the old one cannot be reopened beside it.
    let done = store
        .set_task_status(id, TaskStatus::Done, later)
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(done.status, TaskStatus::Done);
    assert_eq!(store.open_task_id(&fp).await.expect("read"), None);
    let (second, created) = store
        .create_task_for(&fp, Some(&spike), url, later)
        .await
        .expect("no database error")
        .expect("the group exists");
    assert!(created);
    assert_ne!(second.id, id);
    assert_eq!(second.rule.as_deref(), Some("spike"));
    assert_eq!(
        second.priority,
        TaskPriority::Medium,
        "a spike of a known error"
    );
    match store.set_task_status(id, TaskStatus::Open, later).await {
        Err(StoreError::Conflict(message)) => assert!(message.contains("not done"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(store
        .set_task_status(second.id, TaskStatus::InProgress, later)
        .await
        .expect("update")
        .is_some_and(|t| t.status == TaskStatus::InProgress));
    assert_eq!(
        store
            .set_task_status(999_999, TaskStatus::Done, later)
            .await
            .expect("update"),
        None
    );
    assert_eq!(
        store
            .create_task_for(&"0".repeat(64), None, url, later)
            .await
            .expect("no database error"),
        None
    );
}

async fn tasks_page_newest_first(store: Store) {
    let at = t("2026-11-27T10:00:00Z");
    let mut ids = Vec::new();
    let mut fps = Vec::new();
    for i in 0..25 {
        let fp = group_at(
            &store,
            at,
            &format!("worker kind{} crashed", (b'a' + i) as char),
        )
        .await;
        let (task, created) = store
            .create_task_for(&fp, None, "http://localhost:3000", at)
            .await
            .expect("no database error")
            .expect("exists");
        assert!(created);
        if i % 5 == 0 {
            store
                .set_task_status(task.id, TaskStatus::InProgress, at)
                .await
                .expect("update");
        }
        ids.push(task.id);
        fps.push(fp);
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .tasks(&TaskQuery {
                limit: 10,
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .expect("page");
        pages += 1;
        assert!(page.items.iter().all(|t| t.comments.is_none()));
        seen.extend(page.items.iter().map(|t| t.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!((seen, pages), (ids, 3));
    let in_progress = store
        .tasks(&TaskQuery {
            status: Some(TaskStatus::InProgress),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(in_progress.items.len(), 5);
    let one = store
        .tasks(&TaskQuery {
            fingerprint: Some(fps[3].clone()),
            limit: 100,
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(one.items.len(), 1);
    assert_eq!(one.items[0].fingerprint, fps[3]);
    assert!(matches!(
        store
            .tasks(&TaskQuery {
                cursor: Some("x".into()),
                limit: 10,
                ..Default::default()
            })
            .await,
        Err(StoreError::InvalidCursor)
    ));
    assert_eq!(store.task(999_999).await.expect("read"), None);
}

async fn status_changes_are_recorded(store: Store) {
    let at = t("2026-11-27T10:00:00Z");
    let fp = group_at(&store, at, "cache miss storm").await;
    let now = at + Duration::minutes(5);
    let resolve = StatusChange::to(GroupStatus::Resolved, "admin", Some("fixed in 1.2.3"));
    let StatusOutcome::Changed(change) =
        store.set_status(&fp, &resolve, now).await.expect("change")
    else {
        panic!("expected a change");
    };
    assert_eq!(
        (
            change.from,
            change.to,
            change.actor.as_str(),
            change.reason.as_deref(),
            change.at
        ),
        (
            GroupStatus::Unresolved,
            GroupStatus::Resolved,
            "admin",
            Some("fixed in 1.2.3"),
            now
        )
    );
    assert_eq!(
        store.set_status(&fp, &resolve, now).await.expect("change"),
        StatusOutcome::Unchanged(GroupStatus::Resolved),
        "nothing to record"
    );
    // Ignored for 10 more occurrences: the mute ends at the count now + 10.
    let mute = StatusChange {
        mute_for_occurrences: Some(10),
        ..StatusChange::to(GroupStatus::Ignored, "anonymous", None)
    };
    store.set_status(&fp, &mute, now).await.expect("change");
    let lifecycle = store
        .group_lifecycle(&fp)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        (lifecycle.muted_until, lifecycle.muted_until_count),
        (None, Some(11))
    );
    // Unresolving clears the mute.
    set_status(&store, &fp, GroupStatus::Unresolved).await;
    let lifecycle = store
        .group_lifecycle(&fp)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        (
            lifecycle.muted_until,
            lifecycle.muted_until_count,
            lifecycle.open_task
        ),
        (None, None, None)
    );
    assert_eq!(
        store.group_lifecycle(&"0".repeat(64)).await.expect("read"),
        None
    );

    let history = store.status_history(&fp, None, 2).await.expect("history");
    let steps: Vec<(GroupStatus, GroupStatus)> =
        history.items.iter().map(|c| (c.from, c.to)).collect();
    assert_eq!(
        steps,
        [
            (GroupStatus::Ignored, GroupStatus::Unresolved),
            (GroupStatus::Resolved, GroupStatus::Ignored)
        ],
        "newest first"
    );
    let rest = store
        .status_history(&fp, history.next_cursor.as_deref(), 2)
        .await
        .expect("history");
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_cursor, None);
    assert_eq!(rest.items[0].actor, "admin");
    assert!(store.status_history(&fp, Some("x"), 2).await.is_err());
}

async fn quiet_groups_resolve_after_a_day(store: Store) {
    let now = t("2026-11-28T12:00:00Z");
    let quiet = group_at(&store, now - Duration::hours(25), "quiet one").await;
    let recent = group_at(&store, now - Duration::hours(23), "recent one").await;
    let ignored = group_at(&store, now - Duration::hours(30), "ignored one").await;
    let resolved = group_at(&store, now - Duration::hours(30), "resolved one").await;
    let regressed = group_at(&store, now - Duration::hours(48), "regressed one").await;
    set_status(&store, &ignored, GroupStatus::Ignored).await;
    set_status(&store, &resolved, GroupStatus::Resolved).await;
    set_status(&store, &regressed, GroupStatus::Regressed).await;

    let report = store.run_lifecycle(now).await.expect("lifecycle");
    assert_eq!((report.resolved, report.unmuted), (2, 0));
    let status = |fp: String| {
        let store = store.clone();
        async move {
            store
                .group(&fp)
                .await
                .expect("read")
                .expect("exists")
                .status
        }
    };
    assert_eq!(status(quiet.clone()).await, GroupStatus::Resolved);
    assert_eq!(status(regressed.clone()).await, GroupStatus::Resolved);
    assert_eq!(status(recent.clone()).await, GroupStatus::Unresolved);
    assert_eq!(status(ignored).await, GroupStatus::Ignored);
    assert_eq!(status(resolved).await, GroupStatus::Resolved);
    let last = &store
        .status_history(&quiet, None, 1)
        .await
        .expect("history")
        .items[0];
    assert_eq!(
        (
            last.from,
            last.to,
            last.actor.as_str(),
            last.reason.as_deref(),
            last.at
        ),
        (
            GroupStatus::Unresolved,
            GroupStatus::Resolved,
            "signalbox",
            Some("no occurrence for 24 h"),
            now
        )
    );
    // Idempotent: a second run (another replica) changes nothing.
    assert_eq!(
        store.run_lifecycle(now).await.expect("lifecycle"),
        Default::default()
    );
    // The recent one resolves once it has been quiet for a day too.
    let report = store
        .run_lifecycle(now + Duration::hours(2))
        .await
        .expect("lifecycle");
    assert_eq!(report.resolved, 1);
    assert_eq!(status(recent).await, GroupStatus::Resolved);
}

async fn mutes_by_date_expire(store: Store) {
    let now = t("2026-11-28T12:00:00Z");
    let fp = group_at(&store, now, "noisy but known").await;
    let forever = group_at(&store, now, "ignored for good").await;
    let mute = StatusChange {
        muted_until: Some(now + Duration::hours(1)),
        ..StatusChange::to(GroupStatus::Ignored, "admin", Some("deploy in progress"))
    };
    store.set_status(&fp, &mute, now).await.expect("change");
    set_status(&store, &forever, GroupStatus::Ignored).await;
    assert_eq!(
        store
            .group_lifecycle(&fp)
            .await
            .expect("read")
            .expect("exists")
            .muted_until,
        Some(now + Duration::hours(1))
    );
    assert_eq!(
        store
            .run_lifecycle(now + Duration::minutes(59))
            .await
            .expect("run")
            .unmuted,
        0
    );
    let report = store
        .run_lifecycle(now + Duration::hours(2))
        .await
        .expect("run");
    assert_eq!((report.unmuted, report.resolved), (1, 0));
    let group = store.group(&fp).await.expect("read").expect("exists");
    assert_eq!(group.status, GroupStatus::Unresolved);
    let lifecycle = store
        .group_lifecycle(&fp)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        (lifecycle.muted_until, lifecycle.muted_until_count),
        (None, None)
    );
    let last = &store
        .status_history(&fp, None, 1)
        .await
        .expect("history")
        .items[0];
    assert_eq!(
        (last.from, last.to, last.actor.as_str()),
        (GroupStatus::Ignored, GroupStatus::Unresolved, "signalbox")
    );
    assert_eq!(
        store
            .group(&forever)
            .await
            .expect("read")
            .expect("exists")
            .status,
        GroupStatus::Ignored,
        "a mute without a date never expires"
    );
}

/// The System Health and group page reads: series split by level and by service, per-group
/// buckets, open tasks, recent placements, new and quiet groups.
async fn dashboard_series_and_lists(store: Store) {
    let base = t("2026-11-27T10:00:00Z");
    let mut events = vec![
        event(base, Level::Info, "api", "request served"),
        event(
            base + Duration::seconds(10),
            Level::Error,
            "api",
            "upstream failed",
        ),
        event(
            base + Duration::minutes(16),
            Level::Critical,
            "worker",
            "queue lost",
        ),
        event(
            base + Duration::minutes(17),
            Level::Error,
            "api",
            "upstream failed",
        ),
    ];
    events[3].deployment = Some("d2".into());
    write(&store, events).await;
    write(
        &store,
        vec![event(
            base - Duration::hours(30),
            Level::Error,
            "old",
            "quiet failure",
        )],
    )
    .await;

    let until = base + Duration::minutes(30);
    let series = store
        .error_series(base, until, Duration::minutes(15), None)
        .await
        .expect("series");
    let rows: Vec<(i64, &str, &str, i64, i64)> = series
        .iter()
        .map(|r| {
            let at = (r.bucket - base).num_minutes();
            (at, r.service.as_str(), r.level.as_str(), r.errors, r.lines)
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (0, "api", "error", 1, 1),
            (0, "api", "info", 0, 1),
            (15, "api", "error", 1, 1),
            (15, "worker", "critical", 1, 1)
        ]
    );
    let api_only = store
        .error_series(base, until, Duration::minutes(30), Some("api"))
        .await
        .expect("series");
    let rows: Vec<(&str, &str, i64, i64)> = api_only
        .iter()
        .map(|r| (r.service.as_str(), r.level.as_str(), r.errors, r.lines))
        .collect();
    assert_eq!(rows, vec![("api", "error", 2, 2), ("api", "info", 0, 1)]);

    let groups = store
        .list_groups(&GroupQuery {
            limit: 10,
            ..GroupQuery::default()
        })
        .await
        .expect("groups")
        .items;
    let upstream = groups
        .iter()
        .find(|g| g.template == "upstream failed")
        .expect("the group")
        .fingerprint
        .clone();
    let buckets = store
        .group_series(std::slice::from_ref(&upstream), base, Duration::minutes(15))
        .await
        .expect("buckets");
    let counts: Vec<(i64, i64)> = buckets
        .iter()
        .map(|b| ((b.bucket - base).num_minutes(), b.count))
        .collect();
    assert_eq!(counts, vec![(0, 1), (15, 1)]);
    // Whole hours read the hourly rollup: the same occurrences.
    let hourly = store
        .group_series(std::slice::from_ref(&upstream), base, Duration::hours(1))
        .await
        .expect("hours");
    assert_eq!(hourly.iter().map(|b| b.count).collect::<Vec<_>>(), vec![2]);
    assert!(store
        .group_series(&[], base, Duration::hours(1))
        .await
        .expect("none")
        .is_empty());

    let placements = store
        .recent_placements(&upstream, 1)
        .await
        .expect("placements");
    assert_eq!(
        placements,
        vec![(
            Some("api".into()),
            Some("d2".into()),
            Some("production".into())
        )]
    );

    let new = store
        .list_groups(&GroupQuery {
            first_seen_since: Some(base),
            limit: 10,
            ..GroupQuery::default()
        })
        .await
        .expect("new")
        .items;
    assert_eq!(new.len(), 2);
    let quiet = store
        .list_groups(&GroupQuery {
            last_seen_before: Some(base),
            limit: 10,
            ..GroupQuery::default()
        })
        .await
        .expect("quiet")
        .items;
    assert_eq!(
        quiet
            .iter()
            .map(|g| g.template.as_str())
            .collect::<Vec<_>>(),
        vec!["quiet failure"]
    );

    // The default "New error" rule opened a task per group; one is done.
    let open = store
        .tasks(&TaskQuery {
            status: Some(TaskStatus::Open),
            limit: 100,
            ..TaskQuery::default()
        })
        .await
        .expect("tasks")
        .items;
    assert_eq!(open.len(), 3);
    store
        .set_task_status(open[0].id, TaskStatus::Done, base)
        .await
        .expect("done");
    assert_eq!(store.open_task_count().await.expect("count"), 2);
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        &[$((stringify!($name), (|s| Box::pin($name(s))) as Case)),*]
    };
}

async fn fixes_queue_one_per_group_and_merge_resolves(store: Store) {
    use signalbox::model::{FixState, GroupStatus, PrState};
    use signalbox::store::{FixQuery, NewFix};
    let at = t("2026-11-27T10:00:00Z");
    let fp = group_at(&store, at, "checkout crashed on cart totals").await;
    let new = |fingerprint: &'static str| NewFix {
        fingerprint,
        trigger: "manual",
        create_pr: true,
        dry_run_reason: None,
        now: at,
    };
    assert!(store
        .queue_fix(&new("nope"))
        .await
        .expect("query")
        .is_none());
    let fp: &'static str = Box::leak(fp.into_boxed_str());
    let (first, created) = store
        .queue_fix(&new(fp))
        .await
        .expect("query")
        .expect("group");
    assert!(created);
    assert_eq!(first.state, FixState::Queued);
    // A second request while one is in flight gets that one.
    let (again, created) = store
        .queue_fix(&new(fp))
        .await
        .expect("query")
        .expect("group");
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert!(store.start_fix(first.id, at).await.expect("start"));
    assert!(!store.start_fix(first.id, at).await.expect("start once"));
    assert_eq!(
        store
            .fixes_started_since(at - Duration::hours(1))
            .await
            .expect("count"),
        1
    );
    let mut fix = store.fix(first.id).await.expect("read").expect("exists");
    assert_eq!(fix.state, FixState::Running);
    fix.state = FixState::PrOpen;
    fix.diff = Some("--- a/x\n+++ b/x\n".into());
    fix.files = vec!["x.py".into()];
    fix.input_tokens = 1200;
    fix.output_tokens = 300;
    fix.pr_number = Some(7);
    fix.pr_url = Some("https://github.com/acme/shop/pull/7".into());
    fix.pr_state = Some(PrState::Open);
    store.save_fix(&fix, at).await.expect("save");
    let read = store.fix(fix.id).await.expect("read").expect("exists");
    assert_eq!(read.files, vec!["x.py".to_string()]);
    assert_eq!((read.input_tokens, read.output_tokens), (1200, 300));
    assert_eq!(
        store.open_pr_fix_of(fp).await.expect("read").map(|f| f.id),
        Some(fix.id)
    );
    // Not in flight any more: a new request queues a new fix.
    let (second, created) = store
        .queue_fix(&new(fp))
        .await
        .expect("query")
        .expect("group");
    assert!(created);
    assert_ne!(second.id, first.id);
    let page = store
        .fixes(&FixQuery {
            limit: 1,
            ..FixQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(page.items[0].id, second.id);
    let next = store
        .fixes(&FixQuery {
            limit: 1,
            cursor: page.next_cursor,
            ..FixQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(next.items[0].id, first.id);
    assert_eq!(store.fixes_with_open_pr().await.expect("list").len(), 1);
    store
        .set_fix_pr_state(&read, PrState::Merged, at)
        .await
        .expect("merge");
    let merged = store.fix(fix.id).await.expect("read").expect("exists");
    assert_eq!(
        (merged.state, merged.pr_state),
        (FixState::Merged, Some(PrState::Merged))
    );
    let group = store.group(fp).await.expect("read").expect("exists");
    assert_eq!(group.status, GroupStatus::Resolved);
    let history = store.status_history(fp, None, 10).await.expect("history");
    assert!(history.items[0]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("fix merged: pull request #7")));
    // A worker that died mid-fix: its fix goes back to the queue.
    assert!(store.start_fix(second.id, at).await.expect("start"));
    assert_eq!(
        store
            .requeue_stale_fixes(at + Duration::minutes(1), at)
            .await
            .expect("requeue"),
        1
    );
    assert_eq!(
        store.next_queued_fix().await.expect("next").map(|f| f.id),
        Some(second.id)
    );
}

fn listed(service: &str, id: &str, status: &str, created_at: DateTime<Utc>) -> Seen {
    Seen {
        id: id.into(),
        service: service.into(),
        status: status.into(),
        created_at,
        url: None,
        commit_sha: None,
    }
}

/// The deploy `id` of `service` (or the newest with that id), which must exist.
async fn deploy_of(store: &Store, id: &str, service: Option<&str>) -> Deploy {
    store
        .deploy(id, service)
        .await
        .expect("read")
        .expect("the deploy exists")
}

/// `(service, id)` of each deploy, in order.
fn keys(deploys: &[Deploy]) -> Vec<(&str, &str)> {
    deploys
        .iter()
        .map(|d| (d.service.as_str(), d.id.as_str()))
        .collect()
}

/// One deploy per service and id, whether the logs named it or the platform listed it, and
/// whichever came first; the chart marks the ones that went live, by creation time.
async fn deploys_from_logs_and_discovery_are_one(store: Store) {
    let base = t("2026-11-27T10:00:00Z");
    let m = Duration::minutes;
    let line = |at: DateTime<Utc>, service: &str, deployment: &str| {
        let mut e = event(at, Level::Info, service, "request served");
        e.deployment = Some(deployment.into());
        e
    };
    // Logs first, out of order across batches; the same name in another service is another
    // deploy (a release name can be shared).
    write(
        &store,
        vec![
            line(base + m(5), "api", "aaaa1111"),
            line(base + m(20), "api", "aaaa1111"),
        ],
    )
    .await;
    write(
        &store,
        vec![
            line(base + m(3), "api", "aaaa1111"),
            line(base + m(4), "worker", "aaaa1111"),
        ],
    )
    .await;
    let logged = deploy_of(&store, "aaaa1111", Some("api")).await;
    assert_eq!(
        (
            logged.state,
            logged.status.as_str(),
            logged.created_at,
            logged.first_log_at,
            logged.last_log_at
        ),
        (
            DeployState::Logged,
            "",
            base + m(3),
            Some(base + m(3)),
            Some(base + m(20))
        )
    );

    // The platform lists it: its creation time, status and commit; verification starts.
    let sha = "5280bcd8a2595ff5737a8b501cd2f5404fae1180";
    let mut a = listed("api", "aaaa1111", "SUCCESS", base + m(1));
    a.commit_sha = Some(sha.into());
    store
        .record_deploys(std::slice::from_ref(&a), base, base + m(30))
        .await
        .expect("record");
    // Later lines move neither its creation time nor its state.
    write(&store, vec![line(base + m(40), "api", "aaaa1111")]).await;
    let one = deploy_of(&store, "aaaa1111", Some("api")).await;
    assert_eq!(
        (
            one.state,
            one.status.as_str(),
            one.created_at,
            one.commit_sha.as_deref(),
            one.first_log_at,
            one.last_log_at
        ),
        (
            DeployState::Pending,
            "SUCCESS",
            base + m(1),
            Some(sha),
            Some(base + m(3)),
            Some(base + m(40))
        )
    );
    assert_eq!(
        keys(&store.deploys_to_check().await.expect("due")),
        vec![("api", "aaaa1111")]
    );
    // Checked; listed again (without a commit this time), it stays checked and keeps it.
    let check = DeployCheck {
        kind: DeployCheckKind::Health,
        path: "/health".into(),
        ok: true,
        status: Some(200),
        latency_ms: Some(1.5),
        error: None,
    };
    store
        .save_deploy_checks(&one, std::slice::from_ref(&check), base + m(31))
        .await
        .expect("checks");
    a.commit_sha = None;
    store
        .record_deploys(std::slice::from_ref(&a), base, base + m(32))
        .await
        .expect("record");
    let one = deploy_of(&store, "aaaa1111", Some("api")).await;
    assert_eq!(
        (one.state, one.checks_passed, one.commit_sha.as_deref()),
        (DeployState::Checked, 1, Some(sha))
    );
    assert_eq!(
        store.deploy_checks(&one).await.expect("checks"),
        vec![check]
    );
    let worker = deploy_of(&store, "aaaa1111", Some("worker")).await;
    assert!(store
        .deploy_checks(&worker)
        .await
        .expect("checks")
        .is_empty());
    assert_eq!(worker.state, DeployState::Logged);

    // Discovery first, then logs: one row, still to check.
    store
        .record_deploys(
            &[
                listed("api", "bbbb2222", "SUCCESS", base + m(50)),
                // A failed build: listed, never live, not marked.
                listed("api", "cccc3333", "FAILED", base + m(45)),
                // Replaced before Signalbox watched: skipped, not listed, but marked.
                listed("api", "dddd4444", "REMOVED", base + m(10)),
            ],
            base + m(15),
            base + m(50),
        )
        .await
        .expect("record");
    write(&store, vec![line(base + m(52), "api", "bbbb2222")]).await;
    let b = deploy_of(&store, "bbbb2222", None).await;
    assert_eq!(
        (b.state, b.created_at, b.first_log_at),
        (DeployState::Pending, base + m(50), Some(base + m(52)))
    );

    let marks = store
        .deploys_between(base, base + m(120), None, 30)
        .await
        .expect("marks");
    assert_eq!(
        keys(&marks),
        vec![
            ("api", "aaaa1111"),
            ("worker", "aaaa1111"),
            ("api", "dddd4444"),
            ("api", "bbbb2222")
        ]
    );
    let labels: Vec<String> = marks
        .iter()
        .map(signalbox::deploys::compare::marker)
        .collect();
    assert_eq!(
        labels,
        vec![
            "api aaaa111 (5280bcd) 1/1 checks, no new group",
            "worker aaaa111",
            "api dddd444",
            "api bbbb222 checking"
        ]
    );
    let worker_marks = store
        .deploys_between(base, base + m(120), Some("worker"), 30)
        .await
        .expect("marks");
    assert_eq!(keys(&worker_marks), vec![("worker", "aaaa1111")]);
    let window = store
        .deploys_between(base + m(2), base + m(49), None, 1)
        .await
        .expect("marks");
    assert_eq!(keys(&window), vec![("worker", "aaaa1111")]);

    // The list leaves out what happened before Signalbox watched; newest first.
    assert_eq!(
        keys(&store.deploys(10).await.expect("list")),
        vec![
            ("api", "bbbb2222"),
            ("api", "cccc3333"),
            ("worker", "aaaa1111"),
            ("api", "aaaa1111")
        ]
    );
    // Without a service, an id means its newest deploy.
    let newest = deploy_of(&store, "aaaa1111", None).await;
    assert_eq!(newest.service, "worker");
    assert!(store.deploy("nope", None).await.expect("read").is_none());
}

const CASES: &[(&str, Case)] = cases![
    migrations_are_idempotent,
    errors_become_groups_and_every_line_is_counted,
    batches_of_many_groups_are_written_whole,
    duplicates_are_dropped_and_cursors_commit_with_events,
    group_lists_filter_sort_and_page,
    occurrences_page_newest_first,
    resolved_groups_reopen_on_a_new_occurrence,
    retention_keeps_groups_and_counts,
    crawl_runs_are_recorded,
    one_lease_holder_at_a_time,
    default_rules_fire_on_a_simulated_timeline,
    rules_are_edited_with_clear_errors,
    projects_and_keys,
    one_open_task_per_group_even_when_racing,
    tasks_page_newest_first,
    status_changes_are_recorded,
    quiet_groups_resolve_after_a_day,
    mutes_by_date_expire,
    notifications_enqueue_once_and_claim_once,
    fixes_queue_one_per_group_and_merge_resolves,
    dashboard_series_and_lists,
    deploys_from_logs_and_discovery_are_one,
];

#[tokio::test]
async fn store_suite_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (i, (name, case)) in CASES.iter().enumerate() {
        let url = format!("sqlite://{}/case{i}.db", dir.path().display());
        let store = Store::open(&url).await.expect("open sqlite");
        eprintln!("sqlite: {name}");
        case(store.clone()).await;
        store.close().await;
    }
}

#[tokio::test]
async fn store_suite_on_postgres() {
    let Some(server) = PgServer::start() else {
        return;
    };
    for (i, (name, case)) in CASES.iter().enumerate() {
        let url = server.fresh_database(&format!("case{i}")).await;
        let store = Store::open(&url).await.expect("open postgres");
        eprintln!("postgres: {name}");
        case(store.clone()).await;
        store.close().await;
    }
}

/// An upgrade from schema 10 — deploys seen in logs in `deployments`, listed ones in
/// `deploys` — keeps markers, checks and verification results, in one row per service and id.
async fn upgrade_joins_the_two_deploy_tables(url: &str) {
    let store = Store::connect(url).await.expect("connect");
    assert_eq!(store.migrate_to(10).await.expect("schema 10"), 10);
    let base = t("2026-11-27T10:00:00Z").timestamp_millis();
    let at = |minutes: i64| base + minutes * 60_000;
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("raw connection");
    let deploy =
        "INSERT INTO deploys (id, service, status, created_at, url, first_seen_at, state, \
                  verified_at, checks_passed, checks_failed, new_groups) VALUES";
    let check =
        "INSERT INTO deploy_checks (deploy_id, kind, path, ok, status, latency_us, error) VALUES";
    for sql in [
        format!("{deploy} ('rail0001', 'web', 'SUCCESS', {}, 'https://web.example', {}, 'checked', {}, 1, 1, 2)", at(1), at(2), at(3)),
        format!("{deploy} ('rail0002', 'web', 'REMOVED', {}, NULL, {}, 'skipped', NULL, 0, 0, 0)", at(-30), at(2)),
        format!("{check} ('rail0001', 'health', '/health', 1, 200, 1500, NULL)"),
        format!("{check} ('rail0001', 'database', '/health/detailed', 0, 200, 2500, 'the app reports its database unreachable')"),
        format!("INSERT INTO deployments (service, deployment, first_seen, last_seen) VALUES ('web', 'rail0001', {}, {})", at(4), at(90)),
        format!("INSERT INTO deployments (service, deployment, first_seen, last_seen) VALUES ('worker', 'rail0001', {}, {})", at(6), at(7)),
        format!("INSERT INTO deployments (service, deployment, first_seen, last_seen) VALUES ('api', 'v1.2.3', {}, {})", at(8), at(9)),
    ] {
        sqlx::query(&sql).execute(&pool).await.expect("schema 10 row");
    }
    pool.close().await;
    assert_eq!(store.migrate().await.expect("upgrade"), 1);

    let marks = store
        .deploys_between(
            DateTime::from_timestamp_millis(at(-60)).expect("valid"),
            DateTime::from_timestamp_millis(at(60)).expect("valid"),
            None,
            30,
        )
        .await
        .expect("marks");
    let rows: Vec<(&str, &str, DeployState, i64, Option<i64>)> = marks
        .iter()
        .map(|d| {
            (
                d.service.as_str(),
                d.id.as_str(),
                d.state,
                d.created_at.timestamp_millis(),
                d.first_log_at.map(|t| t.timestamp_millis()),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("web", "rail0002", DeployState::Skipped, at(-30), None),
            ("web", "rail0001", DeployState::Checked, at(1), Some(at(4))),
            (
                "worker",
                "rail0001",
                DeployState::Logged,
                at(6),
                Some(at(6))
            ),
            ("api", "v1.2.3", DeployState::Logged, at(8), Some(at(8))),
        ]
    );
    let web = &marks[1];
    assert_eq!(
        (
            web.status.as_str(),
            web.url.as_deref(),
            web.verified_at.map(|t| t.timestamp_millis()),
            web.checks_passed,
            web.checks_failed,
            web.new_groups,
            web.last_log_at.map(|t| t.timestamp_millis())
        ),
        (
            "SUCCESS",
            Some("https://web.example"),
            Some(at(3)),
            1,
            1,
            2,
            Some(at(90))
        )
    );
    let checks: Vec<(DeployCheckKind, bool)> = store
        .deploy_checks(web)
        .await
        .expect("checks")
        .iter()
        .map(|c| (c.kind, c.ok))
        .collect();
    assert_eq!(
        checks,
        vec![
            (DeployCheckKind::Health, true),
            (DeployCheckKind::Database, false)
        ]
    );
    assert_eq!(marks[2].status, "");
    assert!(store
        .deploy_checks(&marks[2])
        .await
        .expect("checks")
        .is_empty());

    // The upgraded table takes new checks, logs and listings.
    let replaced = DeployCheck {
        kind: DeployCheckKind::Health,
        path: "/healthz".into(),
        ok: true,
        status: Some(204),
        latency_ms: Some(2.0),
        error: None,
    };
    store
        .save_deploy_checks(web, std::slice::from_ref(&replaced), store.now())
        .await
        .expect("checks");
    assert_eq!(
        store.deploy_checks(web).await.expect("checks"),
        vec![replaced]
    );
    let mut e = event(
        DateTime::from_timestamp_millis(at(95)).expect("valid"),
        Level::Info,
        "web",
        "ok",
    );
    e.deployment = Some("rail0001".into());
    write(&store, vec![e]).await;
    store
        .record_deploys(
            &[listed(
                "api",
                "v1.2.3",
                "SUCCESS",
                DateTime::from_timestamp_millis(at(7)).expect("valid"),
            )],
            DateTime::from_timestamp_millis(at(0)).expect("valid"),
            store.now(),
        )
        .await
        .expect("record");
    let web = deploy_of(&store, "rail0001", Some("web")).await;
    assert_eq!(web.last_log_at.map(|t| t.timestamp_millis()), Some(at(95)));
    let api = deploy_of(&store, "v1.2.3", Some("api")).await;
    assert_eq!(
        (api.state, api.created_at.timestamp_millis()),
        (DeployState::Pending, at(7))
    );
    store.close().await;
}

#[tokio::test]
async fn upgrade_joins_the_two_deploy_tables_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    upgrade_joins_the_two_deploy_tables(&format!("sqlite://{}/upgrade.db", dir.path().display()))
        .await;
}

#[tokio::test]
async fn upgrade_joins_the_two_deploy_tables_on_postgres() {
    let Some(server) = PgServer::start() else {
        return;
    };
    upgrade_joins_the_two_deploy_tables(&server.fresh_database("upgrade").await).await;
}

/// After a grouping upgrade, errors keep joining the groups the earlier version stored: no
/// stored group starts again as new (no second "New error" alert or task).
async fn earlier_grouping_versions_keep_their_groups(url: &str) {
    let store = Store::open(url).await.expect("open");
    let at = t("2026-11-27T10:00:00Z");
    // Two groups as version 2 stored them, under its fingerprints (which v3 merges), and one
    // the current version made after the upgrade.
    let stored = |fingerprint: &str, minutes: i64, message: &str| {
        let mut processed = process(event(
            at + Duration::minutes(minutes),
            Level::Error,
            "api",
            message,
        ));
        if let Some(group) = processed.group.as_mut() {
            group.fingerprint = fingerprint.to_string();
        }
        processed
    };
    let old_a = "a".repeat(64);
    let old_b = "b".repeat(64);
    let batch = [
        stored(&old_a, 0, "block blk_-42 failed"),
        stored(&old_b, 1, "block blk_43 failed"),
        process(event(at, Level::Error, "api", "queue full for tenant 7")),
    ];
    store.write_batch(&batch, None).await.expect("write");
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("raw connection");
    let old = format!(
        "UPDATE error_fingerprints SET algorithm_version = 2 WHERE fingerprint IN ('{old_a}', '{old_b}')"
    );
    sqlx::query(&old).execute(&pool).await.expect("version 2");
    pool.close().await;

    let aliased = Pipeline::default().with_aliases(
        store
            .grouping_aliases(&Pipeline::default())
            .await
            .expect("aliases"),
    );
    let after: Vec<_> = [
        "block blk_7 failed",
        "block blk_-8 failed",
        "queue full for tenant 9",
    ]
    .into_iter()
    .map(|m| aliased.process(event(at + Duration::hours(1), Level::Error, "api", m)))
    .collect();
    let summary = store.write_batch(&after, None).await.expect("write");
    assert!(summary.new_groups.is_empty(), "{:?}", summary.new_groups);
    let count = |fingerprint: String| {
        let store = store.clone();
        async move {
            store
                .group(&fingerprint)
                .await
                .expect("read")
                .map(|g| g.occurrences)
        }
    };
    // The oldest of the merged groups receives; the other stays as it was.
    assert_eq!(count(old_a).await, Some(3));
    assert_eq!(count(old_b).await, Some(1));
    store.close().await;
}

#[tokio::test]
async fn earlier_grouping_versions_keep_their_groups_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    earlier_grouping_versions_keep_their_groups(&format!(
        "sqlite://{}/regroup.db",
        dir.path().display()
    ))
    .await;
}

#[tokio::test]
async fn earlier_grouping_versions_keep_their_groups_on_postgres() {
    let Some(server) = PgServer::start() else {
        return;
    };
    earlier_grouping_versions_keep_their_groups(&server.fresh_database("regroup").await).await;
}
