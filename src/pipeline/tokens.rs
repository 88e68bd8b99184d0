//! The token scanner of the normalizer: finds the variable parts of a text (numbers, ids,
//! timestamps, IPs, paths, quoted strings, `key=value` pairs, …) in one left-to-right pass over
//! its bytes, with no allocation.
//!
//! It finds exactly the spans the regular expression in its tests finds (leftmost-first, the
//! alternatives in that order), and tells which alternative matched; a differential property
//! test holds it to that. Word
//! boundaries are ASCII (`[A-Za-z0-9_]` are word bytes).

/// Longest quoted string taken as one token, in characters.
const MAX_QUOTED_CHARS: usize = 200;
/// Longest `key` of a `key=value` pair, in bytes.
const MAX_KEY_BYTES: usize = 61;

/// Units a number may carry (case-insensitive), in the order they are tried.
const UNITS: &[&str] = &[
    "ms", "us", "ns", "s", "sec", "secs", "second", "seconds", "m", "min", "mins", "minute",
    "minutes", "h", "hr", "hrs", "hour", "hours", "d", "day", "days", "kb", "mb", "gb", "tb",
    "kib", "mib", "gib", "b", "byte", "bytes",
];

/// What a token is: which alternative of the specification matched it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<num>`: a placeholder already.
    Placeholder,
    /// `'…'`, `"…"`, `` `…` ``.
    Quoted,
    Url,
    /// `key=value`; `eq` is the offset of the `=` in the token.
    KeyValue {
        eq: usize,
    },
    /// A date, with its time when one follows.
    Date,
    Uuid,
    /// IPv4 (with its port) or IPv6.
    Ip,
    /// A time of day.
    Clock,
    /// A Unix, Windows or drive path.
    Path,
    Hex,
    /// An identifier with digits.
    Word,
    /// A number, with its unit.
    Number,
}

/// One token: its byte span in the text and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub kind: Kind,
}

/// Every token of `text`, left to right, not overlapping.
pub fn tokens(text: &str) -> impl Iterator<Item = Token> + '_ {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < bytes.len() {
            let c = bytes[at];
            let found = if is_word(c) {
                let word = Word::at(bytes, at);
                let found = if word.is_plain(bytes, at) {
                    None
                } else {
                    word_token(bytes, at, &word)
                };
                if found.is_none() {
                    // No token starts inside a word (every kind that can start there begins
                    // with a non-word byte): skip the rest of the word at once.
                    at = word.end;
                    continue;
                }
                found
            } else if may_start_token(c) {
                token_at(bytes, at)
            } else {
                None
            };
            match found {
                Some((end, kind)) => {
                    let token = Token {
                        start: at,
                        end,
                        kind,
                    };
                    at = end.max(at + 1);
                    return Some(token);
                }
                None => at += 1,
            }
        }
        None
    })
}

/// A run of word bytes, read once: where it ends and what the kinds need to know of it.
struct Word {
    end: usize,
    /// Every byte is a hex digit.
    all_hex: bool,
    /// A digit after the first byte.
    digit_after_first: bool,
}

impl Word {
    fn at(b: &[u8], i: usize) -> Word {
        // One table lookup per byte: this loop reads most of a line's bytes. The class bits
        // of the bytes after the first are gathered as they come (AND: every byte is hex; OR:
        // some byte is a digit) and read once at the end.
        let first = CLASS[usize::from(b[i])];
        let (mut every, mut some) = (first, 0);
        let mut end = i + 1;
        while let Some(&x) = b.get(end) {
            let class = CLASS[usize::from(x)];
            if class & WORD == 0 {
                break;
            }
            every &= class;
            some |= class;
            end += 1;
        }
        Word {
            end,
            all_hex: every & HEX != 0,
            digit_after_first: some & DIGIT != 0,
        }
    }

    fn len(&self, i: usize) -> usize {
        self.end - i
    }

