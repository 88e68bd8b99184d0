//! Pins the fingerprint and template of a fixture corpus, so that any change in grouping is
//! deliberate: a change fails here, and is accepted by re-running with `UPDATE_GOLDEN=1` (and
//! by raising `normalize::ALGORITHM_VERSION` when stored groups would change).

use chrono::DateTime;
use signalbox::model::{Event, Level};
use signalbox::pipeline::Pipeline;

const CORPUS: &str = include_str!("fixtures/grouping-corpus.txt");
const GOLDEN_PATH: &str = "tests/fixtures/fingerprints.golden";

fn render() -> String {
    let pipeline = Pipeline::default();
    let mut out = String::new();
    for entry in CORPUS.split("\n----\n") {
        let entry = entry.trim_end_matches('\n');
        let first = entry.lines().next().unwrap_or("");
        let event = Event {
            timestamp: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            level: Level::Error,
            message: first.to_string(),
            exception: None,
            stack_trace: entry.contains('\n').then(|| entry.to_string()),
            service: Some("golden".into()),
            deployment: None,
            environment: None,
            attributes: Default::default(),
            source: "golden".into(),
            source_id: None,
        };
        let group = pipeline
            .process(event)
            .group
            .expect("error events are grouped");
        let c = group.classification;
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            group.fingerprint,
            c.category.as_str(),
            c.severity.as_str(),
            group.error_type.unwrap_or_default(),
            group.template
        ));
    }
    out
}

#[test]
fn fingerprints_are_pinned() {
    let rendered = render();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(GOLDEN_PATH, &rendered).expect("golden file written");
        return;
    }
    let golden = std::fs::read_to_string(GOLDEN_PATH).unwrap_or_default();
    assert_eq!(
        rendered, golden,
        "grouping changed: if deliberate, run UPDATE_GOLDEN=1 cargo test --test golden and raise ALGORITHM_VERSION"
    );
}
