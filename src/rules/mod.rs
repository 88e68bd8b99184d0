//! Alert rules: when someone must look. The rules live in the `alert_rules` table (defaults
//! seeded by a migration on first start, edited through the API and the UI); the store
//! evaluates them as it writes each batch of events, in the same transaction, so counts,
//! firings, tasks and queued notifications are never out of step with the events.
//!
//! The decisions are pure functions in [`engine`]; the I/O is in `store::alerts`.

pub mod checks;
pub mod engine;

use std::sync::Arc;

pub use checks::{Measure, Reading};
pub use engine::{Compiled, Counts, GroupFacts, KeyState, Observation};

use crate::model::AlertRule;

/// The enabled rules, compiled.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Arc<Vec<Compiled>>,
}

impl RuleSet {
    /// Compiles `rules`, skipping (and logging) any that no longer compile.
    pub fn new(rules: Vec<AlertRule>) -> RuleSet {
        let compiled = rules
            .into_iter()
            .filter(|r| r.enabled)
            .filter_map(|r| {
                let name = r.name.clone();
                Compiled::new(r)
                    .map_err(|(field, why)| tracing::warn!(rule = %name, %field, %why, "alert rule skipped"))
                    .ok()
            })
            .collect();
        RuleSet {
            rules: Arc::new(compiled),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}
