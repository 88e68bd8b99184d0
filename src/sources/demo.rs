//! The demo source: four fake services that log and fail the way real ones do, so that a
//! newcomer sees a living dashboard without connecting anything.
//!
//! Events are a pure function of the second they belong to (a PRNG seeded by it), and the
//! cursor is the last generated second: exactly once across restarts, like a real source.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{Batch, PollFuture, PollSource, SourceError};
use crate::model::{Event, Exception, Frame, Level};

/// History generated on the first run, so the charts are not empty.
const BACKFILL_SECONDS: i64 = 24 * 3600;
/// At most this many seconds per poll, so a backlog is written in bounded batches.
const MAX_SECONDS_PER_POLL: i64 = 3600;

/// The demo source.
pub struct DemoSource {
    interval: Duration,
}

impl DemoSource {
    /// A demo source polled every `interval`.
    pub fn new(interval: Duration) -> DemoSource {
        DemoSource { interval }
    }
}

impl PollSource for DemoSource {
    fn name(&self) -> &str {
        "demo"
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn poll<'a>(&'a self, cursor: Option<&'a str>, now: DateTime<Utc>) -> PollFuture<'a> {
        Box::pin(async move { generate(cursor, now) })
    }
}

/// Events for every whole second after the cursor, up to `now`.
pub fn generate(cursor: Option<&str>, now: DateTime<Utc>) -> Result<Batch, SourceError> {
    let now_s = now.timestamp();
    let last_done = match cursor {
        None => now_s - BACKFILL_SECONDS,
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| SourceError::BadCursor(c.to_string()))?,
    };
    let end = now_s.min(last_done + MAX_SECONDS_PER_POLL);
    let mut events = Vec::new();
    for second in (last_done + 1)..=end {
        events.extend(events_at(second));
    }
    Ok(Batch {
        events,
        cursor: end.max(last_done).to_string(),
        more: end < now_s,
    })
}

/// A service of the demo, and the errors it has.
struct Service {
    name: &'static str,
    /// Info lines per second.
    info_rate: f64,
    infos: &'static [&'static str],
    errors: &'static [Failure],
}

/// One kind of failure: its rate (per second) and how to write it.
struct Failure {
    rate: f64,
    /// Multiplier during the incident window.
    incident: f64,
    make: fn(&mut SmallRng) -> (Level, String, Option<Exception>),
}

