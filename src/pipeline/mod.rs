//! Turns an [`Event`] into what the store keeps: for errors, a template and its fingerprint.
//!
//! Every function here is pure; the store and the sources do the I/O.

pub mod classify;
pub mod exception;
pub mod fingerprint;
pub mod grouping;
pub mod multiline;
pub mod normalize;
pub mod parse;
pub mod rules;
pub mod scrub;
mod tokens;
pub mod upgrade;

use std::borrow::Cow;

use crate::model::{Event, Level};

/// An event ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    pub event: Event,
    /// Present for error and critical events: the group they belong to.
    pub group: Option<GroupKey>,
}

/// The identity of an error group, and what the engine decided about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupKey {
    pub fingerprint: String,
    pub template: String,
    pub error_type: Option<String>,
    pub classification: classify::Classification,
}

/// The processing every event goes through before it is stored.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
    scrubber: scrub::Scrubber,
    rules: Vec<rules::GroupingRule>,
    scope_by_service: bool,
    /// Fingerprints of this version that stored groups of an earlier one answer to
    /// ([`upgrade::aliases`]).
    aliases: std::collections::HashMap<String, String>,
}

impl Pipeline {
    /// A pipeline that scrubs with `scrubber`, with no custom grouping rules.
    pub fn new(scrubber: scrub::Scrubber) -> Pipeline {
        Pipeline {
            scrubber,
            ..Pipeline::default()
        }
    }

    /// The same pipeline with custom grouping rules (first match wins).
    pub fn with_rules(mut self, rules: Vec<rules::GroupingRule>) -> Pipeline {
        self.rules = rules;
        self
    }

    /// The same pipeline, with the fingerprints of this version that stored groups of an
    /// earlier version answer to (see [`upgrade`]).
    pub fn with_aliases(mut self, aliases: std::collections::HashMap<String, String>) -> Pipeline {
        self.aliases = aliases;
        self
    }

    /// The same pipeline, fingerprints scoped by service when `scoped` (the same error in two
    /// services is then two groups).
    pub fn scoped_by_service(mut self, scoped: bool) -> Pipeline {
        self.scope_by_service = scoped;
        self
    }

    /// Scrubs the event, then decides whether it starts or joins an error group, and which.
    pub fn process(&self, mut event: Event) -> Processed {
        self.scrubber.scrub_event(&mut event);
        if event.level < Level::Error {
            return Processed { event, group: None };
        }
        if event.exception.is_none() {
            // A text trace (assembled lines or a stack field) gives type, value and frames.
            let trace = event.stack_trace.as_deref().unwrap_or(&event.message);
            event.exception = exception::extract(trace);
        }
        let group = Some(self.group_key(&event));
        Processed { event, group }
    }

    fn group_key(&self, event: &Event) -> GroupKey {
        let mut key = group_key(event);
        let rule = self.rules.iter().find(|r| r.matches(event));
        let base = &key.fingerprint;
        let scoped = match rule.map(|r| &r.action) {
            Some(rules::RuleAction::Fingerprint(name)) => Some(format!("rule|{name}")),
            Some(rules::RuleAction::SplitBy(field)) => Some(format!(
                "{base}|{field:?}={}",
                rules::split_value(event, *field)
            )),
            None if self.scope_by_service => Some(format!(
                "{base}|Service={}",
                event.service.as_deref().unwrap_or("")
            )),
            None => None,
        };
        if let Some(input) = scoped {
            key.fingerprint = fingerprint::fingerprint(&input);
        }
        if let Some(group) = self.aliases.get(&key.fingerprint) {
            key.fingerprint.clone_from(group);
        }
        key
    }
}

