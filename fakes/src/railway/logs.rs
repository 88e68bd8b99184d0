//! Log storage order, Railway's `filter` syntax (the subset the fake understands), the windowing
//! of `deploymentLogs` / `environmentLogs` (limit+1 bug included) and the wire shape of a `Log`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value as Json};

use super::LogLine;

/// A stored line: the line and its arrival number (which decides the shape of its attribute
/// values on the wire, see [`log_json`]).
#[derive(Clone, Debug)]
pub(crate) struct StoredLine {
    pub line: LogLine,
    pub seq: u64,
}

/// The `tags` of a line that come from where it was logged (the instance id is on the line).
#[derive(Clone, Debug, Default)]
pub(crate) struct Tags {
    pub project_id: String,
    pub environment_id: String,
    pub service_id: Option<String>,
    pub deployment_id: String,
}

/// Inserts `line` after every stored line with a timestamp `<=` its own: sorted by timestamp,
/// arrival order among ties.
pub(crate) fn insert_sorted(lines: &mut Vec<StoredLine>, line: StoredLine) {
    let at = lines.partition_point(|l| l.line.timestamp <= line.line.timestamp);
    lines.insert(at, line);
}

/// RFC 3339 with nanoseconds and `Z`, as Railway sends `Log.timestamp`.
pub(crate) fn rfc3339_nanos(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// A line as a full GraphQL `Log` object.
///
/// Attribute values come in the two shapes the wire notes say occur: lines with an even arrival
/// number send JSON-encoded values (`"\"error\""`, while numbers, booleans and values that are
/// already JSON stay as they are), lines with an odd one send the value as given.
pub(crate) fn log_json(stored: &StoredLine, tags: &Tags) -> Json {
    let line = &stored.line;
    let quoted = stored.seq & 1 == 0;
    let attributes: Vec<Json> = line
        .attributes
        .iter()
        .map(
            |(k, v)| json!({ "key": k, "value": if quoted { json_encoded(v) } else { v.clone() } }),
        )
        .collect();
    json!({
        "__typename": "Log",
        "timestamp": rfc3339_nanos(&line.timestamp),
        "message": line.message,
        "severity": line.severity,
        "tags": {
            "__typename": "LogTags",
            "deploymentId": tags.deployment_id,
            "deploymentInstanceId": line.instance_id,
            "environmentId": tags.environment_id,
            "projectId": tags.project_id,
            "serviceId": tags.service_id,
            "snapshotId": null,
            "pluginId": null,
        },
        "attributes": attributes,
    })
}

/// A string attribute value JSON-encoded the way Railway stores structured-log fields.
fn json_encoded(value: &str) -> String {
    match serde_json::from_str::<Json>(value) {
        Ok(_) => value.to_string(),
        Err(_) => Json::String(value.to_string()).to_string(),
    }
}

/// An attribute value with one layer of JSON string quoting removed (both wire shapes → plain).
fn plain(value: &str) -> std::borrow::Cow<'_, str> {
    if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
        if let Ok(Json::String(s)) = serde_json::from_str::<Json>(value) {
            return s.into();
        }
    }
    value.into()
}

/// A parsed `filter`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Filter {
    All,
    /// Case-insensitive substring of the message.
    Text(String),
    /// `@key:value` (`@level` also matches `severity`; `@service`, `@deployment`, `@replica` and
    /// `replica:` match the tags).
    Attr(String, Condition),
    Not(Box<Filter>),
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

/// Deepest nesting of parentheses and negations a filter may use.
const MAX_FILTER_DEPTH: usize = 64;

/// The value side of `@key:value`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Condition {
    Equals(String),
    Compare(&'static str, f64),
    Range(f64, f64),
}

impl Condition {
    fn parse(v: &str) -> Condition {
        let v = plain(v).into_owned();
        for op in [">=", "<=", ">", "<"] {
            if let Some(n) = v
                .strip_prefix(op)
                .and_then(|n| n.trim().parse::<f64>().ok())
            {
                return Condition::Compare(op, n);
            }
        }
        if let Some((a, b)) = v.split_once("..") {
            if let (Ok(a), Ok(b)) = (a.trim().parse(), b.trim().parse()) {
                return Condition::Range(a, b);
            }
        }
        Condition::Equals(v)
    }