const SERVICES: &[Service] = &[
    Service {
        name: "api-gateway",
        info_rate: 0.25,
        infos: &[
            "GET /api/products 200",
            "POST /api/cart 201",
            "GET /health 200",
        ],
        errors: &[
            Failure {
                rate: 0.004,
                incident: 12.0,
                make: |r| {
                    let ms = r.random_range(30_000..30_500);
                    (
                        Level::Error,
                        format!("HTTP 502 at /api/checkout upstream=checkout:8080 latency={ms}ms"),
                        None,
                    )
                },
            },
            Failure {
                rate: 0.002,
                incident: 1.0,
                make: |r| {
                    let id = r.random_range(1000..99999);
                    (
                        Level::Error,
                        format!("TypeError: Cannot read properties of undefined (reading 'price') cart_id={id}"),
                        Some(exception(
                            "TypeError",
                            "Cannot read properties of undefined (reading 'price')",
                            &[
                                ("node:internal/process/task_queues", "processTicksAndRejections", 95, false),
                                ("/app/node_modules/express/lib/router/layer.js", "Layer.handle", 95, false),
                                ("/app/src/routes/cart.js", "totalFor", 42, true),
                            ],
                        )),
                    )
                },
            },
        ],
    },
    Service {
        name: "checkout",
        info_rate: 0.15,
        infos: &["order placed", "payment authorized", "webhook delivered"],
        errors: &[
            Failure {
                rate: 0.0015,
                incident: 40.0,
                make: |r| {
                    let port = 5432;
                    let host = format!("10.0.{}.{}", r.random_range(0..4), r.random_range(2..250));
                    (
                        Level::Error,
                        format!("psycopg2.OperationalError: could not connect to server: Connection refused ({host}:{port})"),
                        Some(exception(
                            "psycopg2.OperationalError",
                            "could not connect to server: Connection refused",
                            &[
                                ("/usr/local/lib/python3.12/site-packages/psycopg2/__init__.py", "connect", 122, false),
                                ("/app/checkout/db.py", "get_connection", 31, true),
                                ("/app/checkout/orders.py", "create_order", 77, true),
                            ],
                        )),
                    )
                },
            },
            Failure {
                rate: 0.002,
                incident: 1.0,
                make: |r| {
                    let order = r.random_range(100_000..999_999);
                    (
                        Level::Error,
                        format!("payment provider timeout after 30000ms order_id={order}"),
                        None,
                    )
                },
            },
            Failure {
                rate: 0.0008,
                incident: 1.0,
                make: |r| {
                    let user = r.random_range(1..5000);
                    (
                        Level::Error,
                        format!("KeyError: 'user_{user}'"),
                        Some(exception(
                            "KeyError",
                            &format!("'user_{user}'"),
                            &[("/app/checkout/discounts.py", "apply_loyalty", 58, true)],
                        )),
                    )
                },
            },
        ],
    },
    Service {
        name: "worker",
        info_rate: 0.1,
        infos: &["job completed", "queue drained", "retrying job"],
        errors: &[
            Failure {
                rate: 0.0025,
                incident: 3.0,
                make: |r| {
                    let job = r.random_range(10_000..99_999);
                    (
                        Level::Error,
                        format!("job {job} failed: context deadline exceeded after 15s"),
                        None,
                    )
                },
            },
            Failure {
                rate: 0.0002,
                incident: 5.0,
                make: |_| {
                    (
                        Level::Critical,
                        "panic: runtime error: invalid memory address or nil pointer dereference"
                            .to_string(),
                        Some(exception(
                            "runtime.Error",
                            "invalid memory address or nil pointer dereference",
                            &[
                                (
                                    "/usr/local/go/src/runtime/panic.go",
                                    "runtime.panicmem",
                                    261,
                                    false,
                                ),
                                (
                                    "/app/internal/jobs/email.go",
                                    "jobs.(*Mailer).Send",
                                    88,
                                    true,
                                ),
                            ],
                        )),
                    )
                },
            },
            Failure {
                rate: 0.003,
                incident: 1.0,
                make: |r| {
                    let pct = r.random_range(85..99);
                    (Level::Warn, format!("disk usage at {pct}% on /data"), None)
                },
            },
        ],
    },
    Service {
        name: "auth",
        info_rate: 0.1,
        infos: &["session refreshed", "login ok", "token issued"],
        errors: &[
            Failure {
                rate: 0.001,
                incident: 1.0,
                make: |_| {
                    (
                        Level::Error,
                        "thread 'tokio-runtime-worker' panicked at src/session.rs:88:14: called `Option::unwrap()` on a `None` value".to_string(),
                        Some(exception(
                            "panic",
                            "called `Option::unwrap()` on a `None` value",
                            &[
                                ("/rustc/library/core/src/option.rs", "core::option::unwrap_failed", 2015, false),
                                ("src/session.rs", "auth::session::refresh", 88, true),
                            ],
                        )),
                    )
                },
            },
            Failure {
                rate: 0.004,
                incident: 1.0,
                make: |r| {
                    let user = r.random_range(1..5000);
                    (
                        Level::Warn,
                        format!("token validation failed user_id={user} reason=expired"),
                        None,
                    )
                },
            },
        ],
    },
];

fn exception(kind: &str, value: &str, frames: &[(&str, &str, u32, bool)]) -> Exception {
    Exception {
        kind: kind.to_string(),
        value: value.to_string(),
        frames: frames
            .iter()
            .map(|(file, function, line, in_app)| Frame {
                file: Some(file.to_string()),
                function: Some(function.to_string()),
                line: Some(*line),
                module: None,
                in_app: *in_app,
            })
            .collect(),
    }
}

