//! The Loki source against the fake Loki (`signalbox-fakes`): paging, cursors across restarts,
//! stack traces split into entries, late lines, tenancy, limits, failures and secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use signalbox::model::{Event, Level};
use signalbox::sources::loki::{LokiAuth, LokiSettings, LokiSource};
use signalbox::sources::{PollSource, SourceError};
use signalbox_fakes::loki::{Failure, FakeAuth, FakeLoki, FakeLokiOptions};

/// 2025-11-27T07:53:20Z in nanoseconds: the start of every test's logs.
const BASE: i64 = 1_764_230_000_000_000_000;
const MS: i64 = 1_000_000;
const SECOND: i64 = 1_000_000_000;

const TRACEBACK: [&str; 4] = [
    "Traceback (most recent call last):",
    "  File \"/app/shop/cart.py\", line 12, in add_item",
    "    total = prices[item]",
    "KeyError: 'sku-1'",
];

fn at(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns)
}

async fn fake(options: FakeLokiOptions) -> FakeLoki {
    FakeLoki::start(options)
        .await
        .expect("the fake Loki starts")
}

/// Defaults, with a short timeout.
fn settings(loki: &FakeLoki) -> LokiSettings {
    LokiSettings {
        timeout: Duration::from_secs(5),
        ..LokiSettings::new(loki.url())
    }
}

fn source(settings: LokiSettings) -> LokiSource {
    LokiSource::new(settings).expect("the source builds")
}

/// Polls until the source has no backlog (at most `max_polls`); returns the events, the last
/// cursor and the number of polls.
async fn drain(
    source: &LokiSource,
    mut cursor: Option<String>,
    now: DateTime<Utc>,
    max_polls: usize,
) -> (Vec<Event>, Option<String>, usize) {
    let mut events = Vec::new();
    for polls in 1..=max_polls {
        let batch = source
            .poll(cursor.as_deref(), now)
            .await
            .expect("the poll succeeds");
        events.extend(batch.events);
        cursor = Some(batch.cursor);
        if !batch.more {
            return (events, cursor, polls);
        }
    }
    (events, cursor, max_polls)
}

/// Pushes `count` plain lines over three streams, 1 ms apart, except that the 300 entries
/// from `tie_at` share one nanosecond (two of them identical); returns the lines.
fn push_many(loki: &FakeLoki, count: usize, tie_at: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for i in 0..count {
        let service = format!("svc-{}", i % 3);
        let labels = [
            ("job", service.as_str()),
            ("service_name", service.as_str()),
        ];
        let tied = (tie_at..tie_at + 300).contains(&i);
        let ts = if tied { tie_at } else { i } as i64 * MS;
        let line = if tied && (i == tie_at || i == tie_at + 3) {
            "INFO duplicate line".to_string()
        } else {
            format!("INFO request {i} served")
        };
        loki.push(&labels, i128::from(BASE + ts), &line);
        lines.push(line);
    }
    lines
}

fn assert_exactly_once_in_order(events: &[Event], lines: &[String]) {
    let ids: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e.source_id.as_deref())
        .collect();
    assert_eq!(ids.len(), events.len(), "every event has its own id");
    assert_eq!(events.len(), lines.len(), "every entry once");
    let mut read: Vec<String> = events
        .iter()
        .map(|e| format!("INFO {}", e.message))
        .collect();
    let mut expected = lines.to_vec();
    read.sort();
    expected.sort();
    assert_eq!(read, expected);
    assert!(
        events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp),
        "in time order"
    );
}

