//! Governance tasks: what a task opened for an error group says. Pure rendering, no I/O; the
//! store (`store::tasks`) keeps one open task per group.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::model::{Alert, AlertRuleType, Group, TaskPriority};

/// The only kind of task Signalbox opens.
pub const TASK_TYPE: &str = "investigate_error";
/// Longest error summary in a title, in characters.
pub const TITLE_SUMMARY_CHARS: usize = 120;
/// Longest example log shown, in characters.
pub const SAMPLE_CHARS: usize = 4_000;
/// Lines of a stack trace kept from its start and from its end.
pub const STACK_HEAD_LINES: usize = 60;
pub const STACK_TAIL_LINES: usize = 40;
/// Longest stack-trace line kept, in characters.
pub const STACK_LINE_CHARS: usize = 300;
/// A manual task on a group first seen this recently is about a new error.
const NEW_ERROR_AGE_HOURS: i64 = 24;

/// Everything a new task says, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDraft {
    pub title: String,
    pub description: String,
    pub priority: TaskPriority,
    pub task_type: &'static str,
    /// Name of the rule that fired (`None`: opened by hand).
    pub rule: Option<String>,
    pub metadata: serde_json::Value,
}

/// The task for `group`, opened because `alert` fired (or by hand), at `now`.
pub fn draft(
    group: &Group,
    alert: Option<&Alert>,
    public_url: &str,
    now: DateTime<Utc>,
) -> TaskDraft {
    let links = Links::new(public_url, &group.fingerprint);
    TaskDraft {
        title: title(&group.template),
        description: description(group, alert, &links),
        priority: priority(group, alert, now),
        task_type: TASK_TYPE,
        rule: alert.map(|a| a.rule_name.clone()),
        metadata: json!({
            "fingerprint": group.fingerprint,
            "occurrences": group.occurrences,
            "rule": alert.map(|a| a.rule_name.as_str()),
            "rule_type": alert.map(|a| a.rule_type.as_str()),
            "links": { "group": links.group, "api": links.api },
        }),
    }
}

/// High for a new error (a new-fingerprint or critical rule, or a task opened by hand on a
/// group first seen less than a day ago), medium for a recurring one.
pub fn priority(group: &Group, alert: Option<&Alert>, now: DateTime<Utc>) -> TaskPriority {
    let new_error = match alert {
        Some(alert) => matches!(
            alert.rule_type,
            AlertRuleType::NewFingerprint | AlertRuleType::Critical
        ),
        None => group.first_seen > now - Duration::hours(NEW_ERROR_AGE_HOURS),
    };
    if new_error {
        TaskPriority::High
    } else {
        TaskPriority::Medium
    }
}

/// `Investigate error: {summary}`, the summary being the group's template on one line, cut
/// at [`TITLE_SUMMARY_CHARS`] characters.
pub fn title(template: &str) -> String {
    let one_line = template.split_whitespace().collect::<Vec<_>>().join(" ");
    let summary = if one_line.is_empty() {
        "(empty message)".to_string()
    } else {
        truncate_chars(&one_line, TITLE_SUMMARY_CHARS)
    };
    format!("Investigate error: {summary}")
}

/// The comment added when another rule trigger finds the task still open.
pub fn retrigger_comment(group: &Group, alert: &Alert) -> String {
    format!(
        "Rule {} fired again: {} ({} occurrences so far, last seen {}).",
        escape_markdown(&alert.rule_name),
        escape_markdown(&alert.summary),
        group.occurrences,
        time(group.last_seen)
    )
}

/// The links a task carries to its group.
struct Links {
    /// The group's page in the UI.
    group: String,
    /// The group in the JSON API.
    api: String,
}

impl Links {
    fn new(public_url: &str, fingerprint: &str) -> Links {
        let base = public_url.trim_end_matches('/');
        Links {
            group: format!("{base}/errors/{fingerprint}"),
            api: format!("{base}/api/logs/errors/{fingerprint}"),
        }
    }
}

