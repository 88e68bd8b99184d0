//! Where the Railway source is in each deployment's logs, and how new lines become events.
//!
//! Railway's `deploymentLogs` has no offset: a query is a time window, many lines share one
//! timestamp, and the lines of a deployment's replicas interleave. So the cursor keeps, per
//! deployment and per replica (deployment instance), the timestamp of the last line consumed
//! and the ids of the lines consumed at exactly that timestamp. A query starts at the oldest
//! of those timestamps, inclusive; what was consumed before is recognised and dropped.
//!
//! A stack trace arrives as many lines. [`absorb`] joins them with the multi-line
//! [`Assembler`], one per replica, and consumes a trace only once it is complete: a trace
//! whose end may still be on its way stays unconsumed, and the next query reads it again
//! whole. Everything here is pure; the poll and the stream both use it.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pipeline::multiline::{Assembler, AssemblerConfig};

/// One line as Railway returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct RawLine {
    pub timestamp: DateTime<Utc>,
    pub message: String,
    /// Railway's severity (`info`, `err`/`error`, `warn` …): stderr is `error`.
    pub severity: Option<String>,
    /// The replica that wrote it (`tags.deploymentInstanceId`), empty when unknown.
    pub instance: String,
    /// Structured attributes (single-line JSON logs), values without surrounding quotes.
    pub attributes: Vec<(String, String)>,
}

/// The whole source's position: one entry per followed deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(default)]
    pub deployments: BTreeMap<String, DeploymentCursor>,
}

/// The position in one deployment's logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentCursor {
    /// Where the next query starts: no line older than this is still to be consumed, and
    /// none is still to arrive.
    pub floor: DateTime<Utc>,
    /// How far reads have gone past the floor: every line before it that has arrived is
    /// consumed, but lines between the floor and here may still arrive late (a poll reads
    /// ahead of its lag where the stream starts). `None`: the floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reached: Option<DateTime<Utc>>,
    /// Per replica: the last consumed line.
    #[serde(default)]
    pub instances: BTreeMap<String, Position>,
}

/// The last consumed line of one replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub ts: DateTime<Utc>,
    /// Ids of the lines consumed at exactly `ts`.
    #[serde(default)]
    pub seen: Vec<String>,
}

impl Cursor {
    /// Reads a stored cursor.
    pub fn decode(text: &str) -> Result<Cursor, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The stored form.
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

impl DeploymentCursor {
    /// A cursor that starts reading at `floor`.
    pub fn starting_at(floor: DateTime<Utc>) -> DeploymentCursor {
        DeploymentCursor {
            floor,
            reached: None,
            instances: BTreeMap::new(),
        }
    }

    /// How far reads have gone: every line before it that has arrived is consumed.
    pub fn reached(&self) -> DateTime<Utc> {
        self.reached.map_or(self.floor, |r| r.max(self.floor))
    }