fn group_key(event: &Event) -> GroupKey {
    let error_type = event.exception.as_ref().map(|e| e.kind.clone());
    // An exception is titled by its type and value, like Sentry; a plain line by its text.
    let text = match &event.exception {
        Some(exception) if !exception.value.is_empty() => {
            Cow::Owned(format!("{}: {}", exception.kind, exception.value))
        }
        Some(exception) => Cow::Borrowed(exception.kind.as_str()),
        None => Cow::Borrowed(event.message.as_str()),
    };
    let template = normalize::template(&text);
    let signature = event
        .exception
        .as_ref()
        .and_then(fingerprint::frame_signature);
    let classification = classify::classify(&classify::ClassifyInput {
        level: event.level,
        error_type: error_type.as_deref(),
        message: &event.message,
        template: &template,
        service: event.service.as_deref(),
    });
    GroupKey {
        fingerprint: fingerprint::group_fingerprint(
            error_type.as_deref(),
            signature.as_deref(),
            &template,
        ),
        template,
        error_type,
        classification,
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
    fn grouping_decisions() {
        let trace = |function: &str, id: u32| {
            format!("Traceback (most recent call last):\n  File \"/app/shop/cart.py\", line {id}, in {function}\n    total = prices[item]\nKeyError: 'sku-{id}'")
        };
        let fp = |message: &str| {
            process(event(Level::Error, message))
                .group
                .expect("grouped")
                .fingerprint
        };
        // Same root cause, other ids, emails, timestamps and line numbers: one group.
        assert_eq!(fp(&trace("add_item", 12)), fp(&trace("add_item", 97)));
        // Same message from two code locations: two groups.
        assert_ne!(fp(&trace("add_item", 12)), fp(&trace("remove_item", 12)));
        assert_eq!(
            fp("2026-01-01T10:00:00Z payment failed for a@b.io after 31ms"),
            fp("2026-03-02T11:00:00Z payment failed for c@d.io after 2200ms")
        );
        // 502 is not 503.
        assert_ne!(
            fp("upstream returned 502 Bad Gateway"),
            fp("upstream returned 503 Service Unavailable")
        );
    }

    #[test]
    fn custom_rules_merge_and_split() {
        let rules = rules::parse_rules(
            r#"[{"name":"db down","message":"could not connect|connection refused","fingerprint":"database-unreachable"},
                {"name":"timeouts per service","type":"^TimeoutError$","split_by":"service"}]"#,
        )
        .expect("valid rules");
        let pipeline = Pipeline::default().with_rules(rules);
        let fp = |message: &str, service: &str| {
            let mut e = event(Level::Error, message);
            e.service = Some(service.into());
            pipeline.process(e).group.expect("grouped").fingerprint
        };
        // Two different messages, one rule: one group.
        assert_eq!(
            fp("could not connect to server", "api"),
            fp("ECONNREFUSED: connection refused", "web")
        );
        // Split: the same timeout in two services is two groups, in one service one group.
        assert_ne!(
            fp("TimeoutError: query took too long", "api"),
            fp("TimeoutError: query took too long", "web")
        );
        assert_eq!(
            fp("TimeoutError: query took too long", "api"),
            fp("TimeoutError: query took too long", "api")
        );
        // No rule: the usual grouping, global across services.
        assert_eq!(fp("KeyError: 'a'", "api"), fp("KeyError: 'b'", "web"));
        let scoped = Pipeline::default().scoped_by_service(true);
        let scoped_fp = |service: &str| {
            let mut e = event(Level::Error, "KeyError: 'a'");
            e.service = Some(service.into());
            scoped.process(e).group.expect("grouped").fingerprint
        };
        assert_ne!(scoped_fp("api"), scoped_fp("web"));
    }

    #[test]
    fn text_traces_are_classified_and_structured() {
        let processed = process(event(
            Level::Error,
            "psycopg2.OperationalError: could not connect to server: Connection refused",
        ));
        let group = processed.group.expect("grouped");
        assert_eq!(group.classification.category, classify::Category::Database);
        assert_eq!(
            group.error_type.as_deref(),
            Some("psycopg2.OperationalError")
        );
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
