//! Turns an [`Event`] into what the store keeps: for errors, a template and its fingerprint.
//!
//! Every function here is pure; the store and the sources do the I/O.

pub mod fingerprint;
pub mod grouping;
pub mod normalize;
pub mod parse;
pub mod scrub;

use crate::model::{Event, Level};

/// An event ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    pub event: Event,
    /// Present for error and critical events: the group they belong to.
    pub group: Option<GroupKey>,
}

/// The identity of an error group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKey {
    pub fingerprint: String,
    pub template: String,
    pub error_type: Option<String>,
}

/// The processing every event goes through before it is stored.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    scrubber: scrub::Scrubber,
}

impl Pipeline {
    /// A pipeline that scrubs with `scrubber`.
    pub fn new(scrubber: scrub::Scrubber) -> Pipeline {
        Pipeline { scrubber }
    }

    /// Scrubs the event, then decides whether it starts or joins an error group, and which.
    pub fn process(&self, mut event: Event) -> Processed {
        self.scrubber.scrub_event(&mut event);
        let group = (event.level >= Level::Error).then(|| group_key(&event));
        Processed { event, group }
    }
}

fn group_key(event: &Event) -> GroupKey {
    let error_type = event.exception.as_ref().map(|e| e.kind.clone());
    // A structured exception is grouped by its type and value, like Sentry; a plain line by its text.
    let text = match &event.exception {
        Some(exception) if !exception.value.is_empty() => {
            format!("{}: {}", exception.kind, exception.value)
        }
        Some(exception) => exception.kind.clone(),
        None => event.message.clone(),
    };
    let template = normalize::template(&text);
    GroupKey {
        fingerprint: fingerprint::fingerprint(&template),
        template,
        error_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Exception;
    use chrono::Utc;

    fn event(level: Level, message: &str) -> Event {
        Event {
            timestamp: Utc::now(),
            level,
            message: message.to_string(),
            exception: None,
            stack_trace: None,
            service: Some("api".into()),
            deployment: None,
            environment: None,
            attributes: Default::default(),
            source: "test".into(),
            source_id: None,
        }
    }

    fn process(e: Event) -> Processed {
        Pipeline::default().process(e)
    }

    #[test]
    fn secrets_never_reach_the_group_or_the_stored_event() {
        let mut e = event(
            Level::Error,
            "login failed for bob@example.com password=hunter2",
        );
        e.stack_trace = Some("at auth (token=hunter2)".into());
        e.attributes.insert("api_key".into(), "hunter2".into());
        e.attributes
            .insert("note".into(), "mail bob@example.com".into());
        let processed = process(e);
        let group = processed.group.clone().expect("grouped");
        let everything = format!("{processed:?}");
        assert!(
            !everything.contains("hunter2") && !everything.contains("bob@example.com"),
            "{everything}"
        );
        assert!(!group.template.contains("hunter2"));
    }

    #[test]
    fn only_errors_get_a_group() {
        for (level, grouped) in [
            (Level::Trace, false),
            (Level::Debug, false),
            (Level::Info, false),
            (Level::Warn, false),
            (Level::Error, true),
            (Level::Critical, true),
        ] {
            assert_eq!(
                process(event(level, "boom")).group.is_some(),
                grouped,
                "{level}"
            );
        }
    }

    #[test]
    fn same_error_with_other_values_shares_a_fingerprint() {
        let a = process(event(Level::Error, "HTTP 500 at /api/foo user_id=123")).group;
        let b = process(event(Level::Error, "HTTP 500 at /api/foo user_id=987")).group;
        let c = process(event(Level::Error, "HTTP 502 at /api/foo user_id=987")).group;
        assert_eq!(a, b);
        assert_ne!(a.map(|g| g.fingerprint), c.map(|g| g.fingerprint));
    }

    #[test]
    fn exceptions_group_by_type_and_value() {
        let mut e = event(Level::Error, "unhandled");
        e.exception = Some(Exception {
            kind: "KeyError".into(),
            value: "'user_42'".into(),
            frames: vec![],
        });
        let group = process(e).group.expect("error events are grouped");
        assert_eq!(group.template, "KeyError: <str>");
        assert_eq!(group.error_type.as_deref(), Some("KeyError"));
    }
}
