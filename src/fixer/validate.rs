//! Validation of a proposed fix before anything touches GitHub: only the files the model was
//! given from the stack trace, never a refused kind of path, every hunk applies exactly once to
//! the fetched content, caps on files and changed lines, and text that stays text.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use similar::{ChangeTag, TextDiff};

use super::policy::refuse_path;

/// The model's structured answer.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Proposal {
    pub root_cause: String,
    #[serde(default)]
    pub confidence: String,
    #[serde(default)]
    pub explanation: String,
    #[serde(default)]
    pub edits: Vec<Edit>,
    #[serde(default)]
    pub suggested_test: String,
}

/// A change to one file: replacement hunks, or its whole new content.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Edit {
    pub path: String,
    #[serde(default)]
    pub hunks: Vec<Hunk>,
    #[serde(default)]
    pub new_content: Option<String>,
}

/// Replace the one occurrence of `find` with `replace`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Hunk {
    pub find: String,
    pub replace: String,
}

/// A file the model was shown: its repository path, content and blob sha.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceFile {
    pub path: String,
    pub content: String,
    pub sha: String,
}

/// A validated change of one file.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangedFile {
    pub path: String,
    pub original: String,
    pub updated: String,
    /// Blob sha of the original (GitHub needs it to update the file).
    pub sha: String,
}

/// Caps on a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub max_files: usize,
    /// Added plus removed lines, all files together.
    pub max_changed_lines: usize,
    /// Largest file after the change.
    pub max_file_bytes: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_files: 3,
            max_changed_lines: 80,
            max_file_bytes: 512 * 1024,
        }
    }
}

/// Checks `proposal` against the files the model was given; the changed files, or why not.
pub fn validate(
    proposal: &Proposal,
    given: &BTreeMap<String, SourceFile>,
    caps: Caps,
) -> Result<Vec<ChangedFile>, String> {
    if proposal.edits.is_empty() {
        return Err("the analysis proposed no code change".into());
    }
    if proposal.edits.len() > caps.max_files {
        return Err(format!(
            "the change touches {} files; at most {} are allowed",
            proposal.edits.len(),
            caps.max_files
        ));
    }
    let mut seen = BTreeSet::new();
    let mut changed = Vec::new();
    let mut changed_lines = 0;
    for edit in &proposal.edits {
        let path = edit.path.as_str();
        if let Some(why) = refuse_path(path) {
            return Err(format!("refused path: {why}"));
        }
        let Some(source) = given.get(path) else {
            return Err(format!(
                "{path}: not a file the stack trace named (only those given to the analysis may change)"
            ));
        };
        if !seen.insert(path) {
            return Err(format!("{path}: edited twice"));
        }
        let updated = apply(edit, &source.content)?;
        if updated == source.content {
            return Err(format!("{path}: the edit changes nothing"));
        }
        if updated.len() > caps.max_file_bytes {
            return Err(format!(
                "{path}: {} bytes after the change; at most {} are allowed",
                updated.len(),
                caps.max_file_bytes
            ));
        }
        if let Some(c) = updated
            .chars()
            .find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(format!(
                "{path}: the new text has a control character (U+{:04X}): not a text file",
                c as u32
            ));
        }
        changed_lines += count_changed_lines(&source.content, &updated);
        changed.push(ChangedFile {
            path: path.to_string(),
            original: source.content.clone(),
            updated,
            sha: source.sha.clone(),
        });
    }
    if changed_lines > caps.max_changed_lines {
        return Err(format!(
            "the change adds or removes {changed_lines} lines; at most {} are allowed",
            caps.max_changed_lines
        ));
    }
    Ok(changed)
}

/// `content` with the edit's hunks applied in order, or its new content.
fn apply(edit: &Edit, content: &str) -> Result<String, String> {
    let path = &edit.path;
    match (&edit.new_content, edit.hunks.is_empty()) {
        (Some(_), false) => Err(format!("{path}: both hunks and new content")),
        (Some(new), true) => Ok(new.clone()),
        (None, true) => Err(format!("{path}: no hunk")),
        (None, false) => {
            let mut text = content.to_string();
            for (i, hunk) in edit.hunks.iter().enumerate() {
                let n = i + 1;
                if hunk.find.is_empty() {
                    return Err(format!("{path}: hunk {n} has nothing to find"));
                }
                match text.matches(hunk.find.as_str()).count() {
                    0 => {
                        return Err(format!(
                            "{path}: hunk {n} does not apply (its text is not in the file)"
                        ))
                    }
                    1 => text = text.replacen(hunk.find.as_str(), &hunk.replace, 1),
                    k => {
                        return Err(format!(
                            "{path}: hunk {n} is ambiguous (its text is in the file {k} times)"
                        ))
                    }
                }
            }
            Ok(text)
        }
    }
}

/// Lines added plus lines removed.
pub fn count_changed_lines(old: &str, new: &str) -> usize {
    TextDiff::from_lines(old, new)
        .iter_all_changes()
        .filter(|c| c.tag() != ChangeTag::Equal)
        .count()
}

