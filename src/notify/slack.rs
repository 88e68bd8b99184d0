//! The Slack incoming-webhook message of an alert: Block Kit, within Slack's limits, with every
//! piece of log text escaped so it can neither mention nor link (see
//! `shared/specs/slack.md`).

use serde_json::{json, Value};

use crate::model::{Alert, AlertRuleType, Group, Severity};

/// `header.text` limit (plain_text).
pub const HEADER_MAX: usize = 150;
/// `section.text` limit.
pub const SECTION_MAX: usize = 3000;
/// Limit of each `section.fields` item.
pub const FIELD_MAX: usize = 2000;
/// Our cap on the top-level `text` (Slack's is ~40 000; a notification needs far less).
pub const FALLBACK_MAX: usize = 3000;
/// A button's text.
const BUTTON_TEXT_MAX: usize = 75;

/// Escapes the three characters Slack's mrkdwn parses (`&`, `<`, `>`): with them escaped,
/// `<!channel>` or `<https://evil|click>` in a log line is shown, not acted on.
pub fn escape(text: &str) -> String {
    escape_within(text, usize::MAX)
}

/// `text` escaped, at most `max` characters (ending in `…` when cut; never in the middle of
/// an escape such as `&amp;`).
pub fn escape_within(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let piece: &str = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            _ => "",
        };
        let len = if piece.is_empty() { 1 } else { piece.len() };
        // Keep one character for the ellipsis unless this is the last piece.
        let reserve = usize::from(chars.peek().is_some());
        if used + len + reserve > max {
            if max > used {
                out.push('…');
            }
            return out;
        }
        if piece.is_empty() {
            out.push(c);
        } else {
            out.push_str(piece);
        }
        used += len;
    }
    out
}

/// Plain text (no escaping: plain_text is never parsed) of at most `max` characters.
fn plain_within(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A triple-backtick block of `text`, escaped, the whole block at most `max` characters.
/// Backticks inside become `ˋ` so the log cannot close the block early.
fn code_block(text: &str, max: usize) -> String {
    const FENCE: &str = "```";
    let inner = escape_within(
        &text.replace('`', "ˋ"),
        max.saturating_sub(2 * FENCE.len() + 2),
    );
    format!("{FENCE}\n{inner}\n{FENCE}")
}

/// Inline code of `text` (escaped, backticks replaced), at most `max` characters.
fn inline_code(text: &str, max: usize) -> String {
    format!(
        "`{}`",
        escape_within(&text.replace('`', "ˋ"), max.saturating_sub(2))
    )
}

fn emoji(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::Critical) => "🚨",
        Some(Severity::High) => "🔴",
        Some(Severity::Medium) => "🟠",
        Some(Severity::Low) => "🟡",
        Some(Severity::Info) => "ℹ️",
        None => "⚠️",
    }
}

/// What fired, in words.
pub fn rule_label(rule_type: AlertRuleType) -> &'static str {
    match rule_type {
        AlertRuleType::NewFingerprint => "New error",
        AlertRuleType::Spike => "Spike",
        AlertRuleType::Sustained => "Sustained errors",
        AlertRuleType::Critical => "Critical error",
        AlertRuleType::Regression => "Regression",
        AlertRuleType::ErrorRate => "High error rate",
        AlertRuleType::ProbeDown => "Probe down",
        AlertRuleType::ProbeSlow => "Probe slow",
        AlertRuleType::CertExpiring => "Certificate expiring",
        AlertRuleType::DnsFailure => "DNS failure",
        AlertRuleType::SelfMemory => "Signalbox memory high",
        AlertRuleType::SelfErrorRate => "Signalbox error rate high",
        AlertRuleType::CrawlerLag => "Source lagging",
        AlertRuleType::DeployCheckFailed => "Deploy checks failed",
        AlertRuleType::DeployNewGroups => "Deploy introduced errors",
    }
}

fn field(label: &str, value: &str) -> Value {
    // `*Label*\n` is ours; the value is data.
    let prefix = format!("*{label}*\n");
    let room = FIELD_MAX - prefix.chars().count();
    json!({"type": "mrkdwn", "text": format!("{prefix}{}", escape_within(value, room))})
}

