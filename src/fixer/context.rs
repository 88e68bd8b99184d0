//! What the analysis is given about a group: the template, the exception, a scrubbed sample,
//! the stack frames, and the source of the in-app files the frames name, within a byte budget
//! (the lines nearest each frame when a file is larger than its share).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::policy::refuse_path;
use super::validate::SourceFile;
use crate::model::Group;
use crate::pipeline::exception::is_in_app;

/// One frame of the group's stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceFrame {
    /// The path as the trace wrote it.
    pub file: String,
    pub line: u32,
    pub function: Option<String>,
    pub in_app: bool,
}

/// The byte budget of a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Source text, all files together.
    pub source_bytes: usize,
    /// The sample message and the stack trace, each.
    pub log_bytes: usize,
    /// Files fetched at most.
    pub max_files: usize,
    /// Lines kept either side of a frame's line when a file is cut.
    pub radius: usize,
    /// Frames listed at most (in-app ones first).
    pub max_frames: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            source_bytes: 48 * 1024,
            log_bytes: 4 * 1024,
            max_files: 4,
            radius: 40,
            max_frames: 40,
        }
    }
}

/// Everything the prompt is built from (already scrubbed and cut).
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub fingerprint: String,
    pub template: String,
    pub error_type: Option<String>,
    pub category: String,
    pub service: Option<String>,
    pub occurrences: i64,
    pub sample: String,
    pub stack_trace: String,
    /// Frames with the repository path of their file when it was found.
    pub frames: Vec<(TraceFrame, Option<String>)>,
    /// What the model sees of each file: its path and the shown text (whole or windows).
    pub shown: Vec<ShownFile>,
    /// The full files, by repository path: the only ones a fix may change.
    pub files: BTreeMap<String, SourceFile>,
}

/// The part of a file the model is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownFile {
    pub path: String,
    /// `None`: the whole file; else the 1-based line ranges shown.
    pub ranges: Option<Vec<(usize, usize)>>,
    pub text: String,
}

static FRAME_PATTERNS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // Python: File "x.py", line 3, in f
        r#"File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>\S+))?"#,
        // Signalbox's rendering, Node, Java-ish: at f (file:line[:col])
        r"\bat (?:(?P<func>\S+(?: \S+)?) \()?(?P<file>[^\s()]+?):(?P<line>\d+)(?::\d+)?\)?(?:\s|$)",
        // Rust panic: panicked at src/x.rs:88:14
        r"panicked at (?P<file>[^\s:]+):(?P<line>\d+)",
        // Go: /app/x.go:88 +0x1d
        r"^\s*(?P<file>\S+\.go):(?P<line>\d+)",
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// The frames of a stack trace, in the order written. A line marked `[library]` (Signalbox's
/// own rendering) or whose path looks like a library's is not in-app.
pub fn parse_frames(trace: &str) -> Vec<TraceFrame> {
    let mut frames = Vec::new();
    for line in trace.lines() {
        for pattern in FRAME_PATTERNS.iter() {
            let Some(c) = pattern.captures(line) else {
                continue;
            };
            let (Some(file), Some(n)) = (c.name("file"), c.name("line")) else {
                continue;
            };
            let Ok(n) = n.as_str().parse::<u32>() else {
                continue;
            };
            let file = file.as_str().to_string();
            if !looks_like_a_file(&file) {
                continue;
            }
            frames.push(TraceFrame {
                in_app: !line.contains("[library]") && is_in_app(&file),
                function: c.name("func").map(|f| f.as_str().to_string()),
                file,
                line: n,
            });
            break;
        }
    }
    frames
}

/// A source file's path has an extension and no `=` (`upstream=checkout:8080` is not one).
fn looks_like_a_file(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    !path.contains('=') && name.contains('.') && !name.ends_with('.')
}

/// At most `max` frames, in their order: in-app frames first claim three quarters of the
/// places, library frames the rest (a trace of 20 000 frames does not become the prompt).
pub fn select_frames(frames: Vec<TraceFrame>, max: usize) -> Vec<TraceFrame> {
    let in_app_max = max - max / 4;
    let in_app_total = frames.iter().filter(|f| f.in_app).count().min(in_app_max);
    let library_max = max - in_app_total;
    let (mut in_app, mut library) = (0, 0);
    frames
        .into_iter()
        .filter(|f| {
            let keep = if f.in_app {
                in_app < in_app_max
            } else {
                library < library_max
            };
            if keep {
                if f.in_app {
                    in_app += 1;
                } else {
                    library += 1;
                }
            }
            keep
        })
        .collect()
}