    /// Whether a line (with its id) has not been consumed yet.
    fn is_new(&self, line: &RawLine, id: &str) -> bool {
        match self.instances.get(&line.instance) {
            Some(p) => {
                line.timestamp > p.ts || (line.timestamp == p.ts && !p.seen.iter().any(|s| s == id))
            }
            // A replica never consumed from: every line of it is new, even one older than the
            // floor (replicas' logs arrive with different delays).
            None => true,
        }
    }
}

/// One event made of one or more consecutive lines of one replica.
#[derive(Debug, Clone, PartialEq)]
pub struct LineEvent {
    /// Id of the event's first line: deterministic, so reading it twice stores it once.
    pub id: String,
    /// The event's first line (timestamp, severity, attributes, replica).
    pub first: RawLine,
    /// The lines joined with `\n`.
    pub text: String,
    pub line_count: usize,
}

/// Ids for `lines` of `deployment`: a hash of replica, timestamp (ns), message and how many
/// identical lines came before it at the same timestamp, so that two identical lines written
/// in the same nanosecond stay two lines.
pub fn line_ids(deployment: &str, lines: &[RawLine]) -> Vec<String> {
    let mut ordinal: HashMap<(&str, i64, &str), u32> = HashMap::new();
    lines
        .iter()
        .map(|line| {
            let nanos = line
                .timestamp
                .timestamp_nanos_opt()
                .unwrap_or_else(|| line.timestamp.timestamp_micros().saturating_mul(1000));
            let k = ordinal
                .entry((line.instance.as_str(), nanos, line.message.as_str()))
                .or_default();
            let mut h = Sha256::new();
            for part in [
                deployment,
                &line.instance,
                &nanos.to_string(),
                &line.message,
                &k.to_string(),
            ] {
                h.update(part.as_bytes());
                h.update([0]);
            }
            *k += 1;
            hex::encode(&h.finalize()[..16])
        })
        .collect()
}

/// The time bounds of one [`absorb`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reach {
    /// A trace that lines at or after it could still continue is left unconsumed (the
    /// caller reads it again next time); past it, a trace is emitted as it is.
    pub horizon: DateTime<Utc>,
    /// Every line before it is in the lines given or consumed already (a query's end; for
    /// the stream, the time by which lines have arrived).
    pub complete_until: DateTime<Utc>,
    /// Every line before it has arrived (now minus the lag): the floor, where the next
    /// query starts, never passes it, so a line that arrives late is still read.
    pub arrived: DateTime<Utc>,
}

impl Reach {
    /// A read of lines that have all arrived: up to `complete_until`, traces open at
    /// `horizon` wait.
    pub fn settled(horizon: DateTime<Utc>, complete_until: DateTime<Utc>) -> Reach {
        Reach {
            horizon,
            complete_until,
            arrived: complete_until,
        }
    }
}

/// Consumes the new lines of one deployment: `lines` are what a query (or the stream) returned,
/// oldest first. Lines already consumed are skipped; complete events come back and the cursor
/// moves past them. A trace that lines at or after `reach.horizon` could still continue is
/// left unconsumed.
///
/// The cursor's `reached` moves to `reach.complete_until`, or to the first line of a trace
/// left unconsumed (back, when that trace arrived late). The floor moves up the same way,
/// but never back and never past `reach.arrived`.
///
/// `lines` must be, per replica, everything after what the cursor consumed: the assembler
/// sees each replica's lines in order and whole, so where events begin and end depends on the
/// lines alone, not on where a page or a stream message happened to end.
pub fn absorb(
    deployment: &str,
    cursor: &mut DeploymentCursor,
    lines: &[RawLine],
    reach: Reach,
    assembly: AssemblerConfig,
) -> Vec<LineEvent> {
    let ids = line_ids(deployment, lines);
    // Per replica, in order: the new lines and their ids.
    let mut replicas: BTreeMap<&str, Vec<(&RawLine, &str)>> = BTreeMap::new();
    for (line, id) in lines.iter().zip(&ids) {
        if cursor.is_new(line, id) {
            replicas.entry(&line.instance).or_default().push((line, id));
        }
    }
    let mut events = Vec::new();
    let mut pending_starts = Vec::new();
    for (instance, new) in replicas {
        let mut assembler = Assembler::new(assembly);
        let mut emitted = Vec::new();
        for (line, _) in &new {
            emitted.extend(assembler.push(line.timestamp, &line.message));
        }
        emitted.extend(assembler.flush_expired(reach.horizon));
        // Lines before the pending event's first line are consumed; the rest is read again.
        let consumed = assembler
            .pending_first_line()
            .map_or(new.len(), |first| first as usize);
        if let Some((line, _)) = new.get(consumed) {
            pending_starts.push(line.timestamp);
        }
        for e in emitted {
            let Some((first, id)) = new.get(e.first_line as usize) else {
                continue;
            };
            events.push(LineEvent {
                id: (*id).to_string(),
                first: (*first).clone(),
                text: e.text,
                line_count: e.line_count,
            });
        }
        if let Some((last, _)) = consumed.checked_sub(1).and_then(|i| new.get(i)) {
            let ts = last.timestamp;
            let position = cursor
                .instances
                .entry(instance.to_string())
                .or_insert_with(|| Position {
                    ts,
                    seen: Vec::new(),
                });
            if position.ts != ts {
                *position = Position {
                    ts,
                    seen: Vec::new(),
                };
            }
            position.seen.extend(
                new[..consumed]
                    .iter()
                    .filter(|(l, _)| l.timestamp == ts)
                    .map(|(_, id)| (*id).to_string()),
            );
        }
    }
    let pending = pending_starts.iter().min().copied();
    let reached = pending.map_or(reach.complete_until, |p| p.min(reach.complete_until));
    cursor.floor = cursor.floor.max(reached.min(reach.arrived));
    cursor.reached = Some(reached).filter(|r| *r > cursor.floor);
    events.sort_by_key(|e| e.first.timestamp);
    events
}

