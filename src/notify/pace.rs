//! Pacing of one channel: when the next message may go out.
//!
//! Slack accepts about one message per second per incoming webhook, allows short bursts, and
//! answers a sustained excess with 429 and `Retry-After`; carrying on after a 429 risks the app
//! being disabled (`specs/slack.md`). So a channel has a minimum gap between messages, and a
//! `Retry-After` from the receiver holds the whole channel — not only the row that was refused —
//! until it has passed. The decisions are pure (`now` is passed in); the worker does the
//! sleeping.

use std::time::Duration;

use tokio::time::Instant;

/// The pacing state of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Minimum time between two messages; zero for no pacing.
    gap: Duration,
    /// Nothing is sent before this instant.
    next: Option<Instant>,
}

impl Pace {
    /// A channel that sends at most one message per `gap`.
    pub fn new(gap: Duration) -> Pace {
        Pace { gap, next: None }
    }

    /// How long a message that is ready at `now` must wait (zero: send it now).
    pub fn wait(&self, now: Instant) -> Duration {
        self.next
            .map_or(Duration::ZERO, |next| next.saturating_duration_since(now))
    }

    /// A message was sent (or attempted) at `now`: the next one waits for the gap.
    pub fn sent(&mut self, now: Instant) {
        self.push_back(now + self.gap);
    }

    /// The receiver asked for a pause (`Retry-After`): nothing goes before `now + after`.
    pub fn hold(&mut self, now: Instant, after: Duration) {
        self.push_back(now + after);
    }

    /// Never brings `next` forward: a short gap after a send must not cut a 429's hold short.
    fn push_back(&mut self, until: Instant) {
        self.next = Some(self.next.map_or(until, |next| next.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn decisions() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // (gap, steps, asked at, expected wait). Steps: ("sent"|"hold", at offset, hold length).
        type Step = (&'static str, Duration, Duration);
        let cases: &[(&str, Duration, &[Step], Duration, Duration)] = &[
            ("fresh channel sends at once", S, &[], ms(0), ms(0)),
            (
                "one second after a send",
                S,
                &[("sent", ms(0), ms(0))],
                ms(200),
                ms(800),
            ),
            (
                "the gap has passed",
                S,
                &[("sent", ms(0), ms(0))],
                ms(1500),
                ms(0),
            ),
            (
                "no pacing configured",
                Duration::ZERO,
                &[("sent", ms(0), ms(0))],
                ms(0),
                ms(0),
            ),
            (
                "Retry-After holds the channel",
                Duration::ZERO,
                &[("hold", ms(0), ms(30_000))],
                ms(10_000),
                ms(20_000),
            ),
            (
                "a send after a hold does not shorten it",
                S,
                &[("hold", ms(0), ms(5_000)), ("sent", ms(100), ms(0))],
                ms(1_000),
                ms(4_000),
            ),
            (
                "a shorter hold does not shorten a longer one",
                S,
                &[("hold", ms(0), ms(5_000)), ("hold", ms(0), ms(2_000))],
                ms(0),
                ms(5_000),
            ),
        ];
        for (name, gap, steps, asked, expected) in cases {
            let mut pace = Pace::new(*gap);
            for (kind, at, length) in *steps {
                match *kind {
                    "sent" => pace.sent(t0 + *at),
                    "hold" => pace.hold(t0 + *at, *length),
                    other => unreachable!("unknown step {other}"),
                }
            }
            assert_eq!(pace.wait(t0 + *asked), *expected, "{name}");
        }
    }
}