/// Repository paths a trace's path may be, most likely first: the path without a container's
/// working directory (`/app/`, `/usr/src/app/`, `/srv/`, `/workspace/`, `/opt/app/`, `/code/`),
/// then without its leading components one by one. Only paths the policy allows.
pub fn candidate_paths(file: &str) -> Vec<String> {
    const ROOTS: &[&str] = &[
        "/app/",
        "/usr/src/app/",
        "/srv/app/",
        "/srv/",
        "/workspace/",
        "/opt/app/",
        "/code/",
        "/home/app/",
        "./",
    ];
    let trimmed = file.trim_start_matches('/');
    // A path the policy refuses as a whole (traversal, CI, secrets…) has no candidate: a
    // suffix of it must not sneak past the rule.
    if refuse_path(trimmed).is_some() {
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::new();
    let mut push = |p: &str| {
        if refuse_path(p).is_none() && !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    };
    for root in ROOTS {
        if let Some(rest) = file.strip_prefix(root) {
            push(rest);
        }
    }
    push(trimmed);
    let parts: Vec<&str> = trimmed.split('/').collect();
    for i in 1..parts.len() {
        push(&parts[i..].join("/"));
    }
    out.truncate(6);
    out
}

/// `text` cut to at most `max` bytes on a character boundary, with a note when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… cut: {} more bytes]", &text[..end], text.len() - end)
}

/// What to show of `content` within `budget` bytes: all of it when it fits, else the lines
/// within `radius` of each of `lines` (1-based), merged, narrowed until they fit.
pub fn window(content: &str, lines: &[u32], budget: usize, radius: usize) -> ShownFile {
    if content.len() <= budget {
        return ShownFile {
            path: String::new(),
            ranges: None,
            text: content.to_string(),
        };
    }
    let all: Vec<&str> = content.lines().collect();
    let mut radius = radius;
    loop {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        let mut wanted: Vec<usize> = lines.iter().map(|&l| l.max(1) as usize).collect();
        wanted.sort_unstable();
        for l in wanted {
            let start = l.saturating_sub(radius).max(1);
            let end = (l + radius).min(all.len());
            if start > end {
                continue;
            }
            match ranges.last_mut() {
                Some(last) if start <= last.1 + 1 => last.1 = last.1.max(end),
                _ => ranges.push((start, end)),
            }
        }
        let text = ranges
            .iter()
            .map(|&(s, e)| all[s - 1..e].join("\n"))
            .collect::<Vec<_>>()
            .join("\n[…]\n");
        if text.len() <= budget || radius == 0 {
            return ShownFile {
                path: String::new(),
                ranges: Some(ranges),
                text: cut(&text, budget),
            };
        }
        radius /= 2;
    }
}