#[tokio::test]
async fn pages_through_10000_entries_with_300_sharing_a_nanosecond_exactly_once() {
    let loki = fake(FakeLokiOptions::default()).await;
    let lines = push_many(&loki, 10_000, 4_900);
    let now = at(BASE + 10 * SECOND + 31 * SECOND);
    let source = source(settings(&loki));
    let (events, _, polls) = drain(&source, None, now, 50).await;
    assert_exactly_once_in_order(&events, &lines);
    // Each full page re-reads the entries at its last timestamp: 11 pages, one more for the tie.
    assert!((11..=13).contains(&polls), "{polls} polls");
    let first = &loki.queries()[0].params;
    let start = (BASE + 41 * SECOND - 3600 * SECOND).to_string();
    let end = (BASE + 11 * SECOND).to_string();
    for (name, value) in [
        ("query", r#"{job=~".+"}"#),
        ("direction", "forward"),
        ("limit", "1000"),
        ("start", start.as_str()),
        ("end", end.as_str()),
    ] {
        assert_eq!(first.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert_eq!(events[0].service.as_deref(), Some("svc-0"));
    assert_eq!(events[0].source, "loki");
}

#[tokio::test]
async fn a_restart_resumes_from_the_cursor_without_gap_or_duplicate() {
    let loki = fake(FakeLokiOptions::default()).await;
    let lines = push_many(&loki, 3_000, 1_400);
    let now = at(BASE + 3 * SECOND + 31 * SECOND);
    let small = || {
        source(LokiSettings {
            batch_size: 500,
            ..settings(&loki)
        })
    };
    let (mut events, cursor, polls) = drain(&small(), None, now, 3).await;
    assert_eq!(polls, 3, "stopped mid-way");
    // A new process: a new source object, the stored cursor.
    let (rest, _, _) = drain(&small(), cursor, now, 50).await;
    events.extend(rest);
    assert_exactly_once_in_order(&events, &lines);
}

#[tokio::test]
async fn a_python_traceback_pushed_line_by_line_is_one_event() {
    let loki = fake(FakeLokiOptions::default()).await;
    let api = [
        ("job", "prod/shop"),
        ("service_name", "shop"),
        ("env", "prod"),
    ];
    let web = [("job", "prod/web"), ("app", "web")];
    loki.push(&api, i128::from(BASE), "INFO adding item");
    for (i, line) in TRACEBACK.iter().enumerate() {
        let ts = BASE + SECOND + i as i64 * 1000;
        loki.push(&api, i128::from(ts), line);
        // Another stream's lines interleave; they do not break the trace.
        loki.push(&web, i128::from(ts), "GET /health 200");
    }
    loki.push(&api, i128::from(BASE + 2 * SECOND), "INFO next request");
    let (events, _, _) = drain(&source(settings(&loki)), None, at(BASE + 60 * SECOND), 5).await;
    let shop: Vec<&Event> = events
        .iter()
        .filter(|e| e.service.as_deref() == Some("shop"))
        .collect();
    assert_eq!(shop.len(), 3, "{shop:#?}");
    let trace = shop[1];
    assert_eq!(trace.level, Level::Error);
    assert_eq!(
        trace.stack_trace.as_deref(),
        Some(TRACEBACK.join("\n").as_str())
    );
    assert_eq!(trace.timestamp, at(BASE + SECOND));
    assert_eq!(trace.environment.as_deref(), Some("prod"));
    assert_eq!(events.len(), 3 + 4, "web's four lines stay apart");
}

#[tokio::test]
async fn a_trace_cut_by_the_page_end_is_read_whole_by_the_next_poll() {
    let loki = fake(FakeLokiOptions::default()).await;
    let api = [("job", "shop")];
    for i in 0..3 {
        loki.push(&api, i128::from(BASE + i * MS), &format!("INFO line {i}"));
    }
    for (i, line) in TRACEBACK.iter().enumerate() {
        loki.push(&api, i128::from(BASE + SECOND + i as i64 * 1000), line);
    }
    loki.push(&api, i128::from(BASE + 2 * SECOND), "INFO after");
    let source = source(LokiSettings {
        batch_size: 5,
        ..settings(&loki)
    });
    let (events, _, _) = drain(&source, None, at(BASE + 60 * SECOND), 10).await;
    let summary: Vec<(Level, usize)> = events
        .iter()
        .map(|e| {
            (
                e.level,
                e.stack_trace.as_deref().map_or(1, |t| t.lines().count()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (Level::Info, 1),
            (Level::Info, 1),
            (Level::Info, 1),
            (Level::Error, 4),
            (Level::Info, 1)
        ]
    );
}

#[tokio::test]
async fn an_open_trace_at_the_read_horizon_waits_for_its_late_lines() {
    let loki = fake(FakeLokiOptions::default()).await;
    let api = [("job", "shop")];
    let trace_at = BASE + 10 * SECOND;
    for (i, line) in TRACEBACK[..2].iter().enumerate() {
        loki.push(&api, i128::from(trace_at + i as i64 * 1000), line);
    }
    let source = source(settings(&loki));
    // The read ends 1 s after the trace opened: it may go on, so it is not read yet.
    let first = source
        .poll(None, at(trace_at + 31 * SECOND))
        .await
        .expect("polls");
    assert!(first.events.is_empty(), "{:#?}", first.events);
    assert!(!first.more);
    // Its last lines reach Loki late, timestamped before the previous read's end.
    for (i, line) in TRACEBACK.iter().enumerate().skip(2) {
        loki.push(&api, i128::from(trace_at + i as i64 * 1000), line);
    }
    let second = source
        .poll(Some(&first.cursor), at(trace_at + 40 * SECOND))
        .await
        .expect("polls");
    let traces: Vec<Option<&str>> = second
        .events
        .iter()
        .map(|e| e.stack_trace.as_deref())
        .collect();
    assert_eq!(traces, [Some(TRACEBACK.join("\n").as_str())]);
}

#[tokio::test]
async fn a_late_line_inside_the_delay_window_is_picked_up() {
    let loki = fake(FakeLokiOptions::default()).await;
    let api = [("job", "shop")];
    let now = BASE + 120 * SECOND;
    loki.push(&api, i128::from(now - 60 * SECOND), "INFO old enough");
    loki.push(&api, i128::from(now - 20 * SECOND), "INFO inside the delay");
    let source = source(settings(&loki));
    let first = source.poll(None, at(now)).await.expect("polls");
    let messages =
        |events: &[Event]| -> Vec<String> { events.iter().map(|e| e.message.clone()).collect() };
    assert_eq!(messages(&first.events), ["old enough"]);
    // Ingested after the poll, timestamped before it: still ahead of the cursor.
    loki.push(&api, i128::from(now - 10 * SECOND), "INFO late");
    let second = source
        .poll(Some(&first.cursor), at(now + 60 * SECOND))
        .await
        .expect("polls");
    assert_eq!(messages(&second.events), ["inside the delay", "late"]);
}

#[tokio::test]
async fn a_multi_tenant_loki_needs_the_tenant() {
    let loki = fake(FakeLokiOptions {
        multi_tenant: true,
        ..FakeLokiOptions::default()
    })
    .await;
    loki.push(&[("job", "api")], i128::from(BASE), "INFO hello");
    let now = at(BASE + 60 * SECOND);
    let error = source(settings(&loki))
        .poll(None, now)
        .await
        .expect_err("no tenant");
    assert!(matches!(&error, SourceError::Upstream(_)));
    assert_eq!(
        error.to_string(),
        "upstream error: Loki answered 401 Unauthorized: no org id"
    );
    let tenant = source(LokiSettings {
        tenant_id: Some("team-a".into()),
        ..settings(&loki)
    });
    let batch = tenant.poll(None, now).await.expect("with a tenant");
    assert_eq!(batch.events.len(), 1);
    let org_ids: Vec<Option<String>> = loki.queries().into_iter().map(|q| q.org_id).collect();
    assert_eq!(org_ids, [None, Some("team-a".to_string())]);
}

#[tokio::test]
async fn a_page_size_above_lokis_maximum_is_lowered_to_it() {
    let loki = fake(FakeLokiOptions {
        max_entries_limit_per_query: 500,
        ..FakeLokiOptions::default()
    })
    .await;
    let lines = push_many(&loki, 1_200, 600);
    let source = source(settings(&loki));
    let (events, _, _) = drain(&source, None, at(BASE + 60 * SECOND), 10).await;
    assert_exactly_once_in_order(&events, &lines);
    let limits: Vec<String> = loki
        .queries()
        .into_iter()
        .filter_map(|q| q.params.get("limit").cloned())
        .collect();
    assert_eq!(limits, ["1000", "500", "500", "500"]);
}

#[tokio::test]
async fn failures_fail_the_poll_and_the_next_poll_reads_everything() {
    let loki = fake(FakeLokiOptions::default()).await;
    loki.push(&[("job", "api")], i128::from(BASE), "INFO hello");
    let now = at(BASE + 60 * SECOND);
    let source = source(LokiSettings {
        timeout: Duration::from_millis(500),
        ..settings(&loki)
    });
    for (failure, message) in [
        (Failure::TooManyRequests, "Loki answered 429 Too Many Requests: too many outstanding requests"),
        (Failure::Internal, "Loki answered 500 Internal Server Error: rpc error: code = Internal desc = failed to fetch chunks"),
        (Failure::Timeout, "Loki answered 504 Gateway Timeout: request timed out, decrease the duration"),
        (Failure::Slow(Duration::from_secs(2)), "did not answer within 500ms"),
    ] {
        loki.fail_next(1, failure);
        let error = source.poll(None, now).await.expect_err("fails");
        assert!(matches!(&error, SourceError::Upstream(_)), "{error:?}");
        assert!(error.to_string().contains(message), "{failure:?}: {error}");
        let batch = source.poll(None, now).await.expect("the next poll succeeds");
        assert_eq!(batch.events.len(), 1, "{failure:?}");
    }
}

#[tokio::test]
async fn credentials_go_to_loki_and_never_into_errors() {
    let basic = fake(FakeLokiOptions {
        auth: FakeAuth::Basic {
            username: "123456".into(),
            password: "glc_right_password".into(),
        },
        ..FakeLokiOptions::default()
    })
    .await;
    let bearer = fake(FakeLokiOptions {
        auth: FakeAuth::Bearer("right-bearer-token".into()),
        ..FakeLokiOptions::default()
    })
    .await;
    let now = at(BASE + 60 * SECOND);
    let with_auth = |loki: &FakeLoki, auth: LokiAuth| {
        source(LokiSettings {
            auth,
            ..settings(loki)
        })
    };
    let basic_auth = |password: &str| LokiAuth::Basic {
        username: "123456".into(),
        password: password.to_string().into(),
    };
    let bearer_auth = |token: &str| LokiAuth::Bearer(token.to_string().into());
    for (loki, auth) in [
        (&basic, basic_auth("glc_right_password")),
        (&bearer, bearer_auth("right-bearer-token")),
    ] {
        with_auth(loki, auth)
            .poll(None, now)
            .await
            .expect("accepted");
    }
    for (loki, auth, secret) in [
        (
            &basic,
            basic_auth("glc_wrong_password"),
            "glc_wrong_password",
        ),
        (&basic, LokiAuth::None, "glc_right_password"),
        (
            &bearer,
            bearer_auth("wrong-bearer-token"),
            "wrong-bearer-token",
        ),
    ] {
        let error = with_auth(loki, auth)
            .poll(None, now)
            .await
            .expect_err("refused");
        let text = format!("{error} {error:?}");
        assert!(text.contains("401 Unauthorized"), "{text}");
        assert!(!text.contains(secret), "{text}");
    }
    // Credentials in the URL of a Loki that is down stay out of the error too.
    let unreachable = source(LokiSettings {
        auth: basic_auth("glc_other_password"),
        ..LokiSettings::new("http://admin:url-secret@127.0.0.1:9")
    });
    let error = unreachable.poll(None, now).await.expect_err("down");
    let text = format!("{error} {error:?}");
    assert!(text.contains("unreachable"), "{text}");
    for secret in ["url-secret", "glc_other_password"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test]
async fn a_bad_cursor_is_refused() {
    let loki = fake(FakeLokiOptions::default()).await;
    let error = source(settings(&loki))
        .poll(Some("2026-11-27"), at(BASE))
        .await
        .expect_err("bad cursor");
    assert!(matches!(error, SourceError::BadCursor(_)), "{error:?}");
    assert_eq!(loki.requests(), 0);
}

#[tokio::test]
async fn labels_become_service_level_and_attributes() {
    let loki = fake(FakeLokiOptions::default()).await;
    let labels = [
        ("job", "default/billing"),
        ("service_name", "billing"),
        ("level", "warn"),
        ("namespace", "default"),
    ];
    loki.push(&labels, i128::from(BASE), "charge took 2300ms");
    let (events, _, _) = drain(&source(settings(&loki)), None, at(BASE + 60 * SECOND), 3).await;
    let [event] = events.as_slice() else {
        panic!("one event: {events:#?}");
    };
    assert_eq!(event.service.as_deref(), Some("billing"));
    assert_eq!(event.level, Level::Warn);
    let expected: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(event.attributes, expected);
}

#[tokio::test]
async fn a_query_loki_rejects_is_a_one_line_error() {
    let loki = fake(FakeLokiOptions::default()).await;
    let ready = reqwest::get(format!("{}/ready", loki.url()))
        .await
        .expect("the fake answers");
    assert_eq!(ready.status(), reqwest::StatusCode::OK);
    let error = source(LokiSettings {
        query: r#"{job=~".*"}"#.into(),
        ..settings(&loki)
    })
    .poll(None, at(BASE))
    .await
    .expect_err("rejected");
    assert_eq!(
        error.to_string(),
        "upstream error: Loki answered 400 Bad Request: parse error : queries require at least \
         one regexp or equality matcher that does not have an empty-compatible value. For \
         instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will"
    );
}

#[tokio::test]
async fn stored_with_its_cursor_every_entry_lands_once_across_a_crash() {
    use signalbox::monitor::store_events;
    use signalbox::pipeline::Pipeline;
    use signalbox::store::{CursorUpdate, Store};

    let loki = fake(FakeLokiOptions::default()).await;
    let lines = push_many(&loki, 2_000, 700);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&format!("sqlite://{}/loki.db", dir.path().display()))
        .await
        .expect("open sqlite");
    let pipeline = Pipeline::default();
    let now = at(BASE + 60 * SECOND);
    let small = || {
        source(LokiSettings {
            batch_size: 300,
            ..settings(&loki)
        })
    };
    // What the monitor does: read the stored cursor, poll, store events and cursor together.
    let mut stored = 0;
    let mut duplicates = 0;
    for (round, crash_after) in [(0, Some(3)), (1, None)] {
        let source = small();
        for poll in 0.. {
            let cursor = store.cursor("loki").await.expect("reads the cursor");
            let batch = source.poll(cursor.as_deref(), now).await.expect("polls");
            if crash_after == Some(poll) {
                break; // read, never committed
            }
            let update = CursorUpdate {
                source: "loki".into(),
                cursor: batch.cursor,
            };
            let summary = store_events(&store, &pipeline, "loki", batch.events, Some(&update))
                .await
                .expect("stores");
            stored += summary.accepted;
            duplicates += summary.duplicates;
            if !batch.more {
                break;
            }
        }
        assert!(round < 2);
    }
    assert_eq!((stored, duplicates), (lines.len(), 0));
    store.close().await;
}

#[tokio::test]
async fn more_entries_at_one_nanosecond_than_loki_returns_at_once_is_an_error() {
    let loki = fake(FakeLokiOptions {
        max_entries_limit_per_query: 200,
        ..FakeLokiOptions::default()
    })
    .await;
    for i in 0..250 {
        loki.push(
            &[("job", "api")],
            i128::from(BASE),
            &format!("INFO burst {i}"),
        );
    }
    let source = source(LokiSettings {
        batch_size: 100,
        ..settings(&loki)
    });
    let now = at(BASE + 60 * SECOND);
    let mut cursor = None;
    let mut read = 0;
    let error = loop {
        match source.poll(cursor.as_deref(), now).await {
            Ok(batch) => {
                read += batch.events.len();
                cursor = Some(batch.cursor);
            }
            Err(error) => break error,
        }
    };
    assert_eq!(read, 200, "as many as one query returns");
    assert_eq!(
        error.to_string(),
        format!(
            "upstream error: more than 200 Loki entries share the timestamp {BASE} ns, more than \
             one query may return; raise Loki's max_entries_limit_per_query"
        )
    );
    let limits: Vec<String> = loki
        .queries()
        .into_iter()
        .filter_map(|q| q.params.get("limit").cloned())
        .collect();
    // Twice the page when a page holds nothing new, up to what Loki allows.
    assert_eq!(limits, ["100", "100", "200", "100", "200", "400", "200"]);
}
