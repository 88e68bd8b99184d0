//! Grouping: which templates are one group.
//!
//! A template (the normalizer's output, with typed placeholders) still differs between lines
//! of one group wherever a value was not caught by a placeholder of the same type: `blk_<num>`
//! and `<id>`, `node-D3` and `node-D7`, `/api/users/<num>` and `/api/orders/<num>`, lists of
//! three ids and of five. The *grouping key* of a template turns every variable-like word into
//! one wildcard and every run of them into one, and keeps the words: two templates share a key
//! exactly when they differ only where both are variable — Drain's similarity merge, made
//! order-free, so the key of a line never depends on which lines came before it (a fingerprint
//! must not). Plain words never vary (`GET` and `POST`, `opened` and `closed` stay apart).
//!
//! What counts as variable is the one decision of this module ([`is_variable_word`]): a
//! placeholder, a path or route, or a word with digits — except, in error fingerprints,
//! the codes the normalizer kept on purpose (`502`, `status=503`, `SQLSTATE 23505`): an error
//! monitor keeps 502 and 503 apart ([`Codes::Kept`]), while log-template mining, what Loghub
//! measures, takes them as one template's values ([`Codes::Variable`]).

use std::hash::Hasher;

use rustc_hash::FxHashMap;

use super::normalize::normalize_into;

/// Whether the codes the normalizer keeps (HTTP status codes, error codes) tell groups apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codes {
    /// Kept codes are constants: `HTTP 502` and `HTTP 503` are two groups (error fingerprints).
    Kept,
    /// Kept codes are values like any number: one template (log-template mining).
    Variable,
}

/// The grouping key of `template`, appended to `out` (see the module documentation).
pub fn key_into(out: &mut String, template: &str, codes: Codes) {
    let mut key = KeyWriter {
        out,
        template,
        first: true,
        run: 0..0,
    };
    let mut after_wildcard = false;
    // ASCII whitespace only: a template's words are split by single spaces already.
    for (at, word, marks) in words(template) {
        if !marks.variable(word, codes) {
            key.plain(at..at + word.len());
            after_wildcard = false;
            continue;
        }
        // `key=value` and `key:value` keep their key: `user=<*>` and `order=<*>` differ.
        // A drive (`C:\`) or scheme (`s3://`) is no key. Variable words after it are its value.
        match word.find(['=', ':']).map(|at| word.split_at(at)) {
            Some((name, rest))
                if !name.is_empty()
                    && !is_variable_word(name, codes)
                    && !rest[1..].starts_with(['/', '\\']) =>
            {
                key.word(&[name, &rest[..1], WILDCARD]);
                after_wildcard = true;
            }
            // A run of variable words (a list, a value with spaces) is one wildcard.
            _ if after_wildcard => {}
            _ => {
                key.word(&[WILDCARD]);
                after_wildcard = true;
            }
        }
    }
    key.flush();
}

/// Writes the words of a key, each after a space unless it is the first. Plain words that
/// follow each other in the template one space apart are copied as one slice of it (most of a
/// key is its template's words): fewer, longer copies.
struct KeyWriter<'a> {
    out: &'a mut String,
    template: &'a str,
    first: bool,
    /// The plain words not written yet: a range of `template`.
    run: std::ops::Range<usize>,
}

impl KeyWriter<'_> {
    /// A plain word of the template (its range there), written as it is.
    fn plain(&mut self, word: std::ops::Range<usize>) {
        let adjacent = !self.run.is_empty()
            && self.run.end + 1 == word.start
            && self.template.as_bytes()[self.run.end] == b' ';
        if adjacent {
            self.run.end = word.end;
        } else {
            self.flush();
            self.run = word;
        }
    }

    /// A word made of `pieces`.
    fn word(&mut self, pieces: &[&str]) {
        self.flush();
        self.separate();
        for piece in pieces {
            self.out.push_str(piece);
        }
    }

    /// Writes the pending plain words.
    fn flush(&mut self) {
        if !self.run.is_empty() {
            let run = std::mem::replace(&mut self.run, 0..0);
            self.separate();
            self.out.push_str(&self.template[run]);
        }
    }

    fn separate(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.out.push(' ');
        }
    }
}

/// The grouping key of `template` as a new string.
pub fn key(template: &str, codes: Codes) -> String {
    let mut out = String::with_capacity(template.len());
    key_into(&mut out, template, codes);
    out
}