/// True in the first 20 minutes of every third hour: the demo's recurring incident.
fn in_incident(t: DateTime<Utc>) -> bool {
    t.hour() % 3 == 1 && t.minute() < 20
}

/// The events of one second.
pub fn events_at(second: i64) -> Vec<Event> {
    let Some(t) = DateTime::from_timestamp(second, 0) else {
        return Vec::new();
    };
    let mut rng = SmallRng::seed_from_u64(second as u64);
    let incident = in_incident(t);
    let mut events = Vec::new();
    for service in SERVICES {
        let mut emit =
            |level: Level, message: String, exception: Option<Exception>, rng: &mut SmallRng| {
                let ms = rng.random_range(0..1000);
                let mut attributes = BTreeMap::new();
                attributes.insert(
                    "replica".to_string(),
                    format!("{}-{}", service.name, rng.random_range(1..3)),
                );
                events.push(Event {
                    timestamp: t + chrono::Duration::milliseconds(ms),
                    level,
                    message,
                    exception,
                    stack_trace: None,
                    service: Some(service.name.to_string()),
                    deployment: Some(format!("{}-d{}", service.name, second / 86_400 % 100)),
                    environment: Some("production".to_string()),
                    attributes,
                    source: "demo".to_string(),
                    source_id: None,
                });
            };
        if rng.random_bool(service.info_rate) {
            let line = service.infos[rng.random_range(0..service.infos.len())];
            emit(Level::Info, line.to_string(), None, &mut rng);
        }
        for failure in service.errors {
            let rate = if incident {
                failure.rate * failure.incident
            } else {
                failure.rate
            };
            if rng.random_bool(rate.min(1.0)) {
                let (level, message, exception) = (failure.make)(&mut rng);
                emit(level, message, exception, &mut rng);
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn same_second_same_events() {
        assert_eq!(events_at(1_700_000_000), events_at(1_700_000_000));
    }

    #[test]
    fn first_poll_backfills_in_bounded_steps() {
        let now = at("2026-11-27T12:00:00Z");
        let batch = generate(None, now).expect("no cursor is fine");
        assert!(batch.more);
        assert_eq!(
            batch.cursor.parse::<i64>().ok(),
            Some(now.timestamp() - BACKFILL_SECONDS + MAX_SECONDS_PER_POLL)
        );
    }

    #[test]
    fn polls_are_contiguous_and_never_repeat() {
        let now = at("2026-11-27T12:00:00Z");
        let cursor = (now.timestamp() - 120).to_string();
        let first = generate(Some(&cursor), now - chrono::Duration::seconds(60)).expect("ok");
        let second = generate(Some(&first.cursor), now).expect("ok");
        let all = generate(Some(&cursor), now).expect("ok");
        let mut joined = first.events.clone();
        joined.extend(second.events);
        assert_eq!(joined, all.events);
        assert!(!all.more);
        assert_eq!(generate(Some(&all.cursor), now).expect("ok").events, vec![]);
    }

    #[test]
    fn a_day_has_a_realistic_mix() {
        let start = at("2026-11-27T00:00:00Z").timestamp();
        let events: Vec<Event> = (start..start + 86_400).flat_map(events_at).collect();
        let errors = events.iter().filter(|e| e.level.is_error()).count();
        let rate = errors as f64 / events.len() as f64;
        assert!(events.len() > 40_000, "{}", events.len());
        assert!((0.005..0.15).contains(&rate), "error rate {rate}");
        let services: std::collections::BTreeSet<_> =
            events.iter().filter_map(|e| e.service.clone()).collect();
        assert_eq!(services.len(), 4);
    }

    #[test]
    fn bad_cursor_is_an_error() {
        assert!(generate(Some("yesterday"), Utc::now()).is_err());
    }
}