fn section(text: String) -> Value {
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

/// The Slack message for `alert` about `group` (`None` for service-wide alerts), linking to
/// the group at `public_url`. Always has the `text` fallback (the push notification's text).
pub fn slack_message(alert: &Alert, group: Option<&Group>, public_url: &str) -> Value {
    let service = alert
        .service
        .as_deref()
        .or(group.and_then(|g| g.service.as_deref()));
    let title = group.map_or(alert.summary.as_str(), |g| g.template.as_str());
    let label = rule_label(alert.rule_type);
    let where_ = service.map(|s| format!(" in {s}")).unwrap_or_default();
    let fingerprint = alert
        .fingerprint
        .as_deref()
        .or(group.map(|g| g.fingerprint.as_str()));
    let short_fp: String = fingerprint.unwrap_or("-").chars().take(12).collect();

    let fallback = escape_within(
        &format!(
            "Signalbox: {label}{where_} — {title} ({}) [fingerprint {short_fp}]",
            alert.summary
        ),
        FALLBACK_MAX,
    );
    let header = plain_within(
        &format!(
            "{} {label}{where_}: {title}",
            emoji(group.map(|g| g.severity))
        ),
        HEADER_MAX,
    );

    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": header, "emoji": true}}),
    ];

    // What happened: the rule's summary and the group's title.
    let mut what = format!("*{}*", escape_within(&alert.summary, 500));
    what.push_str("\n*Error:* ");
    let room = SECTION_MAX - what.chars().count() - 200;
    what.push_str(&inline_code(title, room));
    what.push_str("\n*Rule:* ");
    what.push_str(&escape_within(&alert.rule_name, 150));
    blocks.push(section(what));

    let mut fields = Vec::new();
    if let Some(g) = group {
        fields.push(field("Severity", g.severity.as_str()));
        fields.push(field("Category", g.category.as_str()));
        fields.push(field("Count", &g.occurrences.to_string()));
    }
    fields.push(field("Service", service.unwrap_or("-")));
    if let Some(g) = group {
        fields.push(field("Level", g.level.as_str()));
        fields.push(field("Fixable", if g.fixable { "yes" } else { "no" }));
    }
    blocks.push(json!({"type": "section", "fields": fields}));

    if let Some(g) = group {
        let log = match &g.stack_trace {
            Some(trace) if !trace.trim().is_empty() => {
                format!("{}\n{}", g.sample_message, trace)
            }
            _ => g.sample_message.clone(),
        };
        if !log.trim().is_empty() {
            blocks.push(section(code_block(&log, SECTION_MAX)));
        }
    }

    blocks.push(json!({"type": "actions", "elements": [{
        "type": "button",
        "text": {"type": "plain_text", "text": plain_within("Open in Signalbox", BUTTON_TEXT_MAX)},
        "url": super::group_link(public_url, fingerprint),
    }]}));

    let ts = alert.fired_at.timestamp();
    let fired = alert.fired_at.format("%Y-%m-%d %H:%M UTC");
    let mut context = format!(
        "fingerprint {}",
        inline_code(fingerprint.unwrap_or("-"), 200)
    );
    context.push_str(&format!(
        " · fired <!date^{ts}^{{date_short_pretty}} {{time}}|{fired}>"
    ));
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));

    json!({"text": fallback, "blocks": blocks, "unfurl_links": false, "unfurl_media": false})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertAction, Category, GroupStatus, Level};
    use chrono::{TimeZone, Utc};

    fn alert() -> Alert {
        Alert {
            id: 1,
            rule_id: 7,
            rule_name: "new errors".into(),
            rule_type: AlertRuleType::NewFingerprint,
            action: AlertAction::Notify,
            fingerprint: Some("a1b2c3d4e5f6a7b8".into()),
            service: Some("api".into()),
            fired_at: Utc
                .with_ymd_and_hms(2026, 11, 27, 10, 1, 2)
                .single()
                .expect("valid"),
            summary: "first seen".into(),
        }
    }

    fn group() -> Group {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
            .single()
            .expect("valid");
        Group {
            fingerprint: "a1b2c3d4e5f6a7b8".into(),
            template: "panic in src/db.rs:<num>".into(),
            error_type: None,
            level: Level::Critical,
            service: Some("api".into()),
            first_seen: at,
            last_seen: at,
            occurrences: 37,
            status: GroupStatus::Unresolved,
            sample_message: "thread 'main' panicked at src/db.rs:42:9".into(),
            stack_trace: None,
            category: Category::Database,
            severity: Severity::Critical,
            fixable: true,
            algorithm_version: 1,
        }
    }

    fn len(v: &Value) -> usize {
        v.as_str().expect("a string").chars().count()
    }

    /// Every Block Kit limit of the spec, and the text fallback.
    fn assert_within_limits(message: &Value) {
        assert!(len(&message["text"]) > 0, "text fallback always present");
        assert!(len(&message["text"]) <= FALLBACK_MAX);
        let blocks = message["blocks"].as_array().expect("blocks");
        assert!(blocks.len() <= 50);
        for block in blocks {
            match block["type"].as_str().expect("type") {
                "header" => {
                    assert_eq!(block["text"]["type"], "plain_text");
                    assert!(len(&block["text"]["text"]) <= HEADER_MAX, "{block}");
                }
                "section" => {
                    if let Some(text) = block.get("text") {
                        assert!(len(&text["text"]) <= SECTION_MAX, "{}", len(&text["text"]));
                    }
                    if let Some(fields) = block.get("fields") {
                        let fields = fields.as_array().expect("fields");
                        assert!(fields.len() <= 10);
                        for f in fields {
                            assert!(len(&f["text"]) <= FIELD_MAX);
                        }
                    }
                }
                "actions" => {
                    let url = block["elements"][0]["url"].as_str().expect("url");
                    assert!(url.len() <= 3000);
                }
                "context" => {}
                other => panic!("unexpected block {other}"),
            }
        }
    }

    fn all_text(message: &Value) -> String {
        message.to_string()
    }

    #[test]
    fn the_message_shows_what_and_links_to_the_group() {
        let m = slack_message(&alert(), Some(&group()), "https://sb.example.com/");
        assert_within_limits(&m);
        let text = all_text(&m);
        for shown in [
            "CRITICAL",
            "database",
            "*Count*\\n37",
            "*Service*\\napi",
            "first seen",
            "panic in src/db.rs:&lt;num&gt;",
            "```\\nthread 'main' panicked at src/db.rs:42:9\\n```",
            "https://sb.example.com/errors/a1b2c3d4e5f6a7b8",
            "a1b2c3d4e5f6",
        ] {
            assert!(text.contains(shown), "{shown} not in {text}");
        }
        assert_eq!(m["blocks"][0]["type"], "header");
        assert!(m["text"]
            .as_str()
            .expect("text")
            .starts_with("Signalbox: New error in api"));
    }

    #[test]
    fn limits_hold_for_any_content() {
        let long = "x".repeat(10_000);
        let trace: String = (0..200)
            .map(|i| format!("  at frame{i} (src/module{i}.rs:{i})\n"))
            .collect::<String>()
            .chars()
            .take(5000)
            .collect();
        let mut cases: Vec<(&str, Alert, Option<Group>)> = Vec::new();
        let mut g = group();
        g.template = long.clone();
        cases.push(("long template", alert(), Some(g)));
        let mut g = group();
        g.stack_trace = Some(trace.clone());
        cases.push(("5 000-char stack trace", alert(), Some(g)));
        let mut g = group();
        g.sample_message = "&".repeat(5000);
        cases.push(("escapes expand", alert(), Some(g)));
        let mut a = alert();
        a.summary = long.clone();
        a.rule_name = long.clone();
        a.service = Some(long.clone());
        cases.push(("long alert fields", a, Some(group())));
        let mut a = alert();
        a.fingerprint = None;
        a.rule_type = AlertRuleType::ErrorRate;
        a.summary = "12 % errors over 5 min".into();
        cases.push(("service-wide, no group", a, None));
        for (name, alert, group) in &cases {
            let m = slack_message(alert, group.as_ref(), "http://localhost:3000");
            eprintln!("case: {name}");
            assert_within_limits(&m);
        }
        // The stack trace is there, cut with an ellipsis, inside its code block.
        let mut g = group();
        g.stack_trace = Some(trace);
        let m = slack_message(&alert(), Some(&g), "http://x");
        let log = m["blocks"]
            .as_array()
            .expect("blocks")
            .iter()
            .filter_map(|b| b["text"]["text"].as_str())
            .find(|t| t.starts_with("```"))
            .expect("a log block");
        assert!(log.contains("at frame0 (src/module0.rs:0)"));
        assert!(log.ends_with("…\n```"), "{log}");
        // A service-wide alert links to the dashboard.
        let (_, a, _) = &cases[4];
        let m = slack_message(a, None, "http://localhost:3000");
        assert!(all_text(&m).contains("\"url\":\"http://localhost:3000/\""));
    }

    #[test]
    fn log_text_cannot_mention_or_link() {
        let mut g = group();
        g.sample_message =
            "user said <!channel> <@U123> <https://evil.example|click> ``` done".into();
        g.template = "<!here> in template".into();
        g.stack_trace = Some("<!everyone>".into());
        let mut a = alert();
        a.summary = "<!channel> summary".into();
        a.rule_name = "<!subteam^S1>".into();
        a.service = Some("<!channel>".into());
        let m = slack_message(&a, Some(&g), "http://x");
        assert_within_limits(&m);
        let text = all_text(&m);
        for bad in [
            "<!channel>",
            "<!here>",
            "<!everyone>",
            "<@U123>",
            "<https://evil",
            "<!subteam",
        ] {
            // The header is plain_text, which Slack never parses: skip it.
            let without_header = text.replace(&m["blocks"][0].to_string(), "");
            assert!(!without_header.contains(bad), "{bad} in {without_header}");
        }
        assert!(text.contains("&lt;!channel&gt;"));
        // The only `<` left is the date token we put in the context block.
        let context = m["blocks"]
            .as_array()
            .expect("blocks")
            .last()
            .expect("context")
            .to_string();
        assert!(context.contains("<!date^"));
        // Backticks in the log cannot close the code block.
        assert!(text.contains("ˋˋˋ done"));
    }

    #[test]
    fn escaping_never_cuts_an_entity() {
        for (input, max, expected) in [
            ("a<b", 10, "a&lt;b"),
            ("&&&", 9, "&amp;…"),
            ("&&&", 15, "&amp;&amp;&amp;"),
            ("abcdef", 4, "abc…"),
            ("abcd", 4, "abcd"),
            ("", 4, ""),
        ] {
            assert_eq!(escape_within(input, max), expected, "{input} in {max}");
        }
    }
}
