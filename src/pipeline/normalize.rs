//! Normalization: the variable parts of a message become typed placeholders (`<num>`,
//! `<uuid>`, `<ts>`, …) so that every occurrence of one error has the same template.
//!
//! Meaningful constants stay: HTTP status codes (502 is not 503), error-code values
//! (`status=404`, `code=E42`, SQLSTATE codes), exception class names, words. One pass of
//! the token scanner (`tokens.rs`) over the line: linear in its length.

use std::borrow::Cow;

/// The longest template kept, in characters; longer messages are cut (the sample keeps all).
pub const MAX_TEMPLATE_CHARS: usize = 500;

/// Version of the normalization + fingerprint algorithm; stored with each group so that a
/// change of grouping is deliberate and visible.
pub const ALGORITHM_VERSION: i64 = 2;

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
    "level",
    "severity",
    "method",
    "type",
    "kind",
    "reason",
];

/// Words after which a number in 100..=599 is an HTTP status, or a number is an error code.
const CODE_WORDS: &[&str] = &[
    "http",
    "status",
    "code",
    "returned",
    "responded",
    "response",
    "sqlstate",
    "errno",
    "error",
];

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

/// Directories whose paths are file paths (variable), not routes (meaningful).
const FILE_ROOTS: &[&str] = &[
    "tmp",
    "var",
    "home",
    "usr",
    "opt",
    "etc",
    "proc",
    "dev",
    "data",
    "app",
    "srv",
    "mnt",
    "root",
    "private",
    "lib",
    "run",
    "workspace",
    "Users",
];

/// The template of a message: its first non-empty line with variable parts replaced by typed
/// placeholders.
pub fn template(message: &str) -> String {
    let first_line = message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let replaced = collapse_repeats(&normalize_text(first_line));
    let mut out = String::with_capacity(replaced.len());
    for (i, word) in replaced.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.len() > MAX_TEMPLATE_CHARS {
        out = out.chars().take(MAX_TEMPLATE_CHARS).collect();
    }
    out
}

/// Every variable part of `text` replaced (no line selection, no cut).
pub fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (start, end) in super::tokens::spans(text) {
        out.push_str(&text[last..start]);
        out.push_str(&replace(text, start, &text[start..end]));
        last = end;
    }
    out.push_str(&text[last..]);
    out
}

/// Lists of one kind of value (`<id> <id> <id>`, `<num>, <num>`) become one placeholder: the
/// length of a list is a variable too.
pub fn collapse_repeats(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>').map(|i| i + 1) else {
            break;
        };
        let placeholder = &rest[start..start + len];
        out.push_str(&rest[..start + len]);
        rest = &rest[start + len..];
        if !is_placeholder(placeholder) {
            continue;
        }
        // Skip every "<separator><same placeholder>" that follows.
        loop {
            let trimmed =
                rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',' || c == ';');
            if trimmed.len() < rest.len() && trimmed.starts_with(placeholder) {
                rest = &trimmed[placeholder.len()..];
            } else {
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_placeholder(token: &str) -> bool {
    token.len() > 2
        && token.starts_with('<')
        && token.ends_with('>')
        && token[1..token.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'*')
}

/// What a token match is, told apart by its text (the regex has no capture groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Placeholder,
    Quoted,
    Url,
    KeyValue(usize),
    Date,
    Uuid,
    Ip,
    Clock,
    Path,
    Hex,
    Word,
    Number,
}

fn kind_of(token: &str) -> Kind {
    let bytes = token.as_bytes();
    let first = bytes.first().copied().unwrap_or(b' ');
    if first == b'<' {
        return Kind::Placeholder;
    }
    if matches!(first, b'"' | b'\'' | b'`') {
        return Kind::Quoted;
    }
    if let Some(eq) = token.find('=') {
        let key = &token[..eq];
        if !key.is_empty()
            && !key.contains("://")
            && key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
            && !key.as_bytes()[0].is_ascii_digit()
        {
            return Kind::KeyValue(eq);
        }
    }
    if token.contains("://") {
        return Kind::Url;
    }
    if matches!(first, b'/' | b'\\')
        || bytes.get(1) == Some(&b':') && bytes.get(2).is_some_and(|b| *b == b'/' || *b == b'\\')
    {
        return Kind::Path;
    }
    if bytes.len() == 36 && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-') {
        return Kind::Uuid;
    }
    if bytes.len() >= 10 && bytes[4] == b'-' && bytes[..4].iter().all(u8::is_ascii_digit) {
        return Kind::Date;
    }
    if bytes.iter().filter(|&&b| b == b':').count() == 7 {
        return Kind::Ip;
    }
    if bytes.iter().filter(|&&b| b == b'.').count() >= 3
        && bytes
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b':'))
    {
        return Kind::Ip;
    }
    if bytes.contains(&b':') {
        return Kind::Clock;
    }
    let hex_like = token.starts_with("0x")
        || token.starts_with("0X")
        || (bytes.len() >= 8 && bytes.iter().all(u8::is_ascii_hexdigit));
    if hex_like {
        return Kind::Hex;
    }
    if first.is_ascii_alphabetic() || first == b'_' {
        return Kind::Word;
    }
    Kind::Number
}