/// The unified diff of the changes (`a/path`, `b/path`), as `git diff` shows it.
pub fn unified_diff(files: &[ChangedFile]) -> String {
    let mut out = String::new();
    for f in files {
        let diff = TextDiff::from_lines(&f.original, &f.updated);
        out.push_str(&format!("diff --git a/{0} b/{0}\n", f.path));
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{}", f.path), &format!("b/{}", f.path))
                .to_string(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given() -> BTreeMap<String, SourceFile> {
        let file = |path: &str, content: &str| {
            (
                path.to_string(),
                SourceFile {
                    path: path.into(),
                    content: content.into(),
                    sha: "abc".into(),
                },
            )
        };
        [
            file("app/db.py", "import x\n\ndef f():\n    return connect()\n"),
            file("app/util.py", "a = 1\na = 1\n"),
        ]
        .into_iter()
        .collect()
    }

    fn edit(path: &str, find: &str, replace: &str) -> Edit {
        Edit {
            path: path.into(),
            hunks: vec![Hunk {
                find: find.into(),
                replace: replace.into(),
            }],
            new_content: None,
        }
    }

    fn proposal(edits: Vec<Edit>) -> Proposal {
        Proposal {
            root_cause: "r".into(),
            confidence: "high".into(),
            explanation: "e".into(),
            edits,
            suggested_test: "t".into(),
        }
    }

    #[test]
    fn accepts_a_small_change_to_a_given_file() {
        let p = proposal(vec![edit(
            "app/db.py",
            "    return connect()",
            "    return connect(timeout=5)",
        )]);
        let changed = validate(&p, &given(), Caps::default()).expect("valid");
        assert_eq!(changed.len(), 1);
        assert!(changed[0].updated.contains("timeout=5"));
        let diff = unified_diff(&changed);
        assert!(diff.contains("--- a/app/db.py"), "{diff}");
        assert!(diff.contains("-    return connect()\n+    return connect(timeout=5)"));
    }

    #[test]
    fn refuses_what_must_not_reach_github() {
        let big = "x\n".repeat(200);
        let many: Vec<Edit> = (0..4)
            .map(|i| edit(&format!("f{i}.py"), "a", "b"))
            .collect();
        let cases: Vec<(&str, Proposal, &str)> = vec![
            ("no edit", proposal(vec![]), "no code change"),
            (
                "unlisted file",
                proposal(vec![edit("app/other.py", "a", "b")]),
                "not a file the stack trace named",
            ),
            (
                "traversal",
                proposal(vec![edit("../../.github/workflows/x.yml", "a", "b")]),
                "refused path",
            ),
            (
                "workflow",
                proposal(vec![edit(".github/workflows/ci.yml", "a", "b")]),
                "CI and workflow",
            ),
            (
                "lockfile",
                proposal(vec![edit("package-lock.json", "a", "b")]),
                "lockfiles",
            ),
            (
                "dockerfile",
                proposal(vec![edit("Dockerfile", "a", "b")]),
                "build and deploy",
            ),
            ("env file", proposal(vec![edit(".env", "a", "b")]), "secret"),
            (
                "binary",
                proposal(vec![edit("logo.png", "a", "b")]),
                "binary",
            ),
            (
                "absolute",
                proposal(vec![edit("/app/db.py", "a", "b")]),
                "relative",
            ),
            (
                "does not apply",
                proposal(vec![edit("app/db.py", "return nothing", "x")]),
                "does not apply",
            ),
            (
                "ambiguous",
                proposal(vec![edit("app/util.py", "a = 1", "a = 2")]),
                "ambiguous",
            ),
            (
                "empty find",
                proposal(vec![edit("app/db.py", "", "x")]),
                "nothing to find",
            ),
            (
                "no-op",
                proposal(vec![edit("app/db.py", "import x", "import x")]),
                "changes nothing",
            ),
            (
                "twice",
                proposal(vec![
                    edit("app/db.py", "import x", "import y"),
                    edit("app/db.py", "def f", "def g"),
                ]),
                "edited twice",
            ),
            ("too many files", proposal(many), "at most 3"),
            (
                "too many lines",
                proposal(vec![edit("app/db.py", "import x", &big)]),
                "lines; at most 80",
            ),
            (
                "control chars",
                proposal(vec![edit("app/db.py", "import x", "import \u{1b}[31mx")]),
                "control character",
            ),
            (
                "hunks and content",
                proposal(vec![Edit {
                    path: "app/db.py".into(),
                    hunks: vec![Hunk {
                        find: "import x".into(),
                        replace: "y".into(),
                    }],
                    new_content: Some("z".into()),
                }]),
                "both hunks",
            ),
        ];
        for (name, p, expected) in cases {
            let err = validate(&p, &given(), Caps::default()).expect_err(name);
            assert!(err.contains(expected), "{name}: {err}");
        }
    }

    #[test]
    fn new_content_replaces_the_file() {
        let p = proposal(vec![Edit {
            path: "app/db.py".into(),
            hunks: vec![],
            new_content: Some("import x\n\ndef f():\n    return connect(timeout=5)\n".into()),
        }]);
        let changed = validate(&p, &given(), Caps::default()).expect("valid");
        assert_eq!(
            count_changed_lines(&changed[0].original, &changed[0].updated),
            2
        );
    }
}