/// The parts of the context that come from the group (no I/O): scrubbed, cut, frames parsed.
pub fn from_group(
    group: &Group,
    scrub: &dyn Fn(&str) -> String,
    budget: Budget,
) -> (Context, Vec<TraceFrame>) {
    let trace = group.stack_trace.clone().unwrap_or_default();
    let mut frames = parse_frames(&trace);
    if frames.is_empty() {
        frames = parse_frames(&group.sample_message);
    }
    let frames = select_frames(frames, budget.max_frames);
    let context = Context {
        fingerprint: group.fingerprint.clone(),
        template: cut(&scrub(&group.template), budget.log_bytes),
        error_type: group.error_type.as_deref().map(scrub),
        category: group.category.as_str().to_string(),
        service: group.service.clone(),
        occurrences: group.occurrences,
        sample: cut(&scrub(&group.sample_message), budget.log_bytes),
        stack_trace: cut(&scrub(&trace), budget.log_bytes),
        frames: Vec::new(),
        shown: Vec::new(),
        files: BTreeMap::new(),
    };
    (context, frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_frames_of_every_trace_shape() {
        type Expected<'a> = &'a [(&'a str, u32, bool)];
        let cases: &[(&str, Expected)] = &[
            (
                "psycopg2.OperationalError: x\n  at connect (/usr/local/lib/python3.12/site-packages/psycopg2/__init__.py:122) [library]\n  at get_connection (/app/checkout/db.py:31)\n",
                &[("/usr/local/lib/python3.12/site-packages/psycopg2/__init__.py", 122, false), ("/app/checkout/db.py", 31, true)],
            ),
            (
                "Traceback (most recent call last):\n  File \"/app/checkout/orders.py\", line 77, in create_order\n    conn = get_connection()\nKeyError: 'x'",
                &[("/app/checkout/orders.py", 77, true)],
            ),
            (
                "TypeError: x\n    at totalFor (/app/src/routes/cart.js:42:18)\n    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)",
                &[("/app/src/routes/cart.js", 42, true), ("/app/node_modules/express/lib/router/layer.js", 95, false)],
            ),
            (
                "thread 'main' panicked at src/session.rs:88:14:\ncalled `Option::unwrap()` on a `None` value",
                &[("src/session.rs", 88, true)],
            ),
            (
                "goroutine 1 [running]:\nmain.(*Mailer).Send(...)\n\t/app/internal/jobs/email.go:88 +0x1d",
                &[("/app/internal/jobs/email.go", 88, true)],
            ),
            (
                "runtime.Error: x\n  at runtime.panicmem (/usr/local/go/src/runtime/panic.go:261) [library]\n  at jobs.(*Mailer).Send (/app/internal/jobs/email.go:88)\n",
                &[("/usr/local/go/src/runtime/panic.go", 261, false), ("/app/internal/jobs/email.go", 88, true)],
            ),
            ("HTTP 502 at /api/checkout upstream=checkout:8080 latency=30012ms", &[]),
            ("no trace here at all", &[]),
        ];
        for (trace, expected) in cases {
            let got: Vec<(String, u32, bool)> = parse_frames(trace)
                .into_iter()
                .map(|f| (f.file, f.line, f.in_app))
                .collect();
            let want: Vec<(String, u32, bool)> = expected
                .iter()
                .map(|(f, l, a)| (f.to_string(), *l, *a))
                .collect();
            assert_eq!(got, want, "{trace}");
        }
    }

    #[test]
    fn candidate_paths_strip_container_roots_and_refuse_bad_paths() {
        assert_eq!(candidate_paths("/app/checkout/db.py")[0], "checkout/db.py");
        assert_eq!(candidate_paths("src/session.rs")[0], "src/session.rs");
        let deep = candidate_paths("/home/runner/work/shop/src/x.py");
        assert!(deep.contains(&"src/x.py".to_string()), "{deep:?}");
        assert!(candidate_paths("../../.github/workflows/x.yml").is_empty());
        assert!(candidate_paths("/app/.env").is_empty());
        assert!(candidate_paths("/app/Dockerfile").is_empty());
    }

    #[test]
    fn windows_keep_the_lines_near_frames_within_budget() {
        let content: String = (1..=1000).map(|i| format!("line {i}\n")).collect();
        let small = window("a\nb\n", &[1], 100, 5);
        assert_eq!(small.ranges, None);
        let shown = window(&content, &[500, 510, 900], 2000, 20);
        let ranges = shown.ranges.clone().expect("cut");
        assert_eq!(ranges, vec![(480, 530), (880, 920)]);
        assert!(shown.text.contains("line 500\n"));
        assert!(shown.text.contains("line 900\n"));
        assert!(!shown.text.contains("line 100\n"));
        assert!(shown.text.len() <= 2000 + 40);
        let tight = window(&content, &[500], 120, 40);
        assert!(tight.text.contains("line 500"));
        assert!(tight.text.len() <= 200, "{}", tight.text.len());
    }

    #[test]
    fn long_traces_keep_their_in_app_frames() {
        let frame = |in_app: bool, line: u32| TraceFrame {
            file: if in_app {
                "/app/a.py".into()
            } else {
                "/usr/lib/x.py".into()
            },
            line,
            function: None,
            in_app,
        };
        let mut frames: Vec<TraceFrame> = (0..20_000).map(|i| frame(false, i)).collect();
        frames.insert(10_000, frame(true, 7));
        let kept = select_frames(frames, 40);
        assert_eq!(kept.len(), 40);
        assert!(kept.iter().any(|f| f.in_app && f.line == 7));
        let few = select_frames(vec![frame(true, 1), frame(false, 2)], 40);
        assert_eq!(few.len(), 2);
    }

    #[test]
    fn cut_respects_char_boundaries() {
        let s = "é".repeat(10);
        let c = cut(&s, 5);
        assert!(c.starts_with("éé"));
        assert!(c.contains("cut"));
    }
}