    /// True for a word no token starts at, known without trying the kinds (most words of a
    /// line): it starts with a letter or `_`, has no digit, is no long hex run, and the byte
    /// after it cannot continue a URL scheme, key, UUID, IPv6 address or drive path
    /// (`:+.-=`). [`word_token`] gives `None` for it; this check is cheap enough to inline.
    fn is_plain(&self, b: &[u8], i: usize) -> bool {
        let may_start = b[i].is_ascii_digit()
            || self.digit_after_first
            || (self.all_hex && self.len(i) >= 8)
            || matches!(b.get(self.end), Some(b':' | b'+' | b'.' | b'-' | b'='));
        !may_start
    }
}

/// Byte classes, as bits of [`CLASS`].
const WORD: u8 = 1;
const HEX: u8 = 2;
const DIGIT: u8 = 4;

/// The class bits of every byte: `[A-Za-z0-9_]` is WORD, `[0-9a-fA-F]` HEX, `[0-9]` DIGIT.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' {
            table[b] |= WORD;
        }
        if c.is_ascii_hexdigit() {
            table[b] |= HEX;
        }
        if c.is_ascii_digit() {
            table[b] |= DIGIT;
        }
        b += 1;
    }
    table
};

/// Whether a token can start at a byte: every kind starts with a word byte or one of these.
fn may_start_token(b: u8) -> bool {
    is_word(b) || matches!(b, b'<' | b'"' | b'\'' | b'`' | b'/' | b'\\' | b'-')
}