/// The replacement of one token; borrowed (no allocation) in the common cases.
fn replace<'a>(text: &str, start: usize, whole: &'a str) -> Cow<'a, str> {
    match kind_of(whole) {
        // A long number that passed the Luhn check was scrubbed as a card; for grouping it is
        // a number like its neighbours that did not (likewise an IBAN is an id).
        Kind::Placeholder if whole == "<card>" => Cow::Borrowed("<num>"),
        Kind::Placeholder if whole == "<iban>" => Cow::Borrowed("<id>"),
        Kind::Placeholder => Cow::Borrowed(whole),
        Kind::Quoted => quoted_placeholder(whole),
        Kind::Url => Cow::Borrowed("<url>"),
        Kind::KeyValue(eq) => {
            let (key, val) = (&whole[..eq], &whole[eq + 1..]);
            if is_code_value(key, val) {
                Cow::Borrowed(whole)
            } else {
                Cow::Owned(format!("{key}={}", value_placeholder(val)))
            }
        }
        Kind::Date | Kind::Clock => Cow::Borrowed("<ts>"),
        Kind::Uuid => Cow::Borrowed("<uuid>"),
        Kind::Ip => Cow::Borrowed("<ip>"),
        Kind::Path => path_placeholder(whole),
        Kind::Hex => {
            let prefixed = whole.starts_with("0x") || whole.starts_with("0X");
            let digits = whole.bytes().any(|b| b.is_ascii_digit());
            let letters = whole.bytes().any(|b| b.is_ascii_alphabetic());
            match (prefixed, digits, letters) {
                // 0x… or a mix of digits and a-f: an id or an address.
                (true, _, _) | (false, true, true) => Cow::Borrowed("<hex>"),
                // Only digits: a number.
                (false, true, false) => Cow::Borrowed("<num>"),
                // Only the letters a-f ("deadbeef", "facade"): a word.
                _ => Cow::Borrowed(whole),
            }
        }
        Kind::Word => word_placeholder(whole),
        Kind::Number => {
            let digits_end = whole
                .char_indices()
                .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
                .map_or(whole.len(), |(i, _)| i);
            let unit = &whole[digits_end..];
            if unit.is_empty() {
                if is_kept_number(text, start, whole) {
                    Cow::Borrowed(whole)
                } else {
                    Cow::Borrowed("<num>")
                }
            } else if is_size_unit(unit) {
                Cow::Borrowed("<size>")
            } else {
                Cow::Borrowed("<duration>")
            }
        }
    }
}

/// A quoted single value (`'user_42'`, `"abc"`) is `<str>`; a quoted phrase (`"GET /x
/// HTTP/1.1"`) keeps its quotes and words, with its own variable parts normalized.
fn quoted_placeholder(quoted: &str) -> Cow<'static, str> {
    let inner = &quoted[1..quoted.len().saturating_sub(1)];
    if inner.split_whitespace().nth(1).is_none() {
        return Cow::Borrowed("<str>");
    }
    let quote = &quoted[..1];
    Cow::Owned(format!("{quote}{}{quote}", normalize_text(inner)))
}

/// The placeholder of a `key=value` value: the value's own type when it is one token.
fn value_placeholder(value: &str) -> String {
    let normalized = normalize_text(value);
    if normalized == value && !value.bytes().any(|b| b.is_ascii_digit()) {
        // A plain word ("expired", "GET"): usually an enum value that tells errors apart.
        return value.to_string();
    }
    if normalized.starts_with('<')
        && normalized.ends_with('>')
        && normalized.matches('<').count() == 1
    {
        normalized
    } else {
        "<str>".to_string()
    }
}

/// File paths become `<path>`; URL routes (`/api/users/42`) keep their words.
fn path_placeholder(path: &str) -> Cow<'static, str> {
    let first = path
        .trim_start_matches(|c: char| c.is_ascii_alphabetic() || c == ':')
        .split(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let last = path
        .rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let has_extension = last.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=5).contains(&ext.len())
            && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let windows = path.contains('\\');
    if windows || has_extension || FILE_ROOTS.contains(&first) {
        return Cow::Borrowed("<path>");
    }
    // A route: normalize its segments one by one.
    let route = path
        .split('/')
        .map(|segment| {
            if segment.is_empty() {
                String::new()
            } else {
                normalize_text(segment)
            }
        })
        .collect::<Vec<_>>()
        .join("/");
    Cow::Owned(route)
}

/// Identifier-like words with digits (`blk_3886504906`, `user_42`, `req7f3a9`) are ids; short
/// ones (`v1`, `ipv4`, `s3`, `http2`) are names.
fn word_placeholder(word: &str) -> Cow<'_, str> {
    let digits = word.bytes().filter(u8::is_ascii_digit).count();
    if word.len() >= 6 && digits >= 2 {
        Cow::Borrowed("<id>")
    } else {
        Cow::Borrowed(word)
    }
}

fn is_size_unit(unit: &str) -> bool {
    let unit = unit.to_ascii_lowercase();
    matches!(
        unit.as_str(),
        "kb" | "mb" | "gb" | "tb" | "kib" | "mib" | "gib" | "b" | "byte" | "bytes"
    )
}

