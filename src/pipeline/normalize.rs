//! Normalization: the variable parts of a message become typed placeholders (`<num>`,
//! `<uuid>`, `<ts>`, …) so that every occurrence of one error has the same template.
//!
//! Meaningful constants stay: HTTP status codes (502 is not 503), error-code values
//! (`status=404`, `code=E42`, SQLSTATE codes), exception class names, words. One pass of
//! the token scanner (`tokens.rs`) over the line: linear in its length.

use super::tokens::{Kind, Token};

/// The longest template kept, in characters; longer messages are cut (the sample keeps all).
pub const MAX_TEMPLATE_CHARS: usize = 500;

/// Version of the normalization + fingerprint algorithm; stored with each group so that a
/// change of grouping is deliberate and visible. 3: text errors are keyed by the grouping key
/// of their template (`grouping::key_into`) and their exception type, not the template itself.
pub const ALGORITHM_VERSION: i64 = 3;

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
    let first_line = first_line(message);
    let mut normalized = String::with_capacity(first_line.len() + 16);
    normalize_into(&mut normalized, first_line);
    let mut out = if is_tidy(&normalized) {
        normalized
    } else {
        let mut out = String::with_capacity(normalized.len());
        collapse_repeats_into(&mut out, &normalized, squash_whitespace);
        if out.ends_with(' ') {
            out.pop();
        }
        out
    };
    if out.len() > MAX_TEMPLATE_CHARS {
        if let Some((cut, _)) = out.char_indices().nth(MAX_TEMPLATE_CHARS) {
            out.truncate(cut);
        }
    }
    out
}

/// The first line of `message` that is not blank, trimmed:
/// `message.lines().map(str::trim).find(|l| !l.is_empty())`, with a SIMD search for each line
/// end (most messages are one line: one search).
fn first_line(message: &str) -> &str {
    let mut rest = message;
    loop {
        // `lines` also drops a `\r` before the `\n`; `trim` drops it anyway.
        let (line, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(end) => (&rest[..end], Some(&rest[end + 1..])),
            None => (rest, None),
        };
        let line = line.trim();
        match next {
            _ if !line.is_empty() => return line,
            Some(next) => rest = next,
            None => return "",
        }
    }
}

/// True when collapsing repeats and squashing whitespace would leave `text` as it is: ASCII,
/// single spaces between words, and no possible repeat. Most templates are; they skip the
/// second pass. Each check is a pass without branches per byte (they vectorize), then a look
/// behind each `<`.
fn is_tidy(text: &str) -> bool {
    let b = text.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') {
        return false;
    }
    let untidy = b.iter().fold(false, |untidy, &c| {
        untidy | matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x80..)
    });
    if untidy || text.contains("  ") {
        return false;
    }
    // A plain loop: templates are short, a search call per `<` costs more.
    !b.iter()
        .enumerate()
        .any(|(at, &c)| c == b'<' && repeat_before(b, at))
}

/// Whether a `<` at `at` follows a `>` and separators: the only place where
/// [`collapse_repeats`] can remove anything.
fn repeat_before(b: &[u8], at: usize) -> bool {
    let separator = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b',' | b';');
    let before = &b[..at];
    let separators = before.iter().rev().take_while(|c| separator(c)).count();
    separators > 0 && before.len() > separators && before[before.len() - separators - 1] == b'>'
}

/// Every variable part of `text` replaced (no line selection, no cut).
pub fn normalize_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    normalize_into(&mut out, text);
    out
}

/// Appends `text` to `out` with every variable part replaced.
pub fn normalize_into(out: &mut String, text: &str) {
    let mut last = 0;
    for token in super::tokens::tokens(text) {
        if token.start < last {
            // Taken with the token before it (a unit, a time zone, a year).
            continue;
        }
        out.push_str(&text[last..token.start]);
        last = push_replacement(out, text, token);
    }
    out.push_str(&text[last..]);
}