fn description(group: &Group, alert: Option<&Alert>, links: &Links) -> String {
    let mut out = String::new();
    out.push_str("## Error\n\n");
    out.push_str(&inline_code(&truncate_chars(&group.template, SAMPLE_CHARS)));
    out.push_str("\n\n");
    let mut facts = vec![
        format!("**Fingerprint:** `{}`", group.fingerprint),
        format!(
            "**Service:** {}",
            group
                .service
                .as_deref()
                .map_or_else(|| "unknown".to_string(), escape_markdown)
        ),
        format!(
            "**Level:** {} · **Severity:** {} · **Category:** {}",
            group.level, group.severity, group.category
        ),
        format!("**First seen:** {}", time(group.first_seen)),
        format!("**Last seen:** {}", time(group.last_seen)),
        format!("**Occurrences:** {}", group.occurrences),
    ];
    facts.push(match alert {
        Some(alert) => format!(
            "**Rule:** {} ({}): {}",
            escape_markdown(&alert.rule_name),
            alert.rule_type.as_str(),
            escape_markdown(&alert.summary)
        ),
        None => "**Opened:** by hand".to_string(),
    });
    for fact in facts {
        out.push_str("- ");
        out.push_str(&fact);
        out.push('\n');
    }
    out.push_str("\n### Example log\n\n");
    out.push_str(&fenced(&truncate_chars(
        &group.sample_message,
        SAMPLE_CHARS,
    )));
    out.push_str("\n### Stack trace\n\n");
    match group
        .stack_trace
        .as_deref()
        .filter(|s| !s.trim().is_empty())
    {
        Some(trace) => out.push_str(&fenced(&cap_stack_trace(trace))),
        None => out.push_str("No stack trace was recorded.\n"),
    }
    out.push_str(&format!(
        "\n[Open the group in Signalbox]({})\n",
        links.group
    ));
    out
}

/// The first [`STACK_HEAD_LINES`] and last [`STACK_TAIL_LINES`] lines (Java puts the throw
/// site first, Python last), each cut at [`STACK_LINE_CHARS`] characters.
pub fn cap_stack_trace(trace: &str) -> String {
    let lines: Vec<&str> = trace.trim_end().lines().collect();
    let cut = |l: &&str| truncate_chars(l, STACK_LINE_CHARS);
    let kept: Vec<String> = if lines.len() <= STACK_HEAD_LINES + STACK_TAIL_LINES {
        lines.iter().map(cut).collect()
    } else {
        let omitted = lines.len() - STACK_HEAD_LINES - STACK_TAIL_LINES;
        lines[..STACK_HEAD_LINES]
            .iter()
            .map(cut)
            .chain(std::iter::once(format!("… {omitted} lines omitted …")))
            .chain(lines[lines.len() - STACK_TAIL_LINES..].iter().map(cut))
            .collect()
    };
    kept.join("\n")
}

/// `text` in a fenced code block whose fence is longer than any run of backticks inside, so
/// nothing in the text can close it.
pub fn fenced(text: &str) -> String {
    let fence = "`".repeat(longest_backtick_run(text).max(2) + 1);
    let body = text.trim_end_matches(['\n', '\r']);
    format!("{fence}text\n{body}\n{fence}\n")
}

/// `text` as inline code, on one line, delimited by more backticks than it contains.
fn inline_code(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let ticks = "`".repeat(longest_backtick_run(&one_line) + 1);
    // A space on each side lets the text start or end with a backtick.
    format!("{ticks} {one_line} {ticks}")
}

fn longest_backtick_run(text: &str) -> usize {
    text.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

/// Plain text on one line with markdown's special characters escaped.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() {
            out.push(' ');
            continue;
        }
        if "\\`*_{}[]()<>#+-.!|~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// At most `max` characters, the last one `…` when cut; never splits a character.
pub fn truncate_chars(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((end, _)) if text[end..].chars().nth(1).is_some() => {
            format!("{}…", &text[..end])
        }
        _ => text.to_string(),
    }
}

