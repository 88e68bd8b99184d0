//! Arbitrary input never panics the engine, and scrubbing is never undone downstream
//! (proptest: random strings, random bytes read as text, and log-shaped strings).

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use signalbox::model::{Event, Level};
use signalbox::pipeline::classify::{classify, ClassifyInput};
use signalbox::pipeline::grouping::LineGrouper;
use signalbox::pipeline::multiline::{Assembler, AssemblerConfig};
use signalbox::pipeline::parse::{parse_line, LineContext};
use signalbox::pipeline::{exception, normalize, scrub::Scrubber, Pipeline};

/// Text built from the pieces that make the rules work hardest.
fn log_shaped() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Traceback (most recent call last):\n".to_string()),
        Just("  File \"/app/x.py\", line 3, in f\n".to_string()),
        Just("\tat com.x.Y.z(Y.java:1)\n".to_string()),
        Just("goroutine 1 [running]:\n".to_string()),
        Just("thread 'main' panicked at src/a.rs:1:2:\n".to_string()),
        Just("password=".to_string()),
        Just("Bearer ".to_string()),
        Just("eyJ".to_string()),
        Just("://".to_string()),
        Just("\"".to_string()),
        Just("'".to_string()),
        Just("<num>".to_string()),
        Just("<".to_string()),
        Just("=".to_string()),
        Just("/".to_string()),
        Just("\\".to_string()),
        Just("-".to_string()),
        Just("_-".to_string()),
        Just("0x".to_string()),
        Just("4111 1111 1111 1111".to_string()),
        Just("DE89 3704 0044 0532 0130 00".to_string()),
        "[0-9]{1,20}",
        "[a-fA-F0-9]{1,40}",
        "[a-zA-Z_]{1,12}",
        "[ \t\n,;:.@]{1,3}",
        "\\PC{1,4}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()
}

fn exercise(text: &str) {
    let scrubbed = Scrubber::default().scrub(text).into_owned();
    let template = normalize::template(&scrubbed);
    assert!(template.chars().count() <= normalize::MAX_TEMPLATE_CHARS);
    let _ = exception::extract(&scrubbed);
    let _ = classify(&ClassifyInput {
        level: Level::Error,
        error_type: None,
        message: &scrubbed,
        template: &template,
        service: None,
    });
    let mut grouper = LineGrouper::default();
    for line in scrubbed.lines() {
        grouper.add(line);
    }
    let mut assembler = Assembler::new(AssemblerConfig::default());
    for line in text.lines() {
        assembler.push(at(), line);
    }
    let _ = assembler.finish();
    let ctx = LineContext {
        source: "prop".into(),
        service: None,
        received_at: at(),
    };
    for line in text.lines() {
        if let Some(event) = parse_line(line, &ctx) {
            let _ = Pipeline::default().process(event);
        }
    }
    let event = Event {
        timestamp: at(),
        level: Level::Critical,
        message: text.to_string(),
        exception: None,
        stack_trace: Some(text.to_string()),
        service: Some(text.to_string()),
        deployment: None,
        environment: None,
        attributes: [(text.to_string(), text.to_string())].into_iter().collect(),
        source: "prop".into(),
        source_id: None,
    };
    let _ = Pipeline::default().process(event);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,300}") {
        exercise(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        exercise(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn log_shaped_text_never_panics(text in log_shaped()) {
        exercise(&text);
    }

    /// A planted secret never survives into any field of a processed event.
    #[test]
    fn planted_secrets_never_reach_the_output(prefix in "[a-zA-Z ]{0,20}", suffix in "[a-zA-Z ]{0,20}") {
        let secrets = [
            "sk-ant-api03-Zx8PlantedSecretValue0000000000",
            "ghp_PlantedSecretValue000000000000000000",
            "hunter2planted",
        ];
        for secret in secrets {
            let text = format!("{prefix} password={secret} token {secret} {suffix}");
            let event = Event {
                timestamp: at(),
                level: Level::Error,
                message: text.clone(),
                exception: None,
                stack_trace: Some(format!("Traceback (most recent call last):\n  File \"/app/a.py\", line 1, in f\nValueError: {text}")),
                service: None,
                deployment: None,
                environment: None,
                attributes: [("api_key".to_string(), secret.to_string()), ("note".to_string(), text.clone())].into_iter().collect(),
                source: "prop".into(),
                source_id: None,
            };
            let processed = Pipeline::default().process(event);
            let everything = format!("{processed:?}");
            prop_assert!(!everything.contains(secret), "{secret} leaked: {everything}");
        }
    }
}
