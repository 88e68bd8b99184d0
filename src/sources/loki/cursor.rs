//! Where the Loki source resumes: a timestamp and the entries already read at it.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::sources::SourceError;

/// Everything before `ts` is read, and of the entries at `ts` exactly those in `seen`.
///
/// The next query starts at `ts` (Loki's `start` is inclusive), so entries that share the
/// timestamp are read again and those in `seen` dropped: nothing is skipped or read twice,
/// however many entries share a nanosecond. Stored as
/// `{"ts":"1764238862123456789","seen":["<entry id>",…]}` (the timestamp as a string, as
/// Loki writes nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Cursor {
    /// Unix nanoseconds.
    pub ts: i64,
    /// Ids (see `page::entry_id`) of the entries at `ts` already read.
    pub seen: BTreeSet<String>,
}

/// The stored form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    ts: String,
    #[serde(default)]
    seen: BTreeSet<String>,
}

impl Cursor {
    /// Nothing read at or after `ts` yet.
    pub fn at(ts: i64) -> Cursor {
        Cursor {
            ts,
            seen: BTreeSet::new(),
        }
    }

    /// The stored text.
    pub fn encode(&self) -> String {
        let stored = Stored {
            ts: self.ts.to_string(),
            seen: self.seen.clone(),
        };
        // A struct of a string and a set of strings always serialises.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Reads a stored cursor.
    pub fn decode(text: &str) -> Result<Cursor, SourceError> {
        let bad = || SourceError::BadCursor(text.chars().take(200).collect());
        let stored: Stored = serde_json::from_str(text).map_err(|_| bad())?;
        let ts = stored.ts.parse::<i64>().map_err(|_| bad())?;
        Ok(Cursor {
            ts,
            seen: stored.seen,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for cursor in [
            Cursor::at(0),
            Cursor::at(1_764_238_862_123_456_789),
            Cursor {
                ts: 1_764_238_862_123_456_789,
                seen: ["b".to_string(), "a".to_string()].into(),
            },
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()).expect("decodes"), cursor);
        }
    }

    #[test]
    fn stored_form() {
        let cursor = Cursor {
            ts: 1_764_238_862_123_456_789,
            seen: ["f00d".to_string(), "beef".to_string()].into(),
        };
        assert_eq!(
            cursor.encode(),
            r#"{"ts":"1764238862123456789","seen":["beef","f00d"]}"#
        );
        assert_eq!(
            Cursor::decode(r#"{"ts":"42"}"#).expect("seen may be absent"),
            Cursor::at(42)
        );
    }

    #[test]
    fn bad_cursors() {
        for text in [
            "",
            "1764238862123456789",
            r#"{"ts":1764238862123456789}"#,
            r#"{"ts":"soon","seen":[]}"#,
            r#"{"ts":"99999999999999999999","seen":[]}"#,
            r#"{"ts":"1","seen":"x"}"#,
            r#"{"ts":"1","seen":[],"other":1}"#,
        ] {
            assert!(
                matches!(Cursor::decode(text), Err(SourceError::BadCursor(_))),
                "{text}"
            );
        }
    }
}