fn is_code_value(key: &str, value: &str) -> bool {
    let key = key.to_ascii_lowercase();
    CODE_KEYS.contains(&key.as_str())
        && value.len() <= 12
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// HTTP status codes and codes after a code word ("SQLSTATE 23505", "errno 111") stay.
fn is_kept_number(text: &str, start: usize, number: &str) -> bool {
    // Look at the word just before the number, without copying the line.
    let before = text[..start]
        .trim_end_matches(|c: char| c.is_whitespace() || matches!(c, ':' | '=' | '[' | '(' | '#'));
    let word_start = before
        .bytes()
        .rposition(|b| !(b.is_ascii_alphanumeric() || b == b'/' || b == b'.'))
        .map_or(0, |i| i + 1);
    let previous_word = &before[word_start..];
    let after_code_word = CODE_WORDS
        .iter()
        .any(|w| previous_word.eq_ignore_ascii_case(w))
        || previous_word
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("http/"));
    let http_like = number.len() == 3
        && number
            .parse::<u16>()
            .is_ok_and(|c| (100..=599).contains(&c));
    if http_like {
        let rest = text[start + number.len()..].trim_start().as_bytes();
        return after_code_word
            || REASON_PHRASES.iter().any(|p| {
                rest.get(..p.len())
                    .is_some_and(|r| r.eq_ignore_ascii_case(p.as_bytes()))
            });
    }
    after_code_word && number.len() <= 6 && !number.contains('.') && !number.starts_with('-')
}

#[cfg(test)]
mod tests {
    use super::template;

    #[test]
    fn templates() {
        let cases = [
            // The seed's example, with typed placeholders.
            (
                "HTTP 500 at /api/foo user_id=123 timestamp=2024-01-01",
                "HTTP 500 at /api/foo user_id=<num> timestamp=<ts>",
            ),
            ("HTTP 502 at /api/foo", "HTTP 502 at /api/foo"),
            (
                "upstream responded 503 Service Unavailable after 1500ms",
                "upstream responded 503 Service Unavailable after <duration>",
            ),
            (
                "GET /users/42 took 12.5s",
                "GET /users/<num> took <duration>",
            ),
            ("request status=404 path=/x", "request status=404 path=/x"),
            (
                "user 7c9e6679-7425-40de-944b-e07fc1f90ae7 not found",
                "user <uuid> not found",
            ),
            ("KeyError: 'user_42'", "KeyError: <str>"),
            (
                r#"duplicate key value "abc" violates unique constraint"#,
                "duplicate key value <str> violates unique constraint",
            ),
            (
                "connection to 10.0.0.12:5432 refused",
                "connection to <ip> refused",
            ),
            ("segfault at 0x7ffd5e8c addr", "segfault at <hex> addr"),
            (
                "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 failed",
                "commit <hex> failed",
            ),
            ("cache miss for deadbeef", "cache miss for deadbeef"),
            (
                "2024-01-01T10:00:00.123Z job failed at 10:00:01",
                "<ts> job failed at <ts>",
            ),
            ("api/v1 failed on ipv4", "api/v1 failed on ipv4"),
            ("  spaced   out\tmessage  ", "spaced out message"),
            (
                "Traceback (most recent call last):\n  File \"app.py\", line 3",
                "Traceback (most recent call last):",
            ),
            (
                "could not open /tmp/upload-8123.tmp: denied",
                "could not open <path>: denied",
            ),
            ("error in /app/checkout/db.py", "error in <path>"),
            (
                "fetch https://api.example.com/v1/x?id=4 failed",
                "fetch <url> failed",
            ),
            (
                "Receiving block blk_-1608999687919862906 src: /10.250.19.102:54106",
                "Receiving block <id> src: /<ip>",
            ),
            (
                "PacketResponder 1 for block blk_38865049064139660 terminating",
                "PacketResponder <num> for block <id> terminating",
            ),
            (
                "ERROR: duplicate key (SQLSTATE 23505)",
                "ERROR: duplicate key (SQLSTATE 23505)",
            ),
            (
                "disk 91% full, wrote 512MB",
                "disk <num>% full, wrote <size>",
            ),
            ("reason=expired user=<email>", "reason=expired user=<email>"),
            ("job <card> failed", "job <num> failed"),
            (
                "SELECT * FROM users WHERE id = 42 AND name = 'bob'",
                "SELECT * FROM users WHERE id = <num> AND name = <str>",
            ),
            (
                "ask 10.0.0.1:50010 to delete  blk_-51400724108 blk_85707803074 blk_9122557405",
                "ask <ip> to delete <id>",
            ),
            ("WHERE id IN (1, 2, 3)", "WHERE id IN (<num>)"),
            ("sizes 67108864 and 3549917", "sizes <num> and <num>"),
            (
                r#"<ip> "GET /v2/54fadb412c4e40cd/servers HTTP/1.1" status: 200"#,
                r#"<ip> "GET /v2/<hex>/servers HTTP/<num>" status: 200"#,
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