/// Whether a word of a template varies between the lines of one group: it holds a placeholder
/// (`<num>`, `blk_<num>`, `ip=<ip>`), a path or route separator, or a digit the normalizer
/// left — a short name like `node-D3` or `root14_local`, or (with [`Codes::Variable`]) a kept
/// code. With [`Codes::Kept`], a kept code stays: a bare number (`502`, `(502)`) — the
/// normalizer turns every other number into a placeholder — or a `key=value` whose value it
/// kept (`status=503`, `code=E42`).
pub fn is_variable_word(word: &str, codes: Codes) -> bool {
    let marks = word
        .bytes()
        .fold(0, |marks, c| marks | BYTE_MARKS[usize::from(c)]);
    Marks(marks).variable(word, codes)
}

/// Bits of [`BYTE_MARKS`]: ASCII whitespace (`u8::is_ascii_whitespace`), a placeholder or
/// path byte (`<`, `/`, `\`), a digit.
const SPACE: u8 = 1;
const SEPARATOR: u8 = 2;
const DIGIT: u8 = 4;

static BYTE_MARKS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_whitespace() {
            table[b] = SPACE;
        } else if c == b'<' || c == b'/' || c == b'\\' {
            table[b] = SEPARATOR;
        } else if c.is_ascii_digit() {
            table[b] = DIGIT;
        }
        b += 1;
    }
    table
};

/// The marks of a word's bytes, OR-ed together.
#[derive(Clone, Copy)]
struct Marks(u8);

impl Marks {
    /// [`is_variable_word`] of `word`, whose marks these are.
    fn variable(self, word: &str, codes: Codes) -> bool {
        if self.0 & SEPARATOR != 0 {
            return true;
        }
        if self.0 & DIGIT == 0 {
            return false;
        }
        match codes {
            Codes::Variable => true,
            Codes::Kept => !is_kept_code(word),
        }
    }
}

/// The words of `text` (`split_ascii_whitespace`) with where each starts and its marks, read
/// in the same pass.
fn words(text: &str) -> impl Iterator<Item = (usize, &str, Marks)> {
    let b = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < b.len() && BYTE_MARKS[usize::from(b[at])] == SPACE {
            at += 1;
        }
        if at == b.len() {
            return None;
        }
        let start = at;
        let mut marks = 0;
        while let Some(&c) = b.get(at) {
            let mark = BYTE_MARKS[usize::from(c)];
            if mark == SPACE {
                break;
            }
            marks |= mark;
            at += 1;
        }
        // Both ends are at ASCII bytes (or the ends of the text): character boundaries.
        text.get(start..at).map(|word| (start, word, Marks(marks)))
    })
}

/// A bare number between punctuation, or `key=value` with a key without digits.
fn is_kept_code(word: &str) -> bool {
    if let Some((key, _)) = word.split_once('=') {
        return !key.is_empty() && !key.bytes().any(|c| c.is_ascii_digit());
    }
    let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    !core.is_empty() && core.bytes().all(|c| c.is_ascii_digit())
}

/// The wildcard a template gets where its lines differ.
pub const WILDCARD: &str = "<*>";

/// Groups lines by the grouping key of their templates, with [`Codes::Variable`] (log-template
/// mining, what Loghub measures); `add` returns the cluster of each line.
#[derive(Debug, Default)]
pub struct LineGrouper {
    /// Key → cluster (Fx: the keys are our own normalized text, not attacker-chosen map keys
    /// of a server).
    clusters: FxHashMap<String, usize>,
    /// Normalized line → cluster: a shape seen before skips its key.
    shapes: FxHashMap<String, usize>,
    /// The key of each cluster.
    keys: Vec<String>,
    /// Buffers reused from line to line: the normalized line, then its key.
    normalized: String,
    key: String,
    /// Lines seen verbatim before, and their clusters.
    seen: SeenLines,
}

/// A bounded memory of lines seen verbatim: logs repeat whole lines a lot (on Loghub-2k, 42%
/// of the lines are exact copies of an earlier line of their system), and a line seen before
/// joins the cluster it joined then (a normalized text keeps its cluster for good), so it
/// skips normalization. The texts live in one buffer (no allocation per line); past
/// [`SEEN_BYTES`] the memory starts afresh.
#[derive(Debug, Default)]
struct SeenLines {
    /// Hash of a line → where its text is in `texts`, and its cluster.
    by_hash: FxHashMap<u64, (usize, usize, usize)>,
    texts: String,
}

/// Most bytes of lines [`SeenLines`] keeps.
const SEEN_BYTES: usize = 1 << 20;
/// Longer lines are not kept (they rarely repeat, and would crowd out the rest).
const SEEN_LINE_BYTES: usize = 2048;

