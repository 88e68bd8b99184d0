//! Grouping of log lines into templates (what Loghub measures).
//!
//! Lines are normalized into typed placeholders first; lines whose normalized texts are equal
//! share a cluster. A line that matches no cluster exactly joins a cluster of the same token
//! count when every position where they differ holds a *variable-like* token on both sides (a
//! placeholder, a number, a path…) — like Drain's similarity merge, but never across plain
//! words, so `GET` and `POST`, `opened` and `closed` stay apart. The differing positions
//! become `<*>`.

use std::hash::Hasher;

use rustc_hash::FxHashMap;

use super::normalize::{collapse_repeats_into, may_have_repeats, normalize_into};

/// The wildcard a template gets where its lines differ.
pub const WILDCARD: &str = "<*>";

/// Groups lines; `add` returns the cluster of each line.
#[derive(Debug, Default)]
pub struct LineGrouper {
    /// Normalized text → cluster, so repeated shapes cost one hash lookup (Fx: the keys are
    /// our own normalized text, not attacker-chosen map keys of a server).
    exact: FxHashMap<String, usize>,
    /// Template tokens of each cluster.
    templates: Vec<Vec<String>>,
    /// Clusters by token count: only those can absorb a line.
    by_len: FxHashMap<usize, Vec<usize>>,
    /// Buffers reused from line to line: the normalized line, then its repeats collapsed (when
    /// it may have any).
    normalized: String,
    collapsed: String,
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
        let key = if may_have_repeats(&self.normalized) {
            self.collapsed.clear();
            collapse_repeats_into(&mut self.collapsed, &self.normalized, |out, piece| {
                out.push_str(piece)
            });
            &self.collapsed
        } else {
            &self.normalized
        };
        if let Some(&id) = self.exact.get(key.as_str()) {
            return id;
        }
        let normalized = key.clone();
        let tokens: Vec<&str> = normalized.split_whitespace().collect();
        let candidates = self.by_len.entry(tokens.len()).or_default();
        let found = candidates
            .iter()
            .copied()
            .find(|&id| mergeable(&self.templates[id], &tokens));
        let id = match found {
            Some(id) => {
                for (slot, token) in self.templates[id].iter_mut().zip(&tokens) {
                    if slot != token {
                        *slot = WILDCARD.to_string();
                    }
                }
                id
            }
            None => {
                let id = self.templates.len();
                self.templates
                    .push(tokens.iter().map(|t| t.to_string()).collect());
                candidates.push(id);
                id
            }
        };
        self.exact.insert(normalized, id);
        id
    }

    /// The template of a cluster, wildcards where its lines differ.
    pub fn template(&self, id: usize) -> Option<String> {
        self.templates.get(id).map(|t| t.join(" "))
    }

    /// Clusters so far.
    pub fn cluster_count(&self) -> usize {
        self.templates.len()
    }
}

/// True when `tokens` can join a cluster with `template`: they differ only where both sides
/// are variable-like.
fn mergeable(template: &[String], tokens: &[&str]) -> bool {
    template.len() == tokens.len()
        && template
            .iter()
            .zip(tokens)
            .all(|(t, l)| t == l || (is_variable(t) && is_variable(l)))
}

/// Placeholders, wildcards, and tokens with digits or path separators vary between lines of
/// one template; plain words do not.
fn is_variable(token: &str) -> bool {
    token.contains('<')
        || token
            .bytes()
            .any(|b| b.is_ascii_digit() || b == b'/' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(g.template(id).as_deref(), Some("open <*> failed"));
    }
}