fn is_word(b: u8) -> bool {
    CLASS[usize::from(b)] & WORD != 0
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// True when there is a word boundary before `i`.
fn boundary(b: &[u8], i: usize) -> bool {
    let before = i > 0 && is_word(b[i - 1]);
    let after = i < b.len() && is_word(b[i]);
    before != after
}

/// End of the run of bytes satisfying `f` starting at `i`.
fn run(b: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < b.len() && f(b[i]) {
        i += 1;
    }
    i
}

/// The end and kind of the token starting at `i`, a byte that is not a word byte.
fn token_at(b: &[u8], i: usize) -> Option<(usize, Kind)> {
    let kind = |kind: Kind| move |end: usize| (end, kind);
    match b[i] {
        b'<' => placeholder(b, i).map(kind(Kind::Placeholder)),
        b'"' | b'\'' | b'`' => quoted(b, i).map(kind(Kind::Quoted)),
        b'/' | b'\\' => path(b, i).map(kind(Kind::Path)),
        b'-' => number(b, i).map(kind(Kind::Number)),
        _ => None,
    }
}

/// The end and kind of the token starting at the word `word` at `i`, trying the kinds in
/// priority order. Only at a word boundary.
///
/// Each kind but the hex number, the identifier and the plain number needs a particular byte
/// right after the word (`://`, `=`, `-`, `:`, `.`); the others are not tried without it.
fn word_token(b: &[u8], i: usize, word: &Word) -> Option<(usize, Kind)> {
    if !boundary(b, i) {
        return None;
    }
    let next = b.get(word.end).copied();
    let kind = |kind: Kind| move |end: usize| (end, kind);
    let colon_next = next == Some(b':');
    let dash_next = next == Some(b'-');
    // A word of 8 or more hex digits is a hex token; a shorter run of hex digits would end
    // inside the word, at no boundary.
    let long_hex = || (word.all_hex && word.len(i) >= 8).then_some(word.end);
    if b[i].is_ascii_digit() {
        return dash_next
            .then(|| date(b, i).map(kind(Kind::Date)))
            .flatten()
            .or_else(|| {
                dash_next
                    .then(|| uuid(b, i).map(kind(Kind::Uuid)))
                    .flatten()
            })
            .or_else(|| {
                (next == Some(b'.'))
                    .then(|| ipv4(b, i).map(kind(Kind::Ip)))
                    .flatten()
            })
            .or_else(|| colon_next.then(|| ipv6(b, i).map(kind(Kind::Ip))).flatten())
            .or_else(|| {
                colon_next
                    .then(|| clock(b, i).map(kind(Kind::Clock)))
                    .flatten()
            })
            .or_else(|| zero_x_hex(b, i).or_else(long_hex).map(kind(Kind::Hex)))
            .or_else(|| number(b, i).map(kind(Kind::Number)));
    }
    let url_next = matches!(next, Some(b':' | b'+' | b'.' | b'-'));
    let key_next = matches!(next, Some(b'=' | b'.' | b'-'));
    url_next
        .then(|| url(b, i).map(kind(Kind::Url)))
        .flatten()
        .or_else(|| {
            key_next
                .then(|| key_value(b, i).map(|(eq, end)| (end, Kind::KeyValue { eq: eq - i })))
                .flatten()
        })
        .or_else(|| {
            dash_next
                .then(|| uuid(b, i).map(kind(Kind::Uuid)))
                .flatten()
        })
        .or_else(|| colon_next.then(|| ipv6(b, i).map(kind(Kind::Ip))).flatten())
        .or_else(|| {
            colon_next
                .then(|| drive_path(b, i).map(kind(Kind::Path)))
                .flatten()
        })
        .or_else(|| long_hex().map(kind(Kind::Hex)))
        .or_else(|| identifier(b, i, word).map(kind(Kind::Word)))
}

fn placeholder(b: &[u8], i: usize) -> Option<usize> {
    let first = *b.get(i + 1)?;
    if !first.is_ascii_lowercase() {
        return None;
    }
    let end = run(b, i + 2, |x| x.is_ascii_lowercase() || x == b'-');
    (b.get(end) == Some(&b'>')).then_some(end + 1)
}

fn quoted(b: &[u8], i: usize) -> Option<usize> {
    let quote = b[i];
    let escapes = quote != b'`';
    let mut j = i + 1;
    let mut chars = 0;
    while j < b.len() {
        let x = b[j];
        if x == quote {
            return Some(j + 1);
        }
        if x == b'\n' || chars == MAX_QUOTED_CHARS {
            return None;
        }
        if escapes && x == b'\\' {
            // `\\.`: the escaped character, anything but a newline.
            let next = *b.get(j + 1)?;
            if next == b'\n' {
                return None;
            }
            j = next_char(b, j + 1);
        } else {
            j = next_char(b, j);
        }
        chars += 1;
    }
    None
}

/// Index after the UTF-8 character starting at `j`.
fn next_char(b: &[u8], j: usize) -> usize {
    let mut k = j + 1;
    while k < b.len() && (b[k] & 0xC0) == 0x80 {
        k += 1;
    }
    k
}

fn url(b: &[u8], i: usize) -> Option<usize> {
    if !b[i].is_ascii_alphabetic() {
        return None;
    }
    let scheme_end = run(b, i + 1, |x| {
        x.is_ascii_alphanumeric() || matches!(x, b'+' | b'.' | b'-')
    });
    if !b[scheme_end..].starts_with(b"://") {
        return None;
    }
    let end = run(b, scheme_end + 3, |x| {
        !is_space(x) && x != b'<' && x != b'>'
    });
    (end > scheme_end + 3).then_some(end)
}

/// `(offset of the =, end)` of a `key=value` pair.
fn key_value(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let key_end = run(b, i + 1, |x| is_word(x) || x == b'.' || x == b'-');
    if key_end - i > MAX_KEY_BYTES || b.get(key_end) != Some(&b'=') {
        return None;
    }
    let end = run(b, key_end + 1, |x| {
        !is_space(x) && !matches!(x, b',' | b';' | b'&' | b')' | b']' | b'}')
    });
    (end > key_end + 1).then_some((key_end, end))
}

/// `n` ASCII digits at `i`.
fn digits(b: &[u8], i: usize, n: usize) -> bool {
    i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_digit)
}

fn date(b: &[u8], i: usize) -> Option<usize> {
    if !(digits(b, i, 4)
        && b.get(i + 4) == Some(&b'-')
        && digits(b, i + 5, 2)
        && b.get(i + 7) == Some(&b'-')
        && digits(b, i + 8, 2))
    {
        return None;
    }
    let mut end = i + 10;
    // (?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?
    if matches!(b.get(end), Some(b'T' | b' '))
        && digits(b, end + 1, 2)
        && b.get(end + 3) == Some(&b':')
        && digits(b, end + 4, 2)
    {
        end += 6;
        if b.get(end) == Some(&b':') && digits(b, end + 1, 2) {
            end += 3;
            if matches!(b.get(end), Some(b'.' | b',')) && digits(b, end + 1, 1) {
                end = run(b, end + 1, |x| x.is_ascii_digit());
            }
        }
        if b.get(end) == Some(&b'Z') {
            end += 1;
        } else if matches!(b.get(end), Some(b'+' | b'-')) && digits(b, end + 1, 2) {
            let colon = usize::from(b.get(end + 3) == Some(&b':'));
            if digits(b, end + 3 + colon, 2) {
                end += 5 + colon;
            }
        }
    }
    Some(end)
}

