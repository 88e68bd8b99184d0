//! The System Health page's view: time range, filters and chart split, read from and written
//! to the URL's query string so a link shares the view (and a plain GET form sets it).

use serde::{Deserialize, Serialize};
use signalbox::model::{GroupStatus, Level};

/// How far back the page looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TimeRange {
    Hour,
    #[default]
    Day,
    Week,
}

impl TimeRange {
    pub const ALL: [TimeRange; 3] = [TimeRange::Hour, TimeRange::Day, TimeRange::Week];

    /// As in the URL: `1h`, `24h`, `7d`.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeRange::Hour => "1h",
            TimeRange::Day => "24h",
            TimeRange::Week => "7d",
        }
    }

    /// As a person reads it.
    pub fn label(self) -> &'static str {
        match self {
            TimeRange::Hour => "last hour",
            TimeRange::Day => "last 24 hours",
            TimeRange::Week => "last 7 days",
        }
    }

    pub fn parse(text: &str) -> Option<TimeRange> {
        TimeRange::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Its length in minutes.
    pub fn minutes(self) -> i64 {
        match self {
            TimeRange::Hour => 60,
            TimeRange::Day => 24 * 60,
            TimeRange::Week => 7 * 24 * 60,
        }
    }

    /// Width of one bar of the error-rate chart, in minutes (60 to 168 bars).
    pub fn chart_bucket_minutes(self) -> i64 {
        match self {
            TimeRange::Hour => 1,
            TimeRange::Day => 15,
            TimeRange::Week => 60,
        }
    }

    /// Width of one point of a group's sparkline, in minutes (12 to 28 points).
    pub fn spark_bucket_minutes(self) -> i64 {
        match self {
            TimeRange::Hour => 5,
            TimeRange::Day => 60,
            TimeRange::Week => 6 * 60,
        }
    }
}

/// What the chart's bars are stacked by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Split {
    #[default]
    Level,
    Service,
}

impl Split {
    pub fn as_str(self) -> &'static str {
        match self {
            Split::Level => "level",
            Split::Service => "service",
        }
    }

    pub fn parse(text: &str) -> Option<Split> {
        [Split::Level, Split::Service]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The view: range, filters, chart split. Unknown or empty values fall back to the defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Filters {
    pub range: TimeRange,
    pub service: Option<String>,
    pub level: Option<Level>,
    pub status: Option<GroupStatus>,
    /// Text the template must contain.
    pub text: Option<String>,
    pub split: Split,
}

/// The longest text filter kept.
const MAX_TEXT: usize = 200;

impl Filters {
    /// From query parameters (`range`, `service`, `level`, `status`, `q`, `by`).
    pub fn from_query(get: impl Fn(&str) -> Option<String>) -> Filters {
        let nonempty = |key: &str| {
            get(key)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Filters {
            range: nonempty("range")
                .and_then(|r| TimeRange::parse(&r))
                .unwrap_or_default(),
            service: nonempty("service").map(|s| s.chars().take(MAX_TEXT).collect()),
            level: nonempty("level").and_then(|l| l.parse().ok()),
            status: nonempty("status").and_then(|s| s.parse().ok()),
            text: nonempty("q").map(|s| s.chars().take(MAX_TEXT).collect()),
            split: nonempty("by")
                .and_then(|s| Split::parse(&s))
                .unwrap_or_default(),
        }
    }

    /// The query string (without `?`) that gives this view; defaults are left out.
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if self.range != TimeRange::default() {
            pairs.push(("range", self.range.as_str().into()));
        }
        if let Some(s) = &self.service {
            pairs.push(("service", s.clone()));
        }
        if let Some(l) = self.level {
            pairs.push(("level", l.as_str().into()));
        }
        if let Some(s) = self.status {
            pairs.push(("status", s.as_str().into()));
        }
        if let Some(q) = &self.text {
            pairs.push(("q", q.clone()));
        }
        if self.split != Split::default() {
            pairs.push(("by", self.split.as_str().into()));
        }
        pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", signalbox::model::percent_encode(&v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Filters {
        Filters::from_query(|k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn query_parameters_make_the_view_and_bad_ones_fall_back() {
        let cases: Vec<(&[(&str, &str)], Filters)> = vec![
            (&[], Filters::default()),
            (
                &[("range", "7d"), ("level", "critical"), ("by", "service")],
                Filters {
                    range: TimeRange::Week,
                    level: Some(Level::Critical),
                    split: Split::Service,
                    ..Filters::default()
                },
            ),
            (
                &[
                    ("range", "2y"),
                    ("level", "loud"),
                    ("status", "nope"),
                    ("by", "x"),
                ],
                Filters::default(),
            ),
            (
                &[
                    ("service", "  "),
                    ("q", " timeout "),
                    ("status", "resolved"),
                ],
                Filters {
                    text: Some("timeout".into()),
                    status: Some(GroupStatus::Resolved),
                    ..Filters::default()
                },
            ),
        ];
        for (pairs, want) in cases {
            assert_eq!(parse(pairs), want, "{pairs:?}");
        }
    }

    #[test]
    fn the_query_string_round_trips() {
        let view = Filters {
            range: TimeRange::Hour,
            service: Some("api gateway".into()),
            level: Some(Level::Error),
            status: Some(GroupStatus::Unresolved),
            text: Some("502 & <x>".into()),
            split: Split::Service,
        };
        let query = view.to_query();
        assert_eq!(
            query,
            "range=1h&service=api%20gateway&level=error&status=unresolved&q=502%20%26%20%3Cx%3E&by=service"
        );
        let decoded: Vec<(String, String)> = query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .map(|(k, v)| (k.to_string(), decode(v)))
            .collect();
        let back = Filters::from_query(|k| {
            decoded
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        });
        assert_eq!(back, view);
        assert_eq!(Filters::default().to_query(), "");
    }

    fn decode(v: &str) -> String {
        let bytes = v.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("20");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b' '));
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap_or_default()
    }
}