    fn matches(&self, value: &str) -> bool {
        let value = plain(value);
        match self {
            Condition::Equals(want) => value.eq_ignore_ascii_case(want),
            Condition::Compare(op, n) => value.trim().parse::<f64>().is_ok_and(|v| match *op {
                ">=" => v >= *n,
                "<=" => v <= *n,
                ">" => v > *n,
                _ => v < *n,
            }),
            Condition::Range(a, b) => value
                .trim()
                .parse::<f64>()
                .is_ok_and(|v| v >= *a && v <= *b),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum FTok {
    Open,
    Close,
    Not,
    Phrase(String),
    Word(String),
}

fn filter_tokens(src: &str) -> Vec<FTok> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(FTok::Open);
                i += 1;
            }
            ')' => {
                out.push(FTok::Close);
                i += 1;
            }
            '-' if chars.get(i + 1).is_some_and(|c| !c.is_whitespace()) => {
                out.push(FTok::Not);
                i += 1;
            }
            '"' => {
                let start = i + 1;
                i = start;
                while i < chars.len() && chars[i] != '"' {
                    i += 1;
                }
                out.push(FTok::Phrase(chars[start..i].iter().collect()));
                i += 1; // the closing quote (or past the end when unterminated)
            }
            _ => {
                let start = i;
                let mut in_quotes = false;
                while i < chars.len() {
                    let c = chars[i];
                    if c == '"' {
                        in_quotes = !in_quotes;
                    } else if !in_quotes && (c.is_whitespace() || c == '(' || c == ')') {
                        break;
                    }
                    i += 1;
                }
                out.push(FTok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    out
}

impl Filter {
    /// Parses Railway's filter syntax: words (substring of the message), `"phrases"`,
    /// `@attr:value` (with `>`, `>=`, `<`, `<=`, `a..b` for numbers), `replica:<id>`, `-term`,
    /// `AND` (also implicit), `OR`, parentheses. Never fails: stray syntax is read as text.
    pub fn parse(src: &str) -> Filter {
        let toks = filter_tokens(src);
        let mut at = 0;
        let f = Self::or(&toks, &mut at, 0);
        // Unbalanced `)`: read what's after it too.
        let mut rest = vec![f];
        while at < toks.len() {
            at += 1;
            rest.push(Self::or(&toks, &mut at, 0));
        }
        let rest: Vec<Filter> = rest.into_iter().filter(|f| *f != Filter::All).collect();
        match rest.len() {
            0 => Filter::All,
            1 => rest.into_iter().next().unwrap_or(Filter::All),
            _ => Filter::And(rest),
        }
    }

    fn or(toks: &[FTok], at: &mut usize, depth: usize) -> Filter {
        let mut alts = vec![Self::and(toks, at, depth)];
        while matches!(toks.get(*at), Some(FTok::Word(w)) if w == "OR") {
            *at += 1;
            alts.push(Self::and(toks, at, depth));
        }
        if alts.len() == 1 {
            alts.pop().unwrap_or(Filter::All)
        } else {
            Filter::Or(alts)
        }
    }

    fn and(toks: &[FTok], at: &mut usize, depth: usize) -> Filter {
        let mut all = Vec::new();
        loop {
            match toks.get(*at) {
                None | Some(FTok::Close) => break,
                Some(FTok::Word(w)) if w == "OR" => break,
                Some(FTok::Word(w)) if w == "AND" => *at += 1,
                Some(_) => all.push(Self::unary(toks, at, depth)),
            }
        }
        if all.len() == 1 {
            all.pop().unwrap_or(Filter::All)
        } else if all.is_empty() {
            Filter::All
        } else {
            Filter::And(all)
        }
    }

    fn unary(toks: &[FTok], at: &mut usize, depth: usize) -> Filter {
        // Negations are counted, not recursed into.
        let mut negated = false;
        while toks.get(*at) == Some(&FTok::Not) {
            negated = !negated;
            *at += 1;
        }
        let operand = Self::operand(toks, at, depth);
        if negated {
            Filter::Not(Box::new(operand))
        } else {
            operand
        }
    }

    fn operand(toks: &[FTok], at: &mut usize, depth: usize) -> Filter {
        let tok = toks.get(*at).cloned();
        *at += 1;
        match tok {
            Some(FTok::Not) => Filter::All, // unreachable: `unary` took the negations
            // Deeper nesting is ignored rather than overflowing the stack.
            Some(FTok::Open) if depth >= MAX_FILTER_DEPTH => Filter::All,
            Some(FTok::Open) => {
                let inner = Self::or(toks, at, depth + 1);
                if toks.get(*at) == Some(&FTok::Close) {
                    *at += 1;
                }
                inner
            }
            Some(FTok::Phrase(p)) => Filter::Text(p.to_lowercase()),
            Some(FTok::Word(w)) => {
                if let Some((key, value)) = w.strip_prefix('@').and_then(|a| a.split_once(':')) {
                    Filter::Attr(key.to_string(), Condition::parse(value))
                } else if let Some(id) = w.strip_prefix("replica:") {
                    Filter::Attr("replica".into(), Condition::Equals(plain(id).into_owned()))
                } else {
                    Filter::Text(w.to_lowercase())
                }
            }
            Some(FTok::Close) | None => Filter::All,
        }
    }

    /// Whether a line (logged where `tags` say) matches.
    pub fn matches(&self, line: &LogLine, tags: &Tags) -> bool {
        match self {
            Filter::All => true,
            Filter::Text(t) => line.message.to_lowercase().contains(t),
            Filter::Attr(key, cond) => {
                let attr = || {
                    line.attributes
                        .iter()
                        .any(|(k, v)| k == key && cond.matches(v))
                };
                match key.as_str() {
                    "level" => line.severity.as_deref().is_some_and(|s| cond.matches(s)) || attr(),
                    "service" | "serviceId" => {
                        tags.service_id.as_deref().is_some_and(|s| cond.matches(s))
                    }
                    "deployment" | "deploymentId" => cond.matches(&tags.deployment_id),
                    "replica" | "deploymentInstanceId" => cond.matches(&line.instance_id),
                    _ => attr(),
                }
            }
            Filter::Not(f) => !f.matches(line, tags),
            Filter::And(fs) => fs.iter().all(|f| f.matches(line, tags)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(line, tags)),
        }
    }
}

/// `deploymentLogs` windowing over lines sorted oldest→newest that already passed the filter:
/// `startDate` inclusive, `endDate` exclusive; when more than `limit` lines are in the window the
/// newest `limit` **plus one** come back (Railway's off-by-one), oldest first.
pub(crate) fn deployment_window<'a, T>(
    lines: impl IntoIterator<Item = (&'a StoredLine, T)>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    limit: usize,
) -> Vec<(&'a StoredLine, T)> {
    let mut in_window: Vec<(&StoredLine, T)> = lines
        .into_iter()
        .filter(|(l, _)| {
            start.is_none_or(|s| l.line.timestamp >= s) && end.is_none_or(|e| l.line.timestamp < e)
        })
        .collect();
    let keep = limit.saturating_add(1);
    if in_window.len() > keep {
        in_window.drain(..in_window.len() - keep);
    }
    in_window
}

/// `environmentLogs` anchored windowing over lines sorted oldest→newest that passed the filter:
/// the newest `beforeLimit` lines in `[beforeDate, anchorDate)` then the oldest `afterLimit`
/// lines in `[anchorDate, afterDate]`. Without an anchor, the newest `beforeLimit` lines.
pub(crate) fn anchored_window<'a, T>(
    lines: impl IntoIterator<Item = (&'a StoredLine, T)>,
    anchor: Option<DateTime<Utc>>,
    before_date: Option<DateTime<Utc>>,
    before_limit: usize,
    after_date: Option<DateTime<Utc>>,
    after_limit: usize,
) -> Vec<(&'a StoredLine, T)> {
    let (mut before, mut after): (Vec<_>, Vec<_>) = lines
        .into_iter()
        .partition(|(l, _)| anchor.is_none_or(|a| l.line.timestamp < a));
    before.retain(|(l, _)| before_date.is_none_or(|b| l.line.timestamp >= b));
    if before.len() > before_limit {
        before.drain(..before.len() - before_limit);
    }
    after.retain(|(l, _)| after_date.is_none_or(|a| l.line.timestamp <= a));
    after.truncate(after_limit);
    before.extend(after);
    before
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn line(secs: i64, message: &str, severity: Option<&str>, attrs: &[(&str, &str)]) -> LogLine {
        LogLine {
            timestamp: Utc
                .timestamp_opt(1_800_000_000 + secs, 0)
                .single()
                .unwrap_or_default(),
            message: message.into(),
            severity: severity.map(str::to_string),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            instance_id: "inst-1".into(),
        }
    }

    fn matches(filter: &str, l: &LogLine) -> bool {
        Filter::parse(filter).matches(
            l,
            &Tags {
                service_id: Some("svc".into()),
                ..Tags::default()
            },
        )
    }

    #[test]
    fn filters() {
        let err = line(0, "Payment FAILED for order 42", Some("error"), &[]);
        let warn = line(
            0,
            "slow query",
            None,
            &[("level", "\"warn\""), ("ms", "1500")],
        );
        assert!(matches("", &err));
        assert!(matches("@level:error", &err));
        assert!(!matches("@level:error", &warn));
        assert!(matches("@level:warn", &warn));
        assert!(matches("payment failed", &err));
        assert!(matches("\"payment failed\"", &err));
        assert!(!matches("\"failed payment\"", &err));
        assert!(matches("-slow", &err));
        assert!(!matches("-slow", &warn));
        assert!(matches("@level:error OR @level:warn", &warn));
        assert!(matches("(@level:error OR slow) -nothing", &warn));
        assert!(matches("@ms:>=1000", &warn));
        assert!(!matches("@ms:<1000", &warn));
        assert!(matches("@ms:1000..2000", &warn));
        assert!(matches("replica:inst-1 @service:svc", &warn));
        assert!(!matches("@service:other", &warn));
        assert!(matches("payment AND order", &err));
        assert!(matches("(unclosed", &line(0, "unclosed paren", None, &[])));
        assert!(matches(")stray", &line(0, "stray", None, &[])));
        assert!(matches(&"(".repeat(100_000), &err));
        assert!(!matches(&format!("{}x", "-".repeat(100_000)), &err));
        assert!(matches(&format!("{}x", "-".repeat(99_999)), &err));
    }

    #[test]
    fn ties_keep_arrival_order() {
        let mut v = Vec::new();
        for (seq, (s, m)) in [(5, "b1"), (1, "a"), (5, "b2"), (3, "c"), (5, "b3")]
            .into_iter()
            .enumerate()
        {
            insert_sorted(
                &mut v,
                StoredLine {
                    line: line(s, m, None, &[]),
                    seq: seq as u64,
                },
            );
        }
        let order: Vec<&str> = v.iter().map(|l| l.line.message.as_str()).collect();
        assert_eq!(order, ["a", "c", "b1", "b2", "b3"]);
    }

    #[test]
    fn limit_plus_one_and_bounds() {
        let v: Vec<StoredLine> = (0..10)
            .map(|i| StoredLine {
                line: line(i, &format!("m{i}"), None, &[]),
                seq: i as u64,
            })
            .collect();
        let msgs = |r: Vec<(&StoredLine, ())>| {
            r.iter()
                .map(|(l, _)| l.line.message.clone())
                .collect::<Vec<_>>()
        };
        let t = |s| Some(line(s, "", None, &[]).timestamp);
        // Newest limit+1, oldest first.
        assert_eq!(
            msgs(deployment_window(v.iter().map(|l| (l, ())), None, None, 3)),
            ["m6", "m7", "m8", "m9"]
        );
        // start inclusive, end exclusive.
        assert_eq!(
            msgs(deployment_window(v.iter().map(|l| (l, ())), t(2), t(5), 10)),
            ["m2", "m3", "m4"]
        );
        // Exactly limit in the window: all of them, no extra.
        assert_eq!(
            msgs(deployment_window(v.iter().map(|l| (l, ())), t(2), t(5), 3)).len(),
            3
        );
        assert_eq!(
            msgs(deployment_window(v.iter().map(|l| (l, ())), t(2), t(6), 3)),
            ["m2", "m3", "m4", "m5"]
        );
        assert_eq!(
            msgs(deployment_window(v.iter().map(|l| (l, ())), t(2), t(9), 3)),
            ["m5", "m6", "m7", "m8"]
        );
        // Anchored: CLI window [start, end] = beforeDate=start, anchor=end, afterLimit=0.
        assert_eq!(
            msgs(anchored_window(
                v.iter().map(|l| (l, ())),
                t(6),
                t(2),
                2,
                t(6),
                0
            )),
            ["m4", "m5"]
        );
        assert_eq!(
            msgs(anchored_window(
                v.iter().map(|l| (l, ())),
                t(6),
                None,
                1,
                t(7),
                5
            )),
            ["m5", "m6", "m7"]
        );
        assert_eq!(
            msgs(anchored_window(
                v.iter().map(|l| (l, ())),
                None,
                None,
                2,
                None,
                0
            )),
            ["m8", "m9"]
        );
    }

    #[test]
    fn attribute_shapes_alternate() {
        let l = line(
            0,
            "x",
            Some("error"),
            &[("level", "error"), ("n", "42"), ("q", "\"already\"")],
        );
        let tags = Tags::default();
        let even = log_json(
            &StoredLine {
                line: l.clone(),
                seq: 0,
            },
            &tags,
        );
        let odd = log_json(&StoredLine { line: l, seq: 1 }, &tags);
        assert_eq!(
            even["attributes"],
            json!([{"key":"level","value":"\"error\""},{"key":"n","value":"42"},{"key":"q","value":"\"already\""}])
        );
        assert_eq!(
            odd["attributes"],
            json!([{"key":"level","value":"error"},{"key":"n","value":"42"},{"key":"q","value":"\"already\""}])
        );
        assert_eq!(even["timestamp"], "2027-01-15T08:00:00.000000000Z");
    }
}