impl SeenLines {
    fn hash(line: &str) -> u64 {
        let mut h = rustc_hash::FxHasher::default();
        h.write(line.as_bytes());
        h.finish()
    }

    /// The cluster of `line` if it was seen before.
    fn get(&self, hash: u64, line: &str) -> Option<usize> {
        let &(start, end, id) = self.by_hash.get(&hash)?;
        (self.texts.get(start..end) == Some(line)).then_some(id)
    }

    fn insert(&mut self, hash: u64, line: &str, id: usize) {
        if line.len() > SEEN_LINE_BYTES {
            return;
        }
        if self.texts.len() + line.len() > SEEN_BYTES {
            self.by_hash.clear();
            self.texts.clear();
        }
        if self.texts.capacity() == 0 {
            // Room for a first few thousand lines at once, rather than growing step by step.
            self.texts.reserve(SEEN_BYTES / 8);
            self.by_hash.reserve(2048);
        }
        let start = self.texts.len();
        self.texts.push_str(line);
        // A colliding hash keeps its first line: the other is normalized every time.
        self.by_hash
            .entry(hash)
            .or_insert((start, self.texts.len(), id));
    }
}

impl LineGrouper {
    /// Adds one line and returns its cluster.
    pub fn add(&mut self, line: &str) -> usize {
        let hash = SeenLines::hash(line);
        if let Some(id) = self.seen.get(hash, line) {
            return id;
        }
        let id = self.add_new(line);
        self.seen.insert(hash, line, id);
        id
    }

    /// Adds a line not seen verbatim before.
    fn add_new(&mut self, line: &str) -> usize {
        self.normalized.clear();
        normalize_into(&mut self.normalized, line);
        if let Some(&id) = self.shapes.get(self.normalized.as_str()) {
            return id;
        }
        self.key.clear();
        key_into(&mut self.key, &self.normalized, Codes::Variable);
        let id = match self.clusters.get(self.key.as_str()) {
            Some(&id) => id,
            None => {
                let id = self.keys.len();
                self.keys.push(self.key.clone());
                self.clusters.insert(self.key.clone(), id);
                id
            }
        };
        self.shapes.insert(self.normalized.clone(), id);
        id
    }

    /// The template of a cluster: its key, wildcards where its lines may differ.
    pub fn template(&self, id: usize) -> Option<&str> {
        self.keys.get(id).map(String::as_str)
    }