fn hex_digits(b: &[u8], i: usize, n: usize) -> bool {
    i + n <= b.len() && b[i..i + n].iter().all(u8::is_ascii_hexdigit)
}

fn uuid(b: &[u8], i: usize) -> Option<usize> {
    let groups = [8, 4, 4, 4, 12];
    let mut j = i;
    for (k, n) in groups.iter().enumerate() {
        if !hex_digits(b, j, *n) {
            return None;
        }
        j += n;
        if k < 4 {
            if b.get(j) != Some(&b'-') {
                return None;
            }
            j += 1;
        }
    }
    boundary(b, j).then_some(j)
}

fn ipv4(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for octet in 0..4 {
        if octet > 0 {
            if b.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
        let end = run(b, j, |x| x.is_ascii_digit());
        if !(1..=3).contains(&(end - j)) {
            return None;
        }
        j = end;
    }
    // (?::\d{1,5})?\b: the port only when it is followed by a boundary.
    if b.get(j) == Some(&b':') {
        let end = run(b, j + 1, |x| x.is_ascii_digit());
        if (1..=5).contains(&(end - j - 1)) && boundary(b, end) {
            return Some(end);
        }
    }
    boundary(b, j).then_some(j)
}

fn ipv6(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for group in 0..8 {
        let end = run(b, j, |x| x.is_ascii_hexdigit());
        let len = end - j;
        if group < 7 {
            // Greedy {1,4} followed by ':'.
            if !(1..=4).contains(&len) || b.get(end) != Some(&b':') {
                return None;
            }
            j = end + 1;
        } else {
            // The last group: up to 4 hex digits, then a boundary; a longer run backtracks.
            return (1..=len.min(4))
                .rev()
                .map(|n| j + n)
                .find(|&e| boundary(b, e));
        }
    }
    None
}

fn clock(b: &[u8], i: usize) -> Option<usize> {
    let first = run(b, i, |x| x.is_ascii_digit()) - i;
    if !(1..=2).contains(&first) {
        return None;
    }
    let j = i + first;
    if !(b.get(j) == Some(&b':')
        && digits(b, j + 1, 2)
        && b.get(j + 3) == Some(&b':')
        && digits(b, j + 4, 2))
    {
        return None;
    }
    let seconds_end = j + 6;
    if matches!(b.get(seconds_end), Some(b'.' | b',')) && digits(b, seconds_end + 1, 1) {
        let end = run(b, seconds_end + 1, |x| x.is_ascii_digit());
        if boundary(b, end) {
            return Some(end);
        }
    }
    boundary(b, seconds_end).then_some(seconds_end)
}

fn is_path_char(x: u8) -> bool {
    is_word(x) || matches!(x, b'.' | b'@' | b'+' | b'-')
}

/// `(?:[/\\][\w.@+-]+){2,}[/\\]?` at `i`.
fn path(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    let mut segments = 0;
    while matches!(b.get(j), Some(b'/' | b'\\')) {
        let end = run(b, j + 1, is_path_char);
        if end == j + 1 {
            break;
        }
        segments += 1;
        j = end;
    }
    if segments < 2 {
        return None;
    }
    if matches!(b.get(j), Some(b'/' | b'\\')) {
        j += 1;
    }
    Some(j)
}

/// `\b[A-Za-z]:` then a path.
fn drive_path(b: &[u8], i: usize) -> Option<usize> {
    (b[i].is_ascii_alphabetic() && b.get(i + 1) == Some(&b':'))
        .then(|| path(b, i + 2))
        .flatten()
}

/// `\b0[xX][0-9a-fA-F]+\b` at `i`.
fn zero_x_hex(b: &[u8], i: usize) -> Option<usize> {
    if b[i] == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
        let end = run(b, i + 2, |x| x.is_ascii_hexdigit());
        if end > i + 2 && boundary(b, end) {
            return Some(end);
        }
    }
    None
}

