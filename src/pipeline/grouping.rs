//! Grouping of log lines into templates (what Loghub measures).
//!
//! Lines are normalized into typed placeholders first; lines whose normalized texts are equal
//! share a cluster. A line that matches no cluster exactly joins a cluster of the same token
//! count when every position where they differ holds a *variable-like* token on both sides (a
//! placeholder, a number, a path…) — like Drain's similarity merge, but never across plain
//! words, so `GET` and `POST`, `opened` and `closed` stay apart. The differing positions
//! become `<*>`.

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
}

impl LineGrouper {
    /// Adds one line and returns its cluster.
    pub fn add(&mut self, line: &str) -> usize {
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