    /// Clusters so far.
    pub fn cluster_count(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn clusters(lines: &[&str]) -> Vec<usize> {
        let mut g = LineGrouper::default();
        lines.iter().map(|l| g.add(l)).collect()
    }

    #[test]
    fn grouping() {
        let cases: &[(&str, &[&str], &[usize])] = &[
            (
                "same shape, other values",
                &["took 12ms for 3 items", "took 7ms for 120 items"],
                &[0, 0],
            ),
            (
                "paths vary",
                &[
                    "open /user/root/rand3/part-1 failed",
                    "open /user/x/y/part-2 failed",
                ],
                &[0, 0],
            ),
            (
                "words do not",
                &["\"GET /a HTTP/1.1\" 200", "\"POST /a HTTP/1.1\" 200"],
                &[0, 1],
            ),
            (
                "opened vs closed",
                &["session 12 opened", "session 13 closed"],
                &[0, 1],
            ),
            ("lengths differ", &["a <num> b", "a <num> b c"], &[0, 1]),
        ];
        for (name, lines, expected) in cases {
            assert_eq!(clusters(lines), expected.to_vec(), "{name}");
        }
    }

    #[test]
    fn templates_get_wildcards_where_lines_differ() {
        let mut g = LineGrouper::default();
        let id = g.add("open /a/b/c1 failed");
        g.add("open /d/e/f2 failed");
        assert_eq!(g.template(id), Some("open <*> failed"));
    }

    /// The specification of [`key_into`]: word by word, each piece pushed on its own.
    fn reference_key_into(out: &mut String, template: &str, codes: Codes) {
        key_pieces(template, codes, |piece| out.push_str(piece));
    }

    /// The grouping key of `template`, handed piece by piece to `push`.
    fn key_pieces(template: &str, codes: Codes, mut push: impl FnMut(&str)) {
        // One word of the key, in pieces, after a space unless it is the first.
        let mut first = true;
        let mut word_out = |pieces: &[&str]| {
            if !std::mem::take(&mut first) {
                push(" ");
            }
            for piece in pieces {
                push(piece);
            }
        };
        let mut after_wildcard = false;
        // ASCII whitespace only: a template's words are split by single spaces already.
        for word in template.split_ascii_whitespace() {
            if !is_variable_word(word, codes) {
                word_out(&[word]);
                after_wildcard = false;
                continue;
            }
            // `key=value` and `key:value` keep their key: `user=<*>` and `order=<*>` differ.
            // A drive (`C:\`) or scheme (`s3://`) is no key. Variable words after it are its value.
            match word.find(['=', ':']).map(|at| word.split_at(at)) {
                Some((key, rest))
                    if !key.is_empty()
                        && !is_variable_word(key, codes)
                        && !rest[1..].starts_with(['/', '\\']) =>
                {
                    word_out(&[key, &rest[..1], WILDCARD]);
                    after_wildcard = true;
                }
                // A run of variable words (a list, a value with spaces) is one wildcard.
                _ if after_wildcard => {}
                _ => {
                    word_out(&[WILDCARD]);
                    after_wildcard = true;
                }
            }
        }
    }

    fn key_shaped() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[a-z]{1,6}",
            "[0-9]{1,4}",
            "[ \t]{1,3}",
            Just("<num>".to_string()),
            Just("<*>".to_string()),
            Just("=".to_string()),
            Just(":".to_string()),
            Just("/".to_string()),
            Just("\\".to_string()),
            Just("(502)".to_string()),
            "\\PC{1,2}",
        ];
        prop::collection::vec(piece, 0..30).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn keys_match_their_specification(template in key_shaped(), kept in any::<bool>()) {
            let codes = if kept { Codes::Kept } else { Codes::Variable };
            let (mut fast, mut reference) = ("x".to_string(), "x".to_string());
            key_into(&mut fast, &template, codes);
            reference_key_into(&mut reference, &template, codes);
            prop_assert_eq!(fast, reference, "{:?}", template);
        }
    }

    #[test]
    fn keys() {
        use Codes::{Kept, Variable};
        let cases: &[(&str, Codes, &str)] = &[
            // Placeholders of different types in one slot: one wildcard.
            ("block blk_<num> terminating", Kept, "block <*> terminating"),
            ("block <id> terminating", Kept, "block <*> terminating"),
            // Short names with digits vary; words do not.
            ("served by node-D3 now", Kept, "served by <*> now"),
            ("domain root14_local is full", Kept, "domain <*> is full"),
            ("GET failed", Kept, "GET failed"),
            // Paths and routes vary (the sample keeps them).
            ("open /api/users failed", Kept, "open <*> failed"),
            ("open C:\\data\\x failed", Kept, "open <*> failed"),
            // A run of variable words is one wildcard: lists of any length.
            ("delete <id> <id> blk_<num> now", Kept, "delete <*> now"),
            ("delete <id> now", Kept, "delete <*> now"),
            // key=value keeps its key, and its value when the normalizer kept it as a code.
            ("user=<num> order=<num>", Kept, "user=<*> order=<*>"),
            ("status=503 failed", Kept, "status=503 failed"),
            ("status=503 failed", Variable, "status=<*> failed"),
            ("<num>=<num>", Kept, "<*>"),
            ("lr:<hex> cr:<num>", Kept, "lr:<*> cr:<*>"),
            ("node:<*>", Kept, "node:<*>"),
            ("nodes:node-[<num>\\ <num>] and", Kept, "nodes:<*> and"),
            // Kept codes: 502 is not 503 in error fingerprints, one value in templates.
            (
                "upstream returned 502 Bad Gateway",
                Kept,
                "upstream returned 502 Bad Gateway",
            ),
            ("upstream returned (502)", Kept, "upstream returned (502)"),
            ("upstream returned 502", Variable, "upstream returned <*>"),
            // Whitespace is not part of a key.
            ("  a\t <num>   b ", Kept, "a <*> b"),
            ("", Kept, ""),
        ];
        for (template, codes, expected) in cases {
            assert_eq!(key(template, *codes), *expected, "{template} ({codes:?})");
        }
    }

    #[test]
    fn kept_codes_stay_apart_only_in_fingerprints() {
        let template = |line: &str| crate::pipeline::normalize::template(line);
        let a = template("HTTP 502 at /api/foo");
        let b = template("HTTP 503 at /api/foo");
        assert_ne!(key(&a, Codes::Kept), key(&b, Codes::Kept));
        assert_eq!(key(&a, Codes::Variable), key(&b, Codes::Variable));
    }
}