/// `\b[A-Za-z_][A-Za-z0-9_]*(?:_-)?\d[A-Za-z0-9_]*\b`, for the word `word` at `i`.
fn identifier(b: &[u8], i: usize, word: &Word) -> Option<usize> {
    let end = word.end;
    // The `_` of `_-` cannot be the word's first character.
    if end - 1 > i
        && b[end - 1] == b'_'
        && b.get(end) == Some(&b'-')
        && b.get(end + 1).is_some_and(u8::is_ascii_digit)
    {
        return Some(run(b, end + 1, is_word));
    }
    word.digit_after_first.then_some(end)
}

/// `-?\b\d+(?:\.\d+)?(?:UNIT)?\b`, with the regex's backtracking.
fn number(b: &[u8], i: usize) -> Option<usize> {
    let start = if b[i] == b'-' { i + 1 } else { i };
    if !b.get(start).is_some_and(u8::is_ascii_digit) || !boundary(b, start) {
        return None;
    }
    let int_end = run(b, start, |x| x.is_ascii_digit());
    // The fraction first (greedy), then without it (backtracking).
    let fraction_end = (b.get(int_end) == Some(&b'.')
        && b.get(int_end + 1).is_some_and(u8::is_ascii_digit))
    .then(|| run(b, int_end + 1, |x| x.is_ascii_digit()));
    fraction_end
        .into_iter()
        .chain([int_end])
        .find_map(|end| unit(b, end).or_else(|| boundary(b, end).then_some(end)))
}

