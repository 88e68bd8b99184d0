//! Normalization: variable parts of a message (numbers, ids, timestamps, quoted values…)
//! become `*` so that every occurrence of one error has the same template.
//!
//! Meaningful constants stay: HTTP status codes (502 is not 503) and error-code values.

use std::sync::LazyLock;

use regex::{Captures, Regex};

/// The longest template kept, in characters; longer messages are cut (the sample keeps all).
pub const MAX_TEMPLATE_CHARS: usize = 500;

const PLACEHOLDER: &str = "*";

static TOKENS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?P<quoted>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"#,
        r"|(?P<kv>\b(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<val>[^\s,;&)\]}]+))",
        r"|(?P<ts>\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?)",
        r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)",
        r"|(?P<ip>\b\d{1,3}(?:\.\d{1,3}){3}\b)",
        r"|(?P<clock>\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b)",
        r"|(?P<hex>\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b)",
        r"|(?P<num>\b\d+(?:\.\d+)?(?:[a-zA-Zµ]{1,3})?\b)",
    ))
    .expect("the token pattern is valid")
});

static WHITESPACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\s+").expect("the whitespace pattern is valid"));

/// Keys whose values are codes that tell errors apart rather than vary per occurrence.
const CODE_KEYS: &[&str] = &[
    "status",
    "status_code",
    "statuscode",
    "http_status",
    "code",
    "error_code",
    "errno",
    "sqlstate",
];

/// Words after which a number in 100..=599 is an HTTP status.
const STATUS_WORDS: &[&str] = &["http", "status", "code", "returned", "responded"];

/// Reason phrases that follow an HTTP status code.
const REASON_PHRASES: &[&str] = &[
    "bad request",
    "unauthorized",
    "forbidden",
    "not found",
    "method not allowed",
    "conflict",
    "gone",
    "payload too large",
    "too many requests",
    "internal server error",
    "not implemented",
    "bad gateway",
    "service unavailable",
    "gateway timeout",
];

/// The template of a message: its first non-empty line with variable parts replaced by `*`.
pub fn template(message: &str) -> String {
    let first_line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let replaced = TOKENS.replace_all(first_line, |caps: &Captures| replace(first_line, caps));
    let collapsed = WHITESPACE.replace_all(replaced.trim(), " ");
    collapsed.chars().take(MAX_TEMPLATE_CHARS).collect()
}

fn replace(text: &str, caps: &Captures) -> String {
    let whole = caps.get(0).map_or("", |m| m.as_str());
    if let (Some(key), Some(val)) = (caps.name("key"), caps.name("val")) {
        let key = key.as_str();
        if is_code_value(key, val.as_str()) {
            return whole.to_string();
        }
        return format!("{key}={PLACEHOLDER}");
    }
    if let Some(hex) = caps.name("hex") {
        // Words made only of the letters a-f ("deadbeef", "facade") are words, not ids.
        let h = hex.as_str();
        if !h.starts_with("0x") && !h.starts_with("0X") && !h.bytes().any(|b| b.is_ascii_digit()) {
            return whole.to_string();
        }
    }
    if let Some(num) = caps.name("num") {
        if is_http_status(text, num.start(), num.as_str()) {
            return whole.to_string();
        }
    }
    PLACEHOLDER.to_string()
}

fn is_code_value(key: &str, value: &str) -> bool {
    let key = key.to_ascii_lowercase();
    CODE_KEYS.contains(&key.as_str())
        && value.len() <= 8
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_http_status(text: &str, start: usize, number: &str) -> bool {
    let Ok(code) = number.parse::<u16>() else {
        return false;
    };
    if !(100..=599).contains(&code) || number.len() != 3 {
        return false;
    }
    let before = text[..start]
        .trim_end_matches(|c: char| c.is_whitespace() || c == ':' || c == '=')
        .to_ascii_lowercase();
    let after_word = before
        .rsplit(|c: char| !c.is_ascii_alphanumeric() && c != '/' && c != '.')
        .next()
        .unwrap_or("");
    let after_status_word = STATUS_WORDS
        .iter()
        .any(|w| after_word == *w || after_word.starts_with("http/"));
    let rest = text[start + number.len()..]
        .trim_start()
        .to_ascii_lowercase();
    let before_reason = REASON_PHRASES.iter().any(|p| rest.starts_with(p));
    after_status_word || before_reason
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn templates() {
        let cases = [
            // The seed's example.
            (
                "HTTP 500 at /api/foo user_id=123 timestamp=2024-01-01",
                "HTTP 500 at /api/foo user_id=* timestamp=*",
            ),
            ("HTTP 502 at /api/foo", "HTTP 502 at /api/foo"),
            (
                "upstream responded 503 Service Unavailable after 1500ms",
                "upstream responded 503 Service Unavailable after *",
            ),
            ("GET /users/42 took 12.5s", "GET /users/* took *"),
            ("request status=404 path=/x", "request status=404 path=*"),
            (
                "user 7c9e6679-7425-40de-944b-e07fc1f90ae7 not found",
                "user * not found",
            ),
            ("KeyError: 'user_42'", "KeyError: *"),
            (
                r#"duplicate key value "abc@example.com" violates unique constraint"#,
                "duplicate key value * violates unique constraint",
            ),
            (
                "connection to 10.0.0.12:5432 refused",
                "connection to *:* refused",
            ),
            ("segfault at 0x7ffd5e8c addr", "segfault at * addr"),
            (
                "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 failed",
                "commit * failed",
            ),
            ("cache miss for deadbeef", "cache miss for deadbeef"),
            (
                "2024-01-01T10:00:00.123Z job failed at 10:00:01",
                "* job failed at *",
            ),
            ("api/v1 failed", "api/v1 failed"),
            ("  spaced   out\tmessage  ", "spaced out message"),
            (
                "Traceback (most recent call last):\n  File \"app.py\", line 3",
                "Traceback (most recent call last):",
            ),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(template(input), expected, "input: {input:?}");
        }
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(5000);
        assert_eq!(template(&long).chars().count(), super::MAX_TEMPLATE_CHARS);
    }
}