/// Appends the replacement of a number and returns where the text after it starts: past a
/// unit written apart from it (`5.2 KB`, `300 ms`), which belongs to the value.
fn push_number(out: &mut String, text: &str, token: Token) -> usize {
    let (mut start, end) = (token.start, token.end);
    // A minus right after a word or number (`node-96`, `104-127`) joins, it is no sign.
    if text.as_bytes()[start] == b'-'
        && start
            .checked_sub(1)
            .and_then(|i| text.as_bytes().get(i))
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    {
        out.push('-');
        start += 1;
    }
    let placeholder = number_placeholder(text, start, &text[start..end]);
    if placeholder == "<num>" {
        if let Some((unit_end, placeholder)) = unit_apart(text, end) {
            out.push_str(placeholder);
            return unit_end;
        }
    }
    out.push_str(placeholder);
    end
}

/// Month names (abbreviated or whole, capitalised) and weekday names of written-out dates.
const MONTHS: &[&str] = &[
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Sept",
    "Oct",
    "Nov",
    "Dec",
    "January",
    "February",
    "March",
    "April",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: &[&str] = &[
    "Mon",
    "Tue",
    "Wed",
    "Thu",
    "Fri",
    "Sat",
    "Sun",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// Appends `<ts>` for a time of day, taking the written-out date around it into the same
/// placeholder — `Jul 1 08:16:53` (syslog), `Fri Jul 01 08:16:53 PDT 2005` (C, Java),
/// `Fri, 01 Jul 2005 08:16:53 +0000` (RFC 2822) — so that a message does not change group
/// with the month or the weekday. Returns where the text after it starts.
fn push_clock(out: &mut String, text: &str, end: usize) -> usize {
    let cut = date_before(out);
    out.truncate(cut);
    out.push_str("<ts>");
    end + zone_and_year_after(&text[end..])
}

/// Where the date written before a time of day starts in `out` (already normalized: its day
/// and year are `<num>`), or `out.len()` when there is none: `[Weekday[,]] Month <num>[,]` or
/// `[Weekday[,]] <num> Month [<num>]`, then spaces.
fn date_before(out: &str) -> usize {
    if !out.ends_with(' ') {
        return out.len();
    }
    let number = |w: &str| w.trim_end_matches(',') == "<num>";
    let month = |w: &str| MONTHS.contains(&w.trim_end_matches(','));
    let weekday = |w: &str| WEEKDAYS.contains(&w.trim_end_matches(','));
    // The start of each of the last four words, and the word, nearest first.
    let mut words: Vec<(usize, &str)> = Vec::with_capacity(4);
    let mut end = out.len();
    while words.len() < 4 {
        let head = out[..end].trim_end_matches(' ');
        let start = head.rfind(' ').map_or(0, |i| i + 1);
        if start == head.len() {
            break;
        }
        words.push((start, &head[start..]));
        end = start;
    }
    let is = |i: usize, pattern: &dyn Fn(&str) -> bool| words.get(i).is_some_and(|w| pattern(w.1));
    // How many words the date has, nearest first.
    let date = if is(0, &number) && is(1, &month) {
        if is(2, &number) {
            3
        } else {
            2
        }
    } else if is(0, &month) && is(1, &number) {
        2
    } else {
        return out.len();
    };
    let len = if is(date, &weekday) { date + 1 } else { date };
    words[len - 1].0
}

/// The length of a time zone (`PDT`, `UTC`, `+0000`) and a year after a time of day, each
/// after one space, when they are there.
fn zone_and_year_after(rest: &str) -> usize {
    let mut taken = 0;
    let word = |rest: &str| -> Option<usize> {
        let word = rest.strip_prefix(' ')?;
        let len = word
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'-'))
            .unwrap_or(word.len());
        Some(len).filter(|&len| len > 0)
    };
    if let Some(len) = word(rest) {
        let w = &rest[1..=len];
        // Abbreviations end in T (`PDT`, `CEST`; not `ERROR` or `OK`), or are `UTC` or `Z`.
        let abbreviation = w == "UTC"
            || w == "Z"
            || ((3..=4).contains(&len)
                && w.ends_with('T')
                && w.bytes().all(|b| b.is_ascii_uppercase()));
        let offset =
            len == 5 && w.starts_with(['+', '-']) && w[1..].bytes().all(|b| b.is_ascii_digit());
        let zone = abbreviation || offset;
        if zone {
            taken += 1 + len;
        }
    }
    if let Some(len) = word(&rest[taken..]) {
        let w = &rest[taken + 1..=taken + len];
        if len == 4
            && w.bytes().all(|b| b.is_ascii_digit())
            && (w.starts_with("19") || w.starts_with("20"))
        {
            taken += 1 + len;
        }
    }
    taken
}