/// The end of a unit at `i` followed by a boundary, trying the units in order.
fn unit(b: &[u8], i: usize) -> Option<usize> {
    // Every unit starts with a letter, or with µ (0xC2 0xB5).
    if !b
        .get(i)
        .is_some_and(|x| x.is_ascii_alphabetic() || *x == 0xC2)
    {
        return None;
    }
    // The one non-ASCII unit matches exactly (ASCII case folding does not apply to µ).
    let micro = "µs".as_bytes();
    if b[i..].starts_with(micro) && boundary(b, i + micro.len()) {
        return Some(i + micro.len());
    }
    UNITS.iter().find_map(|u| {
        let u = u.as_bytes();
        let end = i + u.len();
        (end <= b.len() && b[i..end].eq_ignore_ascii_case(u) && boundary(b, end)).then_some(end)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex::Regex;
    use std::sync::LazyLock;

    /// The specification: the scanner finds exactly the spans this regex finds.
    static REFERENCE: LazyLock<Regex> = LazyLock::new(|| {
        let pattern = concat!(
            r"(?P<placeholder><[a-z][a-z-]*>)",
            r#"|(?P<quoted>"(?:[^"\\\n]|\\[^\n]){0,200}"|'(?:[^'\\\n]|\\[^\n]){0,200}'|`[^`\n]{0,200}`)"#,
            r"|(?P<url>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\t\n\x0B\x0C\r <>]+)",
            r"|(?P<kv>\b[A-Za-z_][A-Za-z0-9_.-]{0,60}=[^\t\n\x0B\x0C\r ,;&)\]}]+)",
            r"|(?P<date>\b[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?)",
            r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)",
            r"|(?P<ip>\b[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?::[0-9]{1,5})?\b|\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b)",
            r"|(?P<clock>\b[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?\b)",
            r"|(?P<path>(?:\b[A-Za-z]:)?(?:[/\\][A-Za-z0-9_.@+-]+){2,}[/\\]?)",
            r"|(?P<hex>\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,}\b)",
            r"|(?P<word>\b[A-Za-z_][A-Za-z0-9_]*(?:_-)?[0-9][A-Za-z0-9_]*\b)",
            r"|(?P<number>-?\b[0-9]+(?:\.[0-9]+)?(?:µs|(?i:ms|us|ns|s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?|kb|mb|gb|tb|kib|mib|gib|b|bytes?))?\b)",
        );
        Regex::new(&pattern.replace(r"\b", r"(?-u:\b)")).expect("the reference pattern is valid")
    });

    /// The spans and the names of the alternatives that matched them.
    fn reference(text: &str) -> Vec<(usize, usize, &'static str)> {
        REFERENCE
            .captures_iter(text)
            .filter_map(|c| {
                let whole = c.get(0)?;
                let name = REFERENCE
                    .capture_names()
                    .flatten()
                    .find(|name| c.name(name).is_some())?;
                let name = NAMES.iter().find(|n| **n == name)?;
                Some((whole.start(), whole.end(), *name))
            })
            .collect()
    }

    const NAMES: [&str; 12] = [
        "placeholder",
        "quoted",
        "url",
        "kv",
        "date",
        "uuid",
        "ip",
        "clock",
        "path",
        "hex",
        "word",
        "number",
    ];

    /// The name of the reference's alternative for a kind.
    fn name(kind: Kind) -> &'static str {
        match kind {
            Kind::Placeholder => "placeholder",
            Kind::Quoted => "quoted",
            Kind::Url => "url",
            Kind::KeyValue { .. } => "kv",
            Kind::Date => "date",
            Kind::Uuid => "uuid",
            Kind::Ip => "ip",
            Kind::Clock => "clock",
            Kind::Path => "path",
            Kind::Hex => "hex",
            Kind::Word => "word",
            Kind::Number => "number",
        }
    }

    fn scanned(text: &str) -> Vec<(usize, usize, &'static str)> {
        tokens(text)
            .map(|t| {
                if let Kind::KeyValue { eq } = t.kind {
                    assert_eq!(text.as_bytes()[t.start + eq], b'=', "{text:?}");
                }
                (t.start, t.end, name(t.kind))
            })
            .collect()
    }

    #[test]
    fn matches_the_reference_on_examples() {
        for text in [
            "HTTP 500 at /api/foo user_id=123 timestamp=2024-01-01",
            "2024-01-01T10:00:00.123Z job failed at 10:00:01",
            "connection to 10.0.0.12:5432 refused; fe80:0:0:0:202:b3ff:fe1e:8329 down",
            "blk_-1608999687919862906 blk_38865049064139660 a_-5 _-5 x-5",
            "took 12.5s and 1.25x and 5ms and 5µs, 512MB, 3rd, 0x7ffd, deadbeef, 9fceb02d0ae5",
            r#"KeyError: 'user_42' "GET /v2/x HTTP/1.1" `code` "esc\"aped" 'unterminated"#,
            "C:\\Users\\bob\\a.txt /tmp/upload-1.tmp //x /a/ https://x.io/a?b=1 <num> <email> <Bad>",
            "7c9e6679-7425-40de-944b-e07fc1f90ae7 1.2.3.4567 1.2.3.4:123456 10:00:01.5x",
        ] {
            assert_eq!(scanned(text), reference(text), "{text}");
        }
    }

    /// Pieces that exercise every rule and its edges.
    fn log_shaped() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[0-9]{1,10}",
            "[0-9a-fA-F]{1,14}",
            "[a-zA-Z_]{1,6}",
            "[ .:/\\\\=_,;-]{1,2}",
            Just("\"".to_string()),
            Just("'".to_string()),
            Just("`".to_string()),
            Just("<".to_string()),
            Just(">".to_string()),
            Just("://".to_string()),
            Just("T".to_string()),
            Just("Z".to_string()),
            Just("+".to_string()),
            Just("@".to_string()),
            Just("\n".to_string()),
            Just("µs".to_string()),
            Just("ms".to_string()),
            Just("0x".to_string()),
            Just("_-".to_string()),
            Just("-".to_string()),
            Just("\\".to_string()),
            Just("é".to_string()),
            "\\PC{1,2}",
        ];
        prop::collection::vec(piece, 0..30).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20000))]

        #[test]
        fn matches_the_reference(text in log_shaped()) {
            prop_assert_eq!(scanned(&text), reference(&text), "{:?}", text);
        }

        #[test]
        fn matches_the_reference_on_any_text(text in "\\PC{0,120}") {
            prop_assert_eq!(scanned(&text), reference(&text), "{:?}", text);
        }
    }
}