fn time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertAction, Category, GroupStatus, Level, Severity};

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid time")
            .with_timezone(&Utc)
    }

    fn group() -> Group {
        Group {
            fingerprint: "ab".repeat(32),
            template: "HTTP 500 at /api/foo user_id=<num>".into(),
            error_type: None,
            level: Level::Error,
            service: Some("api".into()),
            first_seen: at("2026-11-27T10:00:00Z"),
            last_seen: at("2026-11-27T11:00:00Z"),
            occurrences: 12,
            status: GroupStatus::Unresolved,
            sample_message: "HTTP 500 at /api/foo user_id=42".into(),
            stack_trace: None,
            category: Category::Internal,
            severity: Severity::High,
            fixable: false,
            algorithm_version: 2,
        }
    }

    fn alert(rule_type: AlertRuleType) -> Alert {
        Alert {
            id: 0,
            rule_id: 1,
            rule_name: "spike".into(),
            rule_type,
            action: AlertAction::CreateTask,
            fingerprint: Some("ab".repeat(32)),
            service: Some("api".into()),
            fired_at: at("2026-11-27T11:00:00Z"),
            summary: "12 events in 1 min (threshold 10)".into(),
        }
    }

    #[test]
    fn priority_is_high_for_new_errors_only() {
        let g = group();
        let soon = at("2026-11-27T12:00:00Z");
        let days_later = at("2026-12-02T12:00:00Z");
        let cases = [
            (
                Some(AlertRuleType::NewFingerprint),
                days_later,
                TaskPriority::High,
            ),
            (
                Some(AlertRuleType::Critical),
                days_later,
                TaskPriority::High,
            ),
            (Some(AlertRuleType::Spike), soon, TaskPriority::Medium),
            (Some(AlertRuleType::Sustained), soon, TaskPriority::Medium),
            (Some(AlertRuleType::Regression), soon, TaskPriority::Medium),
            (Some(AlertRuleType::ErrorRate), soon, TaskPriority::Medium),
            (None, soon, TaskPriority::High),
            (None, days_later, TaskPriority::Medium),
        ];
        for (rule_type, now, expected) in cases {
            let a = rule_type.map(alert);
            assert_eq!(
                priority(&g, a.as_ref(), now),
                expected,
                "{rule_type:?} {now}"
            );
        }
    }

    #[test]
    fn titles_are_one_line_and_cut_on_a_character() {
        let long = "é".repeat(300);
        let cases: [(&str, String); 5] = [
            ("boom", "Investigate error: boom".into()),
            ("a\n  b\tc", "Investigate error: a b c".into()),
            ("   ", "Investigate error: (empty message)".into()),
            (&long, format!("Investigate error: {}…", "é".repeat(119))),
            (
                &"x".repeat(120),
                format!("Investigate error: {}", "x".repeat(120)),
            ),
        ];
        for (template, expected) in cases {
            assert_eq!(title(template), expected, "{template:?}");
        }
        assert_eq!(
            title(&"x".repeat(121)).chars().count(),
            "Investigate error: ".len() + 120
        );
    }

    #[test]
    fn truncation() {
        for (text, max, expected) in [
            ("", 3, ""),
            ("abc", 3, "abc"),
            ("abcd", 3, "ab…"),
            ("日本語テキスト", 4, "日本語…"),
            ("a", 0, "a"),
        ] {
            assert_eq!(truncate_chars(text, max), expected, "{text} {max}");
        }
    }

    #[test]
    fn fences_are_longer_than_any_backtick_run() {
        for (text, fence) in [
            ("plain", "```"),
            ("a `tick`", "```"),
            ("``` inside", "````"),
            ("```\nrm -rf /\n```", "````"),
            ("`````", "``````"),
        ] {
            let block = fenced(text);
            assert!(block.starts_with(&format!("{fence}text\n")), "{block}");
            assert!(block.ends_with(&format!("\n{fence}\n")), "{block}");
            // Only the opening and the closing line start with a fence this long.
            let closers = block
                .lines()
                .filter(|l| l.trim_start().starts_with(fence))
                .count();
            assert_eq!(closers, 2, "{block}");
        }
    }

    #[test]
    fn a_sample_with_a_fence_cannot_break_out() {
        let mut g = group();
        g.sample_message = "before\n```\n# Injected heading\n```\nafter".into();
        let d = draft(
            &g,
            None,
            "https://sb.example.com/",
            at("2026-11-27T12:00:00Z"),
        );
        let example = d
            .description
            .split("### Example log\n\n")
            .nth(1)
            .expect("an example section");
        assert!(
            example.starts_with("````text\nbefore\n```\n# Injected heading\n```\nafter\n````\n"),
            "{example}"
        );
    }

    #[test]
    fn a_huge_stack_trace_is_capped() {
        let trace: String = (0..10_000)
            .map(|i| format!("  at frame{i} (app.rs:{i})\n"))
            .collect();
        let capped = cap_stack_trace(&trace);
        let lines: Vec<&str> = capped.lines().collect();
        assert_eq!(lines.len(), STACK_HEAD_LINES + STACK_TAIL_LINES + 1);
        assert_eq!(lines[0], "  at frame0 (app.rs:0)");
        assert_eq!(lines[STACK_HEAD_LINES], "… 9900 lines omitted …");
        assert_eq!(lines.last().copied(), Some("  at frame9999 (app.rs:9999)"));

        let mut g = group();
        g.stack_trace = Some(trace);
        let d = draft(&g, None, "http://x", at("2026-11-27T12:00:00Z"));
        assert!(d.description.len() < 20_000, "{}", d.description.len());
        assert!(d
            .description
            .contains("### Stack trace\n\n```text\n  at frame0"));

        // Very long lines are cut too.
        let wide = cap_stack_trace(&"y".repeat(100_000));
        assert_eq!(wide.chars().count(), STACK_LINE_CHARS);
    }

    #[test]
    fn drafts_carry_the_group_and_the_rule() {
        let g = group();
        let a = alert(AlertRuleType::Spike);
        let d = draft(
            &g,
            Some(&a),
            "https://sb.example.com/",
            at("2026-11-27T12:00:00Z"),
        );
        assert_eq!(
            d.title,
            "Investigate error: HTTP 500 at /api/foo user_id=<num>"
        );
        assert_eq!(d.task_type, "investigate_error");
        assert_eq!(d.priority, TaskPriority::Medium);
        assert_eq!(d.rule.as_deref(), Some("spike"));
        let fp = "ab".repeat(32);
        for needle in [
            format!("**Fingerprint:** `{fp}`"),
            "**First seen:** 2026-11-27 10:00:00 UTC".to_string(),
            "**Last seen:** 2026-11-27 11:00:00 UTC".to_string(),
            "**Occurrences:** 12".to_string(),
            "**Rule:** spike (spike): 12 events in 1 min \\(threshold 10\\)".to_string(),
            "```text\nHTTP 500 at /api/foo user_id=42\n```".to_string(),
            "No stack trace was recorded.".to_string(),
            format!("[Open the group in Signalbox](https://sb.example.com/errors/{fp})"),
        ] {
            assert!(
                d.description.contains(&needle),
                "{needle}\n---\n{}",
                d.description
            );
        }
        assert_eq!(
            d.metadata,
            json!({
                "fingerprint": fp,
                "occurrences": 12,
                "rule": "spike",
                "rule_type": "spike",
                "links": {
                    "group": format!("https://sb.example.com/errors/{fp}"),
                    "api": format!("https://sb.example.com/api/logs/errors/{fp}"),
                },
            })
        );
        let manual = draft(
            &g,
            None,
            "http://localhost:3000",
            at("2026-11-27T12:00:00Z"),
        );
        assert_eq!(manual.rule, None);
        assert_eq!(manual.metadata["rule"], serde_json::Value::Null);
        assert!(manual.description.contains("**Opened:** by hand"));
    }

    #[test]
    fn markdown_in_names_is_escaped() {
        let mut g = group();
        g.service = Some("[click](http://evil)".into());
        g.template = "a ``b`` c".into();
        let d = draft(&g, None, "http://x", at("2026-11-27T12:00:00Z"));
        assert!(d
            .description
            .contains("**Service:** \\[click\\]\\(http://evil\\)"));
        assert!(
            d.description.contains("``` a ``b`` c ```"),
            "{}",
            d.description
        );
        let mut a = alert(AlertRuleType::Spike);
        a.rule_name = "my_rule\nline".into();
        assert_eq!(
            retrigger_comment(&g, &a),
            "Rule my\\_rule line fired again: 12 events in 1 min \\(threshold 10\\) (12 occurrences so far, last seen 2026-11-27 11:00:00 UTC)."
        );
    }
}