/// Units that follow a number after a space. Single letters other than `B` are left out: after
/// a space they are as often words as units.
const UNITS_APART: &[(&str, &str)] = &[
    ("KB", "<size>"),
    ("MB", "<size>"),
    ("GB", "<size>"),
    ("TB", "<size>"),
    ("KiB", "<size>"),
    ("MiB", "<size>"),
    ("GiB", "<size>"),
    ("bytes", "<size>"),
    ("ms", "<duration>"),
    ("us", "<duration>"),
    ("ns", "<duration>"),
    ("sec", "<duration>"),
    ("secs", "<duration>"),
    ("second", "<duration>"),
    ("seconds", "<duration>"),
    ("min", "<duration>"),
    ("mins", "<duration>"),
    ("minute", "<duration>"),
    ("minutes", "<duration>"),
    ("hour", "<duration>"),
    ("hours", "<duration>"),
    ("hrs", "<duration>"),
    ("day", "<duration>"),
    ("days", "<duration>"),
];

/// The end and placeholder of a unit one space after `at` (`B` exactly, the others in any
/// case), when a non-word byte or the end follows it.
fn unit_apart(text: &str, at: usize) -> Option<(usize, &'static str)> {
    let rest = text[at..].strip_prefix(' ')?;
    let len = rest
        .bytes()
        .position(|b| !b.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    if rest
        .as_bytes()
        .get(len)
        .is_some_and(|b| b.is_ascii_digit() || *b == b'_')
    {
        return None;
    }
    let word = &rest[..len];
    let placeholder = if word == "B" {
        "<size>"
    } else {
        UNITS_APART
            .iter()
            .find(|(unit, _)| unit.eq_ignore_ascii_case(word))
            .map(|&(_, placeholder)| placeholder)?
    };
    Some((at + 1 + len, placeholder))
}

/// Lists of one kind of value (`<id> <id> <id>`, `<num>, <num>`) become one placeholder: the
/// length of a list is a variable too.
pub fn collapse_repeats(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    collapse_repeats_into(&mut out, text, |out, piece| out.push_str(piece));
    out
}

/// [`collapse_repeats`], each kept piece of `text` appended to `out` by `push`.
pub(crate) fn collapse_repeats_into(
    out: &mut String,
    text: &str,
    mut push: impl FnMut(&mut String, &str),
) {
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let Some(len) = rest[start..].find('>').map(|i| i + 1) else {
            break;
        };
        let placeholder = &rest[start..start + len];
        push(out, &rest[..start + len]);
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
    push(out, rest);
}

/// Appends `piece` to `out` with each run of whitespace as one space, none at the start of
/// `out`. After the last piece, at most one trailing space remains to drop: together that is
/// `split_whitespace().join(" ")` of the concatenated pieces.
fn squash_whitespace(out: &mut String, piece: &str) {
    for (i, word) in piece.split(char::is_whitespace).enumerate() {
        if i > 0 && !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
        out.push_str(word);
    }
}

fn is_placeholder(token: &str) -> bool {
    token.len() > 2
        && token.starts_with('<')
        && token.ends_with('>')
        && token[1..token.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'*')
}

/// Appends the replacement of one token (the token itself when it is meaningful) and returns
/// where the text after it starts.
fn push_replacement(out: &mut String, text: &str, token: Token) -> usize {
    let whole = &text[token.start..token.end];
    match token.kind {
        // A long number that passed the Luhn check was scrubbed as a card; for grouping it is
        // a number like its neighbours that did not (likewise an IBAN is an id).
        Kind::Placeholder if whole == "<card>" => out.push_str("<num>"),
        Kind::Placeholder if whole == "<iban>" => out.push_str("<id>"),
        Kind::Placeholder => out.push_str(whole),
        Kind::Quoted => push_quoted(out, whole),
        Kind::Url => out.push_str("<url>"),
        Kind::KeyValue { eq } => {
            let (key, val) = (&whole[..eq], &whole[eq + 1..]);
            out.push_str(key);
            out.push('=');
            if is_code_value(key, val) {
                out.push_str(val);
            } else {
                push_value(out, val);
            }
        }
        Kind::Date => out.push_str("<ts>"),
        Kind::Clock => return push_clock(out, text, token.end),
        Kind::Uuid => out.push_str("<uuid>"),
        Kind::Ip => out.push_str("<ip>"),
        Kind::Path => push_path(out, whole),
        Kind::Hex => out.push_str(hex_placeholder(whole)),
        Kind::Word => out.push_str(word_placeholder(whole)),
        Kind::Number => return push_number(out, text, token),
    }
    token.end
}

/// `0x…` or a mix of digits and a-f is an id or an address; digits alone a number; the
/// letters a-f alone ("deadbeef", "facade") a word.
fn hex_placeholder(hex: &str) -> &str {
    let prefixed = hex.starts_with("0x") || hex.starts_with("0X");
    let digits = hex.bytes().any(|b| b.is_ascii_digit());
    let letters = hex.bytes().any(|b| b.is_ascii_alphabetic());
    match (prefixed, digits, letters) {
        (true, _, _) | (false, true, true) => "<hex>",
        (false, true, false) => "<num>",
        _ => hex,
    }
}

/// A number with a unit is a size or a duration; without, a kept code or `<num>`.
fn number_placeholder<'a>(text: &str, start: usize, number: &'a str) -> &'a str {
    let digits_end = number
        .bytes()
        .enumerate()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == b'.' || (i == 0 && c == b'-')))
        .map_or(number.len(), |(i, _)| i);
    let unit = &number[digits_end..];
    if !unit.is_empty() {
        if is_size_unit(unit) {
            "<size>"
        } else {
            "<duration>"
        }
    } else if is_kept_number(text, start, number) {
        number
    } else {
        "<num>"
    }
}