/// What a stream buffer keeps after [`absorb`]: the lines not consumed yet, and the consumed
/// ones at each replica's last consumed instant. Ids count identical lines within one instant,
/// so the buffer must keep the whole instant for the next ids to come out the same as a poll's.
/// The flag says whether any kept line is still to be consumed.
pub fn unconsumed(
    deployment: &str,
    cursor: &DeploymentCursor,
    lines: Vec<RawLine>,
) -> (Vec<RawLine>, bool) {
    let ids = line_ids(deployment, &lines);
    let mut waiting = false;
    let kept = lines
        .into_iter()
        .zip(ids)
        .filter(|(line, id)| {
            let new = cursor.is_new(line, id);
            waiting |= new;
            new || cursor
                .instances
                .get(&line.instance)
                .is_some_and(|p| p.ts == line.timestamp)
        })
        .map(|(line, _)| line)
        .collect();
    (kept, waiting)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::milliseconds(1_800_000_000_000 + ms)
    }

    fn line(ms: i64, instance: &str, message: &str) -> RawLine {
        RawLine {
            timestamp: at(ms),
            message: message.to_string(),
            severity: Some("error".into()),
            instance: instance.to_string(),
            attributes: Vec::new(),
        }
    }

    fn texts(events: &[LineEvent]) -> Vec<&str> {
        events.iter().map(|e| e.text.as_str()).collect()
    }

    const FAR: i64 = 1_000_000;

    #[test]
    fn identical_lines_in_one_nanosecond_get_distinct_ids() {
        let lines = vec![line(0, "a", "x"), line(0, "a", "x"), line(0, "b", "x")];
        let ids = line_ids("d", &lines);
        assert_eq!(ids.len(), 3);
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[0], ids[2]);
        assert_eq!(ids, line_ids("d", &lines), "ids are deterministic");
        assert_ne!(
            ids,
            line_ids("other", &lines),
            "ids depend on the deployment"
        );
    }

    #[test]
    fn reading_the_same_window_twice_consumes_once() {
        let lines = vec![
            line(0, "a", "INFO one"),
            line(0, "a", "INFO two"),
            line(5, "a", "INFO three"),
        ];
        let mut cursor = DeploymentCursor::starting_at(at(0));
        let first = absorb(
            "d",
            &mut cursor,
            &lines,
            Reach::settled(at(FAR), at(5)),
            AssemblerConfig::default(),
        );
        assert_eq!(texts(&first), ["INFO one", "INFO two", "INFO three"]);
        assert!(absorb(
            "d",
            &mut cursor,
            &lines,
            Reach::settled(at(FAR), at(5)),
            AssemblerConfig::default()
        )
        .is_empty());
        // The next query starts at the last timestamp and returns a tie written later.
        let later = vec![
            line(5, "a", "INFO three"),
            line(5, "a", "INFO tie"),
            line(9, "a", "INFO four"),
        ];
        let next = absorb(
            "d",
            &mut cursor,
            &later,
            Reach::settled(at(FAR), at(9)),
            AssemblerConfig::default(),
        );
        assert_eq!(texts(&next), ["INFO tie", "INFO four"]);
        assert_eq!(cursor.floor, at(9));
    }

    #[test]
    fn a_trace_near_the_horizon_waits_to_be_read_whole() {
        let head = vec![
            line(0, "a", "INFO ok"),
            line(100, "a", "Traceback (most recent call last):"),
            line(100, "a", "  File \"/app/x.py\", line 3, in f"),
        ];
        let mut cursor = DeploymentCursor::starting_at(at(0));
        let horizon = at(500);
        let first = absorb(
            "d",
            &mut cursor,
            &head,
            Reach::settled(horizon, horizon),
            AssemblerConfig::default(),
        );
        assert_eq!(texts(&first), ["INFO ok"]);
        assert_eq!(cursor.floor, at(100), "the next query starts at the trace");
        let mut whole = head.clone();
        whole.push(line(101, "a", "ValueError: bad"));
        whole.push(line(200, "a", "INFO after"));
        let second = absorb(
            "d",
            &mut cursor,
            &whole[1..],
            Reach::settled(at(FAR), at(FAR)),
            AssemblerConfig::default(),
        );
        assert_eq!(
            texts(&second),
            [
                "Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in f\nValueError: bad",
                "INFO after"
            ]
        );
        assert_eq!(
            second[0].id,
            line_ids("d", &whole[1..])[0],
            "the trace has its first line's id"
        );
    }

    #[test]
    fn a_trace_past_the_horizon_is_emitted_as_it_is() {
        let lines = vec![line(0, "a", "Traceback (most recent call last):")];
        let mut cursor = DeploymentCursor::starting_at(at(0));
        let events = absorb(
            "d",
            &mut cursor,
            &lines,
            Reach::settled(at(10_000), at(10_000)),
            AssemblerConfig::default(),
        );
        assert_eq!(events.len(), 1);
        assert!(absorb(
            "d",
            &mut cursor,
            &lines,
            Reach::settled(at(FAR), at(FAR)),
            AssemblerConfig::default()
        )
        .is_empty());
    }

    #[test]
    fn replicas_are_assembled_and_positioned_apart() {
        // Two replicas crash at once; their lines interleave.
        let lines = vec![
            line(0, "a", "Traceback (most recent call last):"),
            line(0, "b", "Traceback (most recent call last):"),
            line(1, "a", "  File \"/app/x.py\", line 3, in f"),
            line(1, "b", "  File \"/app/y.py\", line 9, in g"),
            line(2, "a", "KeyError: 'a'"),
            line(2, "b", "KeyError: 'b'"),
        ];
        let mut cursor = DeploymentCursor::starting_at(at(0));
        let events = absorb(
            "d",
            &mut cursor,
            &lines,
            Reach::settled(at(FAR), at(FAR)),
            AssemblerConfig::default(),
        );
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.line_count == 3));
        assert_eq!(cursor.instances.len(), 2);
        // A replica that started later with older lines is still read.
        let late = vec![line(-5, "c", "ERROR late replica")];
        let events = absorb(
            "d",
            &mut cursor,
            &late,
            Reach::settled(at(FAR), at(FAR)),
            AssemblerConfig::default(),
        );
        assert_eq!(texts(&events), ["ERROR late replica"]);
    }

    #[test]
    fn stream_buffer_keeps_only_unconsumed_lines() {
        let lines = vec![
            line(0, "a", "INFO done"),
            line(50, "a", "Traceback (most recent call last):"),
        ];
        let mut cursor = DeploymentCursor::starting_at(at(0));
        absorb(
            "d",
            &mut cursor,
            &lines,
            Reach::settled(at(100), at(100)),
            AssemblerConfig::default(),
        );
        let (left, waiting) = unconsumed("d", &cursor, lines);
        let left: Vec<&str> = left.iter().map(|l| l.message.as_str()).collect();
        // The consumed line stays as the replica's last instant.
        assert_eq!(left, ["INFO done", "Traceback (most recent call last):"]);
        assert!(waiting);
    }

    #[test]
    fn a_stream_buffer_keeps_the_ids_of_identical_lines_in_one_instant() {
        // Two identical traces of one replica in the same instant; the first is consumed
        // before the second arrives on the stream.
        let trace = |ms| {
            vec![
                line(ms, "a", "Traceback (most recent call last):"),
                line(ms, "a", "  File \"/app/x.py\", line 3, in f"),
                line(ms, "a", "KeyError: 'a'"),
            ]
        };
        let mut buffer = trace(0);
        buffer.push(line(0, "a", "INFO between"));
        let mut cursor = DeploymentCursor::starting_at(at(0));
        let first = absorb(
            "d",
            &mut cursor,
            &buffer,
            Reach::settled(at(100), at(0)),
            AssemblerConfig::default(),
        );
        assert_eq!(first.len(), 2);
        let (mut buffer, waiting) = unconsumed("d", &cursor, buffer);
        assert!(!waiting, "everything is consumed");
        buffer.extend(trace(0));
        let second = absorb(
            "d",
            &mut cursor,
            &buffer,
            Reach::settled(at(FAR), at(0)),
            AssemblerConfig::default(),
        );
        assert_eq!(
            texts(&second),
            ["Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in f\nKeyError: 'a'"],
            "the second trace is read whole, not taken for the first"
        );
        // A poll that reads the whole instant agrees on every id.
        let mut whole = trace(0);
        whole.push(line(0, "a", "INFO between"));
        whole.extend(trace(0));
        let mut polled = DeploymentCursor::starting_at(at(0));
        let all = absorb(
            "d",
            &mut polled,
            &whole,
            Reach::settled(at(FAR), at(100)),
            AssemblerConfig::default(),
        );
        assert_eq!(all[2].id, second[0].id);
        assert_eq!(polled.instances, cursor.instances);
    }

    #[test]
    fn a_trace_that_arrives_late_is_read_after_a_restart() {
        let config = AssemblerConfig::default();
        let mut cursor = DeploymentCursor::starting_at(at(0));
        // A read ahead of the lag: everything up to 100 is consumed, but only lines before
        // 50 have surely arrived.
        let ahead = absorb(
            "d",
            &mut cursor,
            &[line(0, "a", "INFO ok"), line(90, "a", "INFO later")],
            Reach {
                horizon: at(100),
                complete_until: at(100),
                arrived: at(50),
            },
            config,
        );
        assert_eq!(texts(&ahead), ["INFO ok", "INFO later"]);
        assert_eq!((cursor.floor, cursor.reached()), (at(50), at(100)));
        // Replica b's trace written at 60 arrives now, and may still grow.
        let trace = vec![
            line(60, "b", "Traceback (most recent call last):"),
            line(60, "b", "  File \"/app/x.py\", line 3, in f"),
            line(61, "b", "KeyError: 'b'"),
        ];
        let open = absorb(
            "d",
            &mut cursor,
            &trace,
            Reach {
                horizon: at(70),
                complete_until: at(120),
                arrived: at(110),
            },
            config,
        );
        assert!(open.is_empty(), "the trace may still grow");
        assert_eq!(
            (cursor.floor, cursor.reached()),
            (at(60), at(60)),
            "the next read starts at the open trace"
        );
        // The process dies; a poll from the stored cursor reads the trace whole, once.
        let mut restored = Cursor::decode(
            &Cursor {
                deployments: [("d".to_string(), cursor)].into(),
            }
            .encode(),
        )
        .expect("decodes")
        .deployments
        .remove("d")
        .expect("the deployment");
        let mut written = trace.clone();
        written.extend([line(0, "a", "INFO ok"), line(90, "a", "INFO later")]);
        written.sort_by_key(|l| l.timestamp);
        let from_floor: Vec<RawLine> = written
            .into_iter()
            .filter(|l| l.timestamp >= restored.floor)
            .collect();
        let read = absorb(
            "d",
            &mut restored,
            &from_floor,
            Reach::settled(at(FAR), at(FAR)),
            config,
        );
        assert_eq!(
            texts(&read),
            ["Traceback (most recent call last):\n  File \"/app/x.py\", line 3, in f\nKeyError: 'b'"]
        );
    }

    #[test]
    fn cursor_round_trips() {
        let mut cursor = Cursor::default();
        let mut d = DeploymentCursor::starting_at(at(0));
        d.instances.insert(
            "a".into(),
            Position {
                ts: at(3) + Duration::nanoseconds(7),
                seen: vec!["x".into()],
            },
        );
        cursor.deployments.insert("dep".into(), d);
        assert_eq!(Cursor::decode(&cursor.encode()).expect("decodes"), cursor);
        assert!(Cursor::decode("not json").is_err());
    }

    /// A replica's lines: see [`scripted`](crate::pipeline::multiline::fixtures::scripted).
    fn replica_lines(instance: &str, script: &[(u8, i64)]) -> Vec<RawLine> {
        crate::pipeline::multiline::fixtures::scripted(script)
            .into_iter()
            .map(|(ms, text)| line(ms, instance, &text))
            .collect()
    }

    proptest::proptest! {
        /// Where a trace begins and ends depends on the lines alone: read through windows that
        /// end anywhere (as pages and polls cut them), the events are those of one whole read.
        #[test]
        fn events_do_not_depend_on_where_windows_end(
            a in proptest::collection::vec((0u8..12, 0i64..3000), 1..40),
            b in proptest::collection::vec((0u8..12, 0i64..3000), 0..40),
            cuts in proptest::collection::vec(0i64..60_000, 0..30),
        ) {
            let mut lines = replica_lines("a", &a);
            lines.extend(replica_lines("b", &b));
            lines.sort_by_key(|l| l.timestamp);
            let config = AssemblerConfig::default();
            let last = lines.last().map_or(at(0), |l| l.timestamp);
            let done = last + config.window + Duration::seconds(1);
            let between = |from: DateTime<Utc>, to: DateTime<Utc>| -> Vec<RawLine> {
                lines.iter().filter(|l| l.timestamp >= from && l.timestamp < to).cloned().collect()
            };

            let mut whole = DeploymentCursor::starting_at(at(0));
            let mut want = absorb("d", &mut whole, &lines, Reach::settled(done, done), config);
            want.sort_by(|x, y| x.id.cmp(&y.id));

            let mut cursor = DeploymentCursor::starting_at(at(0));
            let mut got = Vec::new();
            let mut ends: Vec<DateTime<Utc>> = cuts.iter().map(|ms| at(*ms)).collect();
            ends.sort();
            ends.push(done);
            for end in ends {
                // One poll up to `end`, as the source runs it.
                while cursor.floor < end {
                    let start = cursor.floor;
                    got.extend(absorb("d", &mut cursor, &between(start, end), Reach::settled(end, end), config));
                    if cursor.floor <= start && end < done {
                        let reach = (start + config.window + Duration::nanoseconds(1)).min(end);
                        got.extend(absorb("d", &mut cursor, &between(start, reach), Reach::settled(reach, reach), config));
                    }
                    if cursor.floor <= start {
                        break;
                    }
                }
            }
            got.sort_by(|x, y| x.id.cmp(&y.id));
            proptest::prop_assert_eq!(texts(&got), texts(&want));
        }
    }
}