/// A quoted single value (`'user_42'`, `"abc"`) is `<str>`; a quoted phrase (`"GET /x
/// HTTP/1.1"`) keeps its quotes and words, with its own variable parts normalized.
fn push_quoted(out: &mut String, quoted: &str) {
    let inner = &quoted[1..quoted.len().saturating_sub(1)];
    if at_most_one_word(inner) {
        out.push_str("<str>");
        return;
    }
    let quote = &quoted[..1];
    out.push_str(quote);
    normalize_into(out, inner);
    out.push_str(quote);
}

/// The placeholder of a `key=value` value: the value's own type when it is one token.
fn push_value(out: &mut String, value: &str) {
    let start = out.len();
    normalize_into(out, value);
    let normalized = &out[start..];
    if normalized == value && !value.bytes().any(|b| b.is_ascii_digit()) {
        // A plain word ("expired", "GET"): usually an enum value that tells errors apart.
        return;
    }
    let one_placeholder = normalized.starts_with('<')
        && normalized.ends_with('>')
        && normalized.matches('<').count() == 1;
    if !one_placeholder {
        out.truncate(start);
        out.push_str("<str>");
    }
}

/// File paths become `<path>`; URL routes (`/api/users/42`) keep their words.
fn push_path(out: &mut String, path: &str) {
    // A path token is ASCII: its parts are found by looking at bytes, with no iterator of
    // pieces.
    let b = path.as_bytes();
    let separator = |c: u8| c == b'/' || c == b'\\';
    // The first segment after the drive (`C:`), and the last one that is not empty.
    let mut start = b
        .iter()
        .position(|&c| !(c.is_ascii_alphabetic() || c == b':'))
        .unwrap_or(b.len());
    while start < b.len() && separator(b[start]) {
        start += 1;
    }
    let first_end = b[start..]
        .iter()
        .position(|&c| separator(c))
        .map_or(b.len(), |n| start + n);
    let first = &path[start..first_end];
    let mut end = b.len();
    while end > 0 && separator(b[end - 1]) {
        end -= 1;
    }
    let last_start = b[..end]
        .iter()
        .rposition(|&c| separator(c))
        .map_or(0, |i| i + 1);
    let last = &path[last_start..end];
    let has_extension = last.rfind('.').is_some_and(|dot| {
        let ext = &last[dot + 1..];
        dot > 0 && (1..=5).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    let windows = b.contains(&b'\\');
    if windows || has_extension || FILE_ROOTS.contains(&first) {
        out.push_str("<path>");
        return;
    }
    // A route: normalize its segments one by one.
    let mut segment = 0;
    for (i, &c) in b.iter().enumerate() {
        if c == b'/' {
            normalize_into(out, &path[segment..i]);
            out.push('/');
            segment = i + 1;
        }
    }
    normalize_into(out, &path[segment..]);
}

/// Whether `text` has at most one whitespace-separated word (`split_whitespace().nth(1)` is
/// `None`), reading ASCII text byte by byte.
fn at_most_one_word(text: &str) -> bool {
    if !text.is_ascii() {
        return text.split_whitespace().nth(1).is_none();
    }
    let mut words = 0;
    let mut in_word = false;
    for &c in text.as_bytes() {
        let space = matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
        if !space && !in_word {
            words += 1;
            if words > 1 {
                return false;
            }
        }
        in_word = !space;
    }
    true
}

/// Identifier-like words with digits (`blk_3886504906`, `user_42`, `req7f3a9`) are ids; short
/// ones (`v1`, `ipv4`, `s3`, `http2`) are names.
fn word_placeholder(word: &str) -> &str {
    let digits = word.bytes().filter(u8::is_ascii_digit).count();
    if word.len() >= 6 && digits >= 2 {
        "<id>"
    } else {
        word
    }
}

fn is_size_unit(unit: &str) -> bool {
    [
        "kb", "mb", "gb", "tb", "kib", "mib", "gib", "b", "byte", "bytes",
    ]
    .iter()
    .any(|u| unit.eq_ignore_ascii_case(u))
}

fn is_code_value(key: &str, value: &str) -> bool {
    CODE_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k))
        && value.len() <= 12
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// HTTP status codes and codes after a code word ("SQLSTATE 23505", "errno 111") stay.
fn is_kept_number(text: &str, start: usize, number: &str) -> bool {
    let http_like = number.len() == 3
        && number
            .parse::<u16>()
            .is_ok_and(|c| (100..=599).contains(&c));
    if !http_like && (number.len() > 6 || number.contains('.') || number.starts_with('-')) {
        // Too long, a fraction or negative: a code word before it changes nothing.
        return false;
    }
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
    if http_like {
        let rest = text[start + number.len()..].trim_start().as_bytes();
        return after_code_word
            || REASON_PHRASES.iter().any(|p| {
                rest.get(..p.len())
                    .is_some_and(|r| r.eq_ignore_ascii_case(p.as_bytes()))
            });
    }
    after_code_word
}

#[cfg(test)]
mod tests {
    use super::{collapse_repeats, normalize_text, template, MAX_TEMPLATE_CHARS};
    use proptest::prelude::*;

    /// The specification of [`template`]: normalize, collapse, squash whitespace, cut, each a
    /// separate pass.
    fn reference(message: &str) -> String {
        let first_line = message
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let collapsed = collapse_repeats(&normalize_text(first_line));
        let squashed = collapsed.split_whitespace().collect::<Vec<_>>().join(" ");
        squashed.chars().take(MAX_TEMPLATE_CHARS).collect()
    }

    fn log_shaped() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[0-9]{1,6}",
            "[a-z_]{1,6}",
            "[ ,;\t]{1,3}",
            Just("<num>".to_string()),
            Just("<id> ".to_string()),
            Just("\u{a0}".to_string()),
            Just("\u{3000}".to_string()),
            Just("=".to_string()),
            Just("/".to_string()),
            Just("'".to_string()),
            Just("\n".to_string()),
            "\\PC{1,2}",
        ];
        prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn template_matches_its_specification(text in log_shaped()) {
            prop_assert_eq!(template(&text), reference(&text), "{:?}", text);
        }
    }

    #[test]
    fn first_lines_are_the_first_non_blank_lines() {
        for text in [
            "",
            "a",
            "  a  ",
            "\n",
            "\n\n b \n c",
            "a\r\nb",
            "\r\n\r\nx\r",
            " \t\n\u{a0}\n y",
            "\u{3000}\nz",
            "a\rb\nc",
        ] {
            let expected = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            assert_eq!(super::first_line(text), expected, "{text:?}");
        }
    }

    #[test]
    fn tidy_texts() {
        for (text, tidy) in [
            ("", true),
            ("a b <num>", true),
            ("<num>x <num>", true),
            ("<num> x <num>", true),
            ("a <num> <num>", false),
            ("a <num>, <num>", false),
            ("a <num>;<id>", false),
            ("a <num>x;<id>", true),
            ("a  b", false),
            (" a", false),
            ("a ", false),
            ("a\tb", false),
            ("a\u{b}b", false),
            ("é", false),
            ("> <", false),
            (",<", true),
        ] {
            assert_eq!(super::is_tidy(text), tidy, "{text:?}");
        }
    }

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
            // A minus after a word joins; it is no sign.
            (
                "domain root3 is no longer served by node node-96",
                "domain root3 is no longer served by node node-<num>",
            ),
            ("nodes [104-127] down", "nodes [<num>-<num>] down"),
            ("offset -42 is bad", "offset <num> is bad"),
            // Units written apart belong to the number.
            (
                "stored (estimated size 93.0 B, free 317.1 KB)",
                "stored (estimated size <size>, free <size>)",
            ),
            ("took 300 ms to answer", "took <duration> to answer"),
            ("retried 3 times", "retried <num> times"),
            ("HTTP 502 ms later", "HTTP 502 ms later"),
            // Written-out dates around a time of day are one timestamp.
            (
                "Ido chip status=M Fri Jul 01 08:16:53 PDT 2005 done",
                "Ido chip status=M <ts> done",
            ),
            (
                "Jul  1 08:16:53 host sshd[42]: fail",
                "<ts> host sshd[<num>]: fail",
            ),
            ("Fri, 01 Jul 2005 08:16:53 +0000 x", "<ts> x"),
            ("on 3 May 2024 10:00:00 UTC", "on <ts>"),
            ("retry May 10:00:00 now", "retry May <ts> now"),
            ("Mayday 5 10:00:00 ERROR x", "Mayday <num> <ts> ERROR x"),
            ("Jul 5 10:00:00 CEST 1999", "<ts>"),
            ("", ""),
        ];
        for (input, expected) in cases {
            assert_eq!(template(input), expected, "input: {input:?}");
        }
    }

    /// The specification of `push_path`: its first version, with string iterators.
    fn reference_push_path(out: &mut String, path: &str) {
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
        if path.contains('\\') || has_extension || super::FILE_ROOTS.contains(&first) {
            out.push_str("<path>");
            return;
        }
        for (i, segment) in path.split('/').enumerate() {
            if i > 0 {
                out.push('/');
            }
            super::normalize_into(out, segment);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn paths_match_their_specification(
            path in "([A-Za-z]:)?([/\\\\](tmp|app|api|v1|users|[a-z0-9_.@+-]{1,8})){2,5}[/\\\\]?"
        ) {
            let (mut fast, mut reference) = (String::new(), String::new());
            super::push_path(&mut fast, &path);
            reference_push_path(&mut reference, &path);
            prop_assert_eq!(fast, reference, "{:?}", path);
        }
    }

    #[test]
    fn one_word_as_split_whitespace_counts_it() {
        for text in [
            "",
            " ",
            "a",
            " a ",
            "a b",
            "\u{b}a\u{b}",
            "a\u{b}b",
            "é",
            "é ü",
            "a\u{a0}b",
        ] {
            assert_eq!(
                super::at_most_one_word(text),
                text.split_whitespace().nth(1).is_none(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn long_messages_are_cut() {
        let long = "x".repeat(5000);
        assert_eq!(template(&long).chars().count(), MAX_TEMPLATE_CHARS);
        let wide = "é 12 ".repeat(300);
        assert_eq!(template(&wide), reference(&wide));
    }
}
