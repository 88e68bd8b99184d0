//! Exception extraction: the type, value and frames of a stack trace printed as text.
//!
//! Reads the traces [`super::multiline`] assembles — Python, Java/Kotlin, Node, Go, Rust and
//! Ruby — into a [`crate::model::Exception`]. Frames come innermost last, as Sentry orders them,
//! whatever order the language prints them in.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::model::{Exception, Frame};

/// Extracts the exception a text stack trace reports; `None` when the text is no trace.
///
/// Chained exceptions: the one reported is the exception that propagated (the most recently
/// raised), not the root cause, which stays readable in the text. Python prints it LAST
/// (after "During handling of the above exception…" or "The above exception was the direct
/// cause…"), so the last traceback is taken, with its frames. Java and Kotlin print it FIRST,
/// so the first exception line is taken, with the frames above the first `Caused by:` or
/// `Suppressed:` (Node: `[cause]:`).
///
/// The kind is the name as printed (`java.lang.IllegalStateException`,
/// `requests.exceptions.HTTPError`). Go and Rust print no type: their kind is `panic` (or Go's
/// `fatal error`). Values are the message's first line. A text without frames whose first line
/// is exception-shaped (`KeyError: 'x'`) gives an exception without frames.
pub fn extract(text: &str) -> Option<Exception> {
    // Most texts are one line: no list to allocate for them.
    let one;
    let many: Vec<&str>;
    let lines: &[&str] = if memchr::memchr(b'\n', text.as_bytes()).is_some() {
        many = text.lines().collect();
        &many
    } else if text.is_empty() {
        &[]
    } else {
        one = [text];
        &one
    };
    python(lines)
        .or_else(|| rust(lines))
        .or_else(|| go(lines))
        .or_else(|| ruby(lines))
        .or_else(|| at_frames(lines))
        .or_else(|| lone_exception_line(lines))
}

/// Path or module parts that only library code has: package managers' install directories,
/// standard libraries and runtimes' internals.
const LIBRARY_PARTS: [&str; 17] = [
    "site-packages",
    "dist-packages",
    "node_modules",
    "/usr/lib",
    "/usr/local/lib",
    // Also `/usr/local/cargo/registry`: CARGO_HOME in the official Docker images.
    "cargo/registry",
    "/rustc/",
    "library/std",
    "library/core",
    "vendor/",
    "gems/",
    "/go/src/runtime",
    "/usr/local/go/src/",
    // The Go module cache: dependencies.
    "/pkg/mod/",
    "node:internal",
    "<frozen ",
    "<internal:",
];

/// Module prefixes of the JVM's and Node's own code. Prefixes, not parts: `com.acme.java.Util`
/// is application code.
const LIBRARY_PREFIXES: [&str; 8] = [
    "java.", "javax.", "jdk.", "kotlin.", "kotlinx.", "sun.", "com.sun.", "node:",
];

/// Whether a frame's file path or module is the application's own code rather than a library's.
pub fn is_in_app(file_or_module: &str) -> bool {
    let path = if file_or_module.contains('\\') {
        Cow::Owned(file_or_module.replace('\\', "/"))
    } else {
        Cow::Borrowed(file_or_module)
    };
    let library = LIBRARY_PARTS
        .iter()
        .any(|part| contains_short(path.as_bytes(), part.as_bytes()))
        || LIBRARY_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix));
    !library
}

/// Whether `haystack` contains `needle`, by direct comparison: for a path and the short
/// library parts, faster than `str::contains`, which sets up a substring searcher per call.
fn contains_short(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    haystack
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == first)
        .any(|(i, _)| haystack[i + 1..].starts_with(rest))
}

/// `Name: value`, bare `Name`, with Java's `Exception in thread "…"`, Node's `Uncaught` and
/// Node's `Error [ERR_CODE]: value` forms.
static EXCEPTION_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^(?:Exception in thread "[^"]*" )?(?:Uncaught )?(?P<kind>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)(?: \[[^\]]*\])?(?::(?:\s+(?P<value>.*))?)?\s*$"#,
    )
    .expect("the exception line pattern is valid")
});

static PY_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>.+?))?\s*$"#)
        .expect("the Python frame pattern is valid")
});

/// Current (`… at src/x.rs:4:5:`, message on the next line) and pre-1.73
/// (`… at 'message', src/x.rs:4:5`) formats.
static RUST_PANIC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^thread '[^']*' panicked at (?:'(?P<message>.*)', )?(?P<file>.+?):(?P<line>\d+):\d+:?\s*$",
    )
    .expect("the Rust panic pattern is valid")
});

/// `   3: api::handlers::show`, or with `RUST_BACKTRACE=full`: `   3:  0x55d1… - api::…::h0123…`.
static RUST_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\d+:\s+(?:0x[0-9a-fA-F]+ - )?(?P<function>.+?)(?:::h[0-9a-f]{16})?\s*$")
        .expect("the Rust frame pattern is valid")
});

static RUST_LOCATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+at (?P<file>.+?):(?P<line>\d+)(?::\d+)?\s*$")
        .expect("the Rust location pattern is valid")
});

static GO_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<kind>panic|fatal error): (?P<value>.*?)(?: \[recovered\])?\s*$")
        .expect("the Go header pattern is valid")
});

static GO_FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z_][^\s(]*(?:\(\*?[^\s()]+\)[^\s(]*)?\(.*\)\s*$")
        .expect("the Go function pattern is valid")
});

static GO_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\t(?P<file>.+?):(?P<line>\d+)(?: \+0x[0-9a-fA-F]+)?\s*$")
        .expect("the Go file pattern is valid")
});

static RUBY_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?P<file>.+?):(?P<line>\d+):in [`'](?P<function>[^'`]*)': (?P<value>.*) \((?P<kind>[A-Z][\w:]*)\)\s*$",
    )
    .expect("the Ruby header pattern is valid")
});

static RUBY_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+from (?P<file>.+?):(?P<line>\d+)(?::in [`'](?P<function>[^'`]*)')?\s*$")
        .expect("the Ruby frame pattern is valid")
});

static AT_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s+at \S").expect("the at-line pattern is valid"));

/// Where the top exception's frames end and a chained exception's begin.
static CHAINED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:Caused by: |Suppressed: |\[cause\]: )")
        .expect("the chained exception pattern is valid")
});

/// `com.foo.Bar.baz(Bar.java:12)`: no space before the parenthesis, unlike Node.
static JAVA_FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*at (?P<qualified>[^\s()]+)\((?P<location>[^()]*)\)(?:\s.*)?$")
        .expect("the Java frame pattern is valid")
});

/// The module layer before the class (`java.base/`, `java.base@17.0.2/`, `app//`). A lambda's
/// hidden class (`App$$Lambda$14/0x0000000800c03000`) is not one: its rest starts with a digit.
static JAVA_LAYER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[\w.$-]*(?:@[\w.+-]*)?/){1,2}(?P<rest>[A-Za-z_$].*)$")
        .expect("the Java module layer pattern is valid")
});

static NODE_LOCATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<file>.+):(?P<line>\d+):\d+$").expect("the Node location pattern is valid")
});

fn text<'h>(captures: &Captures<'h>, name: &str) -> Option<&'h str> {
    captures.name(name).map(|m| m.as_str())
}

fn number(captures: &Captures<'_>, name: &str) -> Option<u32> {
    text(captures, name)?.parse().ok()
}

/// The first line matching `pattern`, with its groups. `may_match` is a cheap test every
/// matching line passes (a literal the pattern requires), so that most lines skip the regex.
fn first_match<'h>(
    lines: &[&'h str],
    may_match: impl Fn(&str) -> bool,
    pattern: &Regex,
) -> Option<(usize, Captures<'h>)> {
    lines
        .iter()
        .enumerate()
        // `is_match` runs on the DFA; captures (slower) only for the line that matches.
        .find(|(_, line)| may_match(line) && pattern.is_match(line))
        .and_then(|(i, line)| pattern.captures(line).map(|c| (i, c)))
}

fn frame(
    file: Option<&str>,
    function: Option<&str>,
    line: Option<u32>,
    module: Option<&str>,
) -> Frame {
    let mut frame = Frame {
        file: file.map(str::to_string),
        function: function.map(str::to_string),
        line,
        module: module.map(str::to_string),
        in_app: false,
    };
    frame.in_app = in_app_of(&frame);
    frame
}

/// Library when the file or the module says so: Java's files are bare `Bar.java` and Go's
/// modules (`github.com/…`) look like anyone's. A frame with neither (a native or builtin
/// frame) is not the application's.
fn in_app_of(frame: &Frame) -> bool {
    let known = [frame.file.as_deref(), frame.module.as_deref()];
    known.iter().any(Option::is_some) && known.iter().flatten().all(|s| is_in_app(s))
}

/// `(kind, value)` of an exception line; a line of another shape is the message of an `Error`.
fn kind_and_value(line: &str) -> (String, String) {
    let line = line.trim();
    match EXCEPTION_LINE.captures(line) {
        Some(c) => (
            text(&c, "kind").unwrap_or_default().to_string(),
            text(&c, "value").unwrap_or_default().trim().to_string(),
        ),
        None => ("Error".to_string(), line.to_string()),
    }
}

/// An exception line that can stand alone: its name ends with Error/Exception/Throwable, so
/// that ordinary `word: text` log lines are not taken for exceptions.
///
/// Gives the `(kind, value)` that [`kind_and_value`] gives for such a line, from the same
/// regex pass.
fn standalone_exception(line: &str) -> Option<(String, String)> {
    // Every header names an Error, Exception or Throwable: most lines skip the regex.
    if !names_a_throwable(line) {
        return None;
    }
    // A match has no leading whitespace (`^` then a name), so trimming the end alone is
    // trimming the line, as `kind_and_value` does.
    let c = EXCEPTION_LINE.captures(line.trim_end())?;
    let kind = text(&c, "kind").unwrap_or_default();
    let name = kind.rsplit('.').next().unwrap_or(kind);
    let standalone = line.starts_with("Exception in thread ")
        || ["Error", "Exception", "Throwable"]
            .iter()
            .any(|suffix| name.ends_with(suffix));
    standalone.then(|| {
        let value = text(&c, "value").unwrap_or_default().trim();
        (kind.to_string(), value.to_string())
    })
}

fn python(lines: &[&str]) -> Option<Exception> {
    // Chains print the propagated exception's traceback last.
    let start = lines
        .iter()
        .rposition(|l| l.trim() == "Traceback (most recent call last):")?;
    let mut frames = Vec::new();
    for line in &lines[start + 1..] {
        if let Some((file, number, function)) = py_frame_parts(line) {
            frames.push(frame(Some(file), function, number.parse().ok(), None));
        } else if !line.trim().is_empty() && !line.starts_with([' ', '\t']) {
            // The first unindented line after the frames names the exception.
            let (kind, value) = kind_and_value(line);
            return Some(Exception {
                kind,
                value,
                frames,
            });
        }
    }
    None
}

fn rust(lines: &[&str]) -> Option<Exception> {
    let (start, header) = first_match(lines, |l| l.starts_with("thread '"), &RUST_PANIC)?;
    let rest = &lines[start + 1..];
    let value = match text(&header, "message") {
        Some(message) => message,
        None => rest
            .first()
            .filter(|l| !l.starts_with("note: ") && l.trim() != "stack backtrace:")
            .map_or("", |l| l.trim()),
    };
    let mut frames = rust_backtrace(rest);
    if frames.is_empty() {
        // Without a backtrace the panic's location is the one frame known.
        let location = frame(text(&header, "file"), None, number(&header, "line"), None);
        frames.push(location);
    }
    Some(Exception {
        kind: "panic".to_string(),
        value: value.to_string(),
        frames,
    })
}

fn rust_backtrace(lines: &[&str]) -> Vec<Frame> {
    let Some(start) = lines.iter().position(|l| l.trim() == "stack backtrace:") else {
        return Vec::new();
    };
    let mut frames: Vec<Frame> = Vec::new();
    for line in &lines[start + 1..] {
        if let Some(c) = RUST_LOCATION.captures(line) {
            if let Some(last) = frames.last_mut() {
                last.file = text(&c, "file").map(str::to_string);
                last.line = number(&c, "line");
                last.in_app = in_app_of(last);
            }
        } else if let Some(c) = RUST_FRAME.captures(line) {
            frames.push(frame(None, text(&c, "function"), None, None));
        } else {
            break;
        }
    }
    frames.reverse();
    frames
}

fn go(lines: &[&str]) -> Option<Exception> {
    let (start, header) = first_match(
        lines,
        |l| l.starts_with("panic: ") || l.starts_with("fatal error: "),
        &GO_HEADER,
    )?;
    Some(Exception {
        kind: text(&header, "kind").unwrap_or("panic").to_string(),
        value: text(&header, "value").unwrap_or_default().to_string(),
        frames: go_frames(&lines[start + 1..]),
    })
}

fn go_frames(lines: &[&str]) -> Vec<Frame> {
    // The first goroutine printed is the one that panicked; the others are bystanders.
    let Some(start) = lines.iter().position(|l| l.starts_with("goroutine ")) else {
        return Vec::new();
    };
    let mut frames: Vec<Frame> = Vec::new();
    for line in &lines[start + 1..] {
        if let Some(c) = GO_FILE.captures(line) {
            if let Some(last) = frames.last_mut() {
                last.file = text(&c, "file").map(str::to_string);
                last.line = number(&c, "line");
                last.in_app = in_app_of(last);
            }
        } else if let Some(creator) = line.strip_prefix("created by ") {
            let name = creator.split(" in goroutine ").next().unwrap_or(creator);
            frames.push(go_function(name.trim_end()));
        } else if GO_FUNCTION.is_match(line) {
            frames.push(go_function(strip_go_arguments(line.trim_end())));
        } else {
            break;
        }
    }
    frames.reverse();
    frames
}

/// `main.(*Server).handle(0x0, {0x5f3d20, 0xc00001c0e0})` → `main.(*Server).handle`.
fn strip_go_arguments(call: &str) -> &str {
    let mut depth = 0usize;
    for (i, c) in call.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &call[..i];
                }
            }
            _ => {}
        }
    }
    call
}

/// A frame for a Go function name: the package path ends at the first dot after the last
/// slash (`github.com/acme/api/store.(*Cache).Get`).
fn go_function(name: &str) -> Frame {
    let package_start = name.rfind('/').map_or(0, |i| i + 1);
    match name[package_start..].find('.') {
        Some(dot) => {
            let split = package_start + dot;
            frame(None, Some(&name[split + 1..]), None, Some(&name[..split]))
        }
        None => frame(None, Some(name), None, None),
    }
}

fn ruby(lines: &[&str]) -> Option<Exception> {
    let (start, header) = first_match(lines, |l| l.contains(":in "), &RUBY_HEADER)?;
    // The header carries the innermost frame; `from` lines go outwards.
    let mut frames = vec![frame(
        text(&header, "file"),
        text(&header, "function"),
        number(&header, "line"),
        None,
    )];
    for line in &lines[start + 1..] {
        if let Some(c) = RUBY_FROM.captures(line) {
            let file = text(&c, "file");
            frames.push(frame(file, text(&c, "function"), number(&c, "line"), None));
        } else if !line.trim_start().starts_with("... ") {
            break;
        }
    }
    frames.reverse();
    Some(Exception {
        kind: text(&header, "kind").unwrap_or_default().to_string(),
        value: text(&header, "value").unwrap_or_default().to_string(),
        frames,
    })
}

/// Java, Kotlin and Node: an exception line, then `at …` frames.
fn at_frames(lines: &[&str]) -> Option<Exception> {
    // `AT_LINE` needs leading whitespace: most lines skip the regex.
    let first = lines
        .iter()
        .position(|l| l.starts_with(char::is_whitespace) && AT_LINE.is_match(l))?;
    // A log message may come before the exception line (logback's `ERROR … - msg`).
    let (kind, value) = match lines[..first].iter().find_map(|l| standalone_exception(l)) {
        Some(header) => header,
        None => kind_and_value(lines.get(first.checked_sub(1)?)?),
    };
    let mut frames: Vec<Frame> = lines[first..]
        .iter()
        .take_while(|l| !CHAINED.is_match(l))
        .filter_map(|l| java_frame(l).or_else(|| node_frame(l)))
        .collect();
    frames.reverse();
    Some(Exception {
        kind,
        value,
        frames,
    })
}

fn java_frame(line: &str) -> Option<Frame> {
    let (qualified, location) = java_frame_parts(line)?;
    // The layer pattern needs a `/`.
    let qualified = qualified
        .contains('/')
        .then(|| JAVA_LAYER.captures(qualified))
        .flatten()
        .and_then(|layer| text(&layer, "rest"))
        .unwrap_or(qualified);
    let (module, function) = match qualified.rsplit_once('.') {
        Some((module, function)) => (Some(module), function),
        None => (None, qualified),
    };
    let (file, line) = match location.rsplit_once(':') {
        Some((file, line)) if line.parse::<u32>().is_ok() => (Some(file), line.parse().ok()),
        _ if ["", "Native Method", "Unknown Source"].contains(&location) => (None, None),
        _ => (Some(location), None),
    };
    Some(frame(file, Some(function), line, module))
}

/// `(qualified, location)` of a Java frame line: [`JAVA_FRAME`]'s groups. ASCII lines are
/// read by hand (the same grammar, where `\s` is ASCII whitespace); others go to the regex.
fn java_frame_parts(line: &str) -> Option<(&str, &str)> {
    if !line.is_ascii() {
        let c = JAVA_FRAME.captures(line)?;
        return Some((
            text(&c, "qualified")?,
            text(&c, "location").unwrap_or_default(),
        ));
    }
    // ^\s*at (?P<qualified>[^\s()]+)\((?P<location>[^()]*)\)(?:\s.*)?$
    let rest = line.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let rest = rest.strip_prefix("at ")?;
    let qualified_end = rest.find(|c: char| is_ascii_space(c) || c == '(' || c == ')')?;
    let (qualified, rest) = rest.split_at(qualified_end);
    let rest = rest.strip_prefix('(').filter(|_| !qualified.is_empty())?;
    let location_end = rest.find(['(', ')'])?;
    let (location, rest) = rest.split_at(location_end);
    let after = rest.strip_prefix(')')?;
    let tail_ok = match after.chars().next() {
        None => true,
        Some(space) => is_ascii_space(space) && !after[1..].contains('\n'),
    };
    tail_ok.then_some((qualified, location))
}

/// `(file, line, function)` of a Python frame line: [`PY_FRAME`]'s groups. ASCII lines are
/// read by hand (the same grammar, where `\s` is ASCII whitespace); others go to the regex.
fn py_frame_parts(line: &str) -> Option<(&str, &str, Option<&str>)> {
    if !line.is_ascii() {
        let c = PY_FRAME.captures(line)?;
        return Some((text(&c, "file")?, text(&c, "line")?, text(&c, "function")));
    }
    // ^\s*File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>.+?))?\s*$
    let rest = line.trim_start_matches(is_ascii_space);
    let rest = rest.strip_prefix("File \"")?;
    let (file, rest) = rest.split_at(rest.find('"')?);
    let rest = rest
        .strip_prefix("\", line ")
        .filter(|_| !file.is_empty())?;
    let digits_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (number, rest) = rest.split_at(digits_end);
    if number.is_empty() {
        return None;
    }
    if let Some(tail) = rest.strip_prefix(", in ") {
        // `.+?` then `\s*$`: the shortest function (one character at least, no newline) after
        // which only whitespace is left.
        let trimmed = tail.trim_end_matches(is_ascii_space);
        let function = if trimmed.is_empty() {
            tail.get(..1).filter(|f| *f != "\n")
        } else {
            Some(trimmed).filter(|f| !f.contains('\n'))
        };
        if function.is_some() {
            return Some((file, number, function));
        }
    }
    rest.chars()
        .all(is_ascii_space)
        .then_some((file, number, None))
}

/// `\s` on ASCII: space, \t, \n, \x0b, \x0c, \r.
fn is_ascii_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// `(file, line)` of a Node location `file:line:column`: [`NODE_LOCATION`]'s groups, read by
/// hand on ASCII text (where `\d` is `[0-9]`).
fn node_location(location: &str) -> Option<(&str, Option<u32>)> {
    if !location.is_ascii() {
        let c = NODE_LOCATION.captures(location)?;
        return Some((text(&c, "file")?, number(&c, "line")));
    }
    // ^(?P<file>.+):(?P<line>\d+):\d+$ — the file as long as possible.
    let (rest, _column) = split_trailing_digits(location)?;
    let (rest, line) = split_trailing_digits(rest.strip_suffix(':')?)?;
    let file = rest.strip_suffix(':')?;
    (!file.is_empty() && !file.contains('\n')).then(|| (file, line.parse().ok()))
}

/// `text` split before its trailing ASCII digits; `None` when it ends with none.
fn split_trailing_digits(text: &str) -> Option<(&str, &str)> {
    let start = text.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    (start < text.len()).then(|| text.split_at(start))
}

fn node_frame(line: &str) -> Option<Frame> {
    let body = line.trim().strip_prefix("at ")?;
    // A trailing brace opens the error's own properties; `async` marks an await point.
    let body = body.strip_suffix('{').unwrap_or(body).trim_end();
    let body = body.strip_prefix("async ").unwrap_or(body);
    let (function, location) = match body.strip_suffix(')').and_then(|b| b.split_once(" (")) {
        Some((function, location)) => (Some(function), location),
        None => (None, body),
    };
    let (file, line) = match node_location(location) {
        Some((file, line)) => (Some(file), line),
        // Builtins: `<anonymous>`, `native`, `index 0` (inside `Promise.all`).
        None if location == "<anonymous>" || location == "native" => (None, None),
        None if location.starts_with("index ") => (None, None),
        None => (Some(location), None),
    };
    Some(frame(file, function, line, None))
}

/// Whether `line` contains `Error`, `Exception` or `Throwable`: one SIMD search for their
/// first letters rather than a search per name.
fn names_a_throwable(line: &str) -> bool {
    let b = line.as_bytes();
    memchr::memchr2_iter(b'E', b'T', b).any(|at| {
        let rest = &b[at + 1..];
        if b[at] == b'E' {
            rest.starts_with(b"rror") || rest.starts_with(b"xception")
        } else {
            rest.starts_with(b"hrowable")
        }
    })
}

fn lone_exception_line(lines: &[&str]) -> Option<Exception> {
    let line = lines.iter().find(|l| !l.trim().is_empty())?;
    let (kind, value) = standalone_exception(line)?;
    Some(Exception {
        kind,
        value,
        frames: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::multiline::fixtures;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn throwable_names_are_found_as_contains_finds_them(
            line in prop::collection::vec(
                prop_oneof![
                    Just("Error".to_string()),
                    Just("Exception".to_string()),
                    Just("Throwable".to_string()),
                    Just("Err".to_string()),
                    Just("Exc".to_string()),
                    Just("Thr".to_string()),
                    "[ETa-z: .]{1,4}",
                    "\\PC{1,2}",
                ],
                0..8,
            )
            .prop_map(|v| v.concat())
        ) {
            let expected = ["Error", "Exception", "Throwable"].iter().any(|n| line.contains(n));
            prop_assert_eq!(names_a_throwable(&line), expected, "{:?}", line);
        }
    }

    /// Pieces of Java and Node frame lines.
    fn frame_shaped() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("at ".to_string()),
            Just("    at ".to_string()),
            Just("\tat ".to_string()),
            "[a-zA-Z.$/_]{1,8}",
            "[0-9]{1,4}",
            "[ ():\t\n\x0b]{1,2}",
            Just("Native Method".to_string()),
            Just(".java:".to_string()),
            Just("é".to_string()),
            "\\PC{1,2}",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    /// Pieces of Python frame lines.
    fn python_frame_shaped() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("  File \"".to_string()),
            Just("File \"".to_string()),
            Just("\", line ".to_string()),
            Just(", in ".to_string()),
            Just("\"".to_string()),
            "[a-z/._<>]{1,8}",
            "[0-9]{1,4}",
            "[ \t\n\x0b]{1,2}",
            Just("é".to_string()),
            "\\PC{1,2}",
        ];
        prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn java_frames_read_by_hand_as_the_regex_reads_them(line in frame_shaped()) {
            let by_regex = JAVA_FRAME.captures(&line).and_then(|c| {
                Some((text(&c, "qualified")?, text(&c, "location").unwrap_or_default()))
            });
            prop_assert_eq!(java_frame_parts(&line), by_regex, "{:?}", line);
        }

        #[test]
        fn python_frames_read_by_hand_as_the_regex_reads_them(line in python_frame_shaped()) {
            let by_regex = PY_FRAME.captures(&line).and_then(|c| {
                Some((text(&c, "file")?, text(&c, "line")?, text(&c, "function")))
            });
            prop_assert_eq!(py_frame_parts(&line), by_regex, "{:?}", line);
        }

        #[test]
        fn node_locations_read_by_hand_as_the_regex_reads_them(location in frame_shaped()) {
            let by_regex = NODE_LOCATION
                .captures(&location)
                .and_then(|c| Some((text(&c, "file")?, number(&c, "line"))));
            prop_assert_eq!(node_location(&location), by_regex, "{:?}", location);
        }
    }

    #[test]
    fn short_substrings() {
        for (haystack, needle, found) in [
            ("/usr/local/lib/python3.12/x.py", "/usr/local/lib", true),
            ("/app/node_modules/x.js", "node_modules", true),
            ("/app/x.js", "node_modules", false),
            ("node", "node_modules", false),
            ("abc", "", true),
            ("", "a", false),
            ("aab", "ab", true),
        ] {
            assert_eq!(
                contains_short(haystack.as_bytes(), needle.as_bytes()),
                found,
                "{haystack} {needle}"
            );
        }
    }

    #[test]
    fn frame_lines_by_hand() {
        for (line, parts) in [
            (
                "\tat com.acme.Orders.pay(Orders.java:88)",
                Some(("com.acme.Orders.pay", "Orders.java:88")),
            ),
            (
                "  at a.B.c(Native Method) ~[x.jar:1]",
                Some(("a.B.c", "Native Method")),
            ),
            ("at a.B.c(x)y", None),
            ("at (x)", None),
            ("at a b(x)", None),
            ("at a.b(x(y))", None),
        ] {
            assert_eq!(java_frame_parts(line), parts, "{line}");
        }
        for (line, parts) in [
            (
                "  File \"/app/cart.py\", line 12, in add_item",
                Some(("/app/cart.py", "12", Some("add_item"))),
            ),
            ("File \"a.py\", line 3", Some(("a.py", "3", None))),
            (
                "File \"a.py\", line 3, in f  ",
                Some(("a.py", "3", Some("f"))),
            ),
            (
                "File \"a.py\", line 3, in  ",
                Some(("a.py", "3", Some(" "))),
            ),
            ("File \"a.py\", line 3, in ", None),
            ("File \"\", line 3", None),
            ("File \"a.py\", line x", None),
        ] {
            assert_eq!(py_frame_parts(line), parts, "{line}");
        }
        for (location, parts) in [
            ("/app/a.js:42:17", Some(("/app/a.js", Some(42)))),
            ("a:1:2:3", Some(("a:1", Some(2)))),
            (":1:2", None),
            ("a.js:42", None),
            ("node:internal/x:95:5", Some(("node:internal/x", Some(95)))),
        ] {
            assert_eq!(node_location(location), parts, "{location}");
        }
    }

    fn f(
        file: Option<&str>,
        function: Option<&str>,
        line: Option<u32>,
        module: Option<&str>,
        in_app: bool,
    ) -> Frame {
        Frame {
            file: file.map(str::to_string),
            function: function.map(str::to_string),
            line,
            module: module.map(str::to_string),
            in_app,
        }
    }

    fn exception(kind: &str, value: &str, frames: Vec<Frame>) -> Option<Exception> {
        Some(Exception {
            kind: kind.to_string(),
            value: value.to_string(),
            frames,
        })
    }

    const RUSTC: &str = "/rustc/82e1608dfa6e0b5569232559e3d385fea5a93112/library";

    #[test]
    fn extracts_every_language() {
        for (name, text, expected) in [
            (
                "python",
                fixtures::PYTHON,
                exception(
                    "ValueError",
                    "bad amount -5",
                    vec![
                        f(Some("/app/main.py"), Some("<module>"), Some(12), None, true),
                        f(Some("/app/main.py"), Some("main"), Some(8), None, true),
                        f(
                            Some("/usr/local/lib/python3.12/site-packages/stripe/api.py"),
                            Some("charge"),
                            Some(41),
                            None,
                            false,
                        ),
                    ],
                ),
            ),
            (
                "python during handling: the last exception printed",
                fixtures::PYTHON_DURING_HANDLING,
                exception(
                    "LookupError",
                    "user_42 not cached",
                    vec![
                        f(Some("/app/worker.py"), Some("<module>"), Some(11), None, true),
                        f(Some("/app/worker.py"), Some("load"), Some(7), None, true),
                    ],
                ),
            ),
            (
                "python direct cause: the last exception printed",
                fixtures::PYTHON_DIRECT_CAUSE,
                exception(
                    "jobs.sync.SyncError",
                    "upstream down",
                    vec![
                        f(
                            Some("<frozen runpy>"),
                            Some("_run_module_as_main"),
                            Some(198),
                            None,
                            false,
                        ),
                        f(Some("/app/jobs/sync.py"), Some("run"), Some(30), None, true),
                    ],
                ),
            ),
            (
                "java: the first exception with its own frames",
                fixtures::JAVA,
                exception(
                    "java.lang.IllegalStateException",
                    "Failed to start order service",
                    vec![
                        f(Some("Main.java"), Some("main"), Some(12), Some("com.shop.Main"), true),
                        f(
                            Some("OrderService.java"),
                            Some("start"),
                            Some(42),
                            Some("com.shop.orders.OrderService"),
                            true,
                        ),
                    ],
                ),
            ),
            (
                "java after a logback line",
                fixtures::JAVA_LOGBACK,
                exception(
                    "java.lang.NullPointerException",
                    r#"Cannot invoke "String.length()" because "name" is null"#,
                    vec![
                        f(
                            Some("Thread.java"),
                            Some("run"),
                            Some(1583),
                            Some("java.lang.Thread"),
                            false,
                        ),
                        f(
                            Some("FrameworkServlet.java"),
                            Some("service"),
                            Some(885),
                            Some("org.springframework.web.servlet.FrameworkServlet"),
                            true,
                        ),
                        f(
                            Some("DirectMethodHandleAccessor.java"),
                            Some("invoke"),
                            Some(103),
                            Some("jdk.internal.reflect.DirectMethodHandleAccessor"),
                            false,
                        ),
                        f(
                            Some("UserController.java"),
                            Some("show"),
                            Some(27),
                            Some("com.shop.web.UserController"),
                            true,
                        ),
                    ],
                ),
            ),
            (
                "kotlin",
                fixtures::KOTLIN,
                exception(
                    "kotlin.UninitializedPropertyAccessException",
                    "lateinit property repo has not been initialized",
                    vec![
                        f(Some("App.kt"), Some("main"), None, Some("com.example.AppKt"), true),
                        f(
                            Some("DispatchedTask.kt"),
                            Some("run"),
                            Some(108),
                            Some("kotlinx.coroutines.DispatchedTask"),
                            false,
                        ),
                        f(
                            Some("UserService.kt"),
                            Some("find"),
                            Some(19),
                            Some("com.example.UserService"),
                            true,
                        ),
                    ],
                ),
            ),
            (
                "node",
                fixtures::NODE,
                exception(
                    "TypeError",
                    "Cannot read properties of undefined (reading 'id')",
                    vec![
                        f(
                            Some("node:internal/process/task_queues"),
                            Some("process.processTicksAndRejections"),
                            Some(95),
                            None,
                            false,
                        ),
                        f(Some("/app/src/server.js"), None, Some(40), None, true),
                        f(None, Some("Promise.all"), None, None, false),
                        f(Some("/app/src/users.js"), Some("getUser"), Some(14), None, true),
                    ],
                ),
            ),
            (
                "node uncaught",
                fixtures::NODE_UNCAUGHT,
                exception(
                    "Error",
                    "missing env DATABASE_URL",
                    vec![
                        f(Some("node:internal/main/run_main_module"), None, Some(23), None, false),
                        f(
                            Some("node:internal/modules/cjs/loader"),
                            Some("Module._compile"),
                            Some(1256),
                            None,
                            false,
                        ),
                        f(Some("/app/index.js"), Some("Object.<anonymous>"), Some(12), None, true),
                        f(Some("/app/index.js"), Some("requireEnv"), Some(8), None, true),
                    ],
                ),
            ),
            (
                "node with properties",
                fixtures::NODE_PROPS,
                exception(
                    "Error",
                    "connect ECONNREFUSED 127.0.0.1:5432",
                    vec![f(
                        Some("node:net"),
                        Some("TCPConnectWrap.afterConnect [as oncomplete]"),
                        Some(1555),
                        None,
                        false,
                    )],
                ),
            ),
            (
                "go",
                fixtures::GO,
                exception(
                    "panic",
                    "runtime error: invalid memory address or nil pointer dereference",
                    vec![
                        f(Some("/app/main.go"), Some("main"), Some(14), Some("main"), true),
                        f(
                            Some("/app/server.go"),
                            Some("(*Server).handle"),
                            Some(27),
                            Some("main"),
                            true,
                        ),
                    ],
                ),
            ),
            (
                "go: only the panicking goroutine",
                fixtures::GO_GOROUTINES,
                exception(
                    "panic",
                    "runtime error: index out of range [5] with length 3",
                    vec![
                        f(
                            Some("/usr/local/go/src/net/http/server.go"),
                            Some("(*Server).Serve"),
                            Some(3086),
                            Some("net/http"),
                            false,
                        ),
                        f(
                            Some("/root/go/pkg/mod/github.com/go-chi/chi/v5@v5.0.10/mux.go"),
                            Some("(*Mux).ServeHTTP"),
                            Some(90),
                            Some("github.com/go-chi/chi/v5"),
                            false,
                        ),
                        f(
                            Some("/app/internal/store/cache.go"),
                            Some("(*Cache).Get"),
                            Some(42),
                            Some("github.com/acme/api/internal/store"),
                            true,
                        ),
                    ],
                ),
            ),
            (
                "rust: the location is the one frame",
                fixtures::RUST,
                exception(
                    "panic",
                    "called `Option::unwrap()` on a `None` value",
                    vec![f(Some("src/main.rs"), None, Some(4), None, true)],
                ),
            ),
            (
                "rust with a backtrace",
                fixtures::RUST_BACKTRACE,
                exception(
                    "panic",
                    "index out of bounds: the len is 3 but the index is 7",
                    vec![
                        f(None, Some("__libc_start_main"), None, None, false),
                        f(
                            Some("/usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.35.1/src/runtime/task/core.rs"),
                            Some("tokio::runtime::task::core::Core<T,S>::poll"),
                            Some(328),
                            None,
                            false,
                        ),
                        f(Some("./src/handlers.rs"), Some("api::handlers::show"), Some(88), None, true),
                        f(
                            Some(&format!("{RUSTC}/core/src/panicking.rs")),
                            Some("core::panicking::panic_fmt"),
                            Some(72),
                            None,
                            false,
                        ),
                        f(
                            Some(&format!("{RUSTC}/std/src/panicking.rs")),
                            Some("rust_begin_unwind"),
                            Some(645),
                            None,
                            false,
                        ),
                    ],
                ),
            ),
            (
                "rust assert: the message's first line",
                fixtures::RUST_ASSERT,
                exception(
                    "panic",
                    "assertion `left == right` failed",
                    vec![f(Some("src/lib.rs"), None, Some(10), None, true)],
                ),
            ),
            (
                "rust before 1.73",
                fixtures::RUST_OLD,
                exception(
                    "panic",
                    "called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }",
                    vec![f(Some("src/main.rs"), None, Some(3), None, true)],
                ),
            ),
            (
                "ruby 3.4",
                fixtures::RUBY,
                exception(
                    "ZeroDivisionError",
                    "divided by 0",
                    vec![
                        f(Some("app.rb"), Some("<main>"), Some(7), None, true),
                        f(Some("app.rb"), Some("Object#divide"), Some(3), None, true),
                        f(Some("app.rb"), Some("Integer#/"), Some(3), None, true),
                    ],
                ),
            ),
            (
                "ruby before 3.4",
                fixtures::RUBY_OLD,
                exception(
                    "ActiveRecord::RecordNotFound",
                    "Couldn't find User with 'id'=42",
                    vec![
                        f(Some("/app/bin/report"), Some("<main>"), Some(5), None, true),
                        f(Some("/app/app/services/report.rb"), Some("build"), Some(12), None, true),
                        f(
                            Some("/usr/local/bundle/gems/activerecord-7.1.2/lib/active_record/core.rb"),
                            Some("find"),
                            Some(253),
                            None,
                            false,
                        ),
                    ],
                ),
            ),
        ] {
            assert_eq!(extract(text), expected, "{name}");
        }
    }

    #[test]
    fn every_fixture_has_an_exception_with_frames() {
        for (name, text) in fixtures::ALL {
            let exception = extract(text).unwrap_or_default();
            assert!(
                !exception.kind.is_empty() && !exception.frames.is_empty(),
                "{name}: {exception:?}"
            );
        }
    }

    #[test]
    fn lines_without_frames() {
        for (name, text, expected) in [
            ("empty", "", None),
            ("ordinary line", "GET /health 200", None),
            (
                "level word is not an exception",
                "ERROR: database down",
                None,
            ),
            ("name: text log line", "HikariPool-1: Starting", None),
            (
                "python exception line",
                "KeyError: 'user_42'",
                exception("KeyError", "'user_42'", vec![]),
            ),
            (
                "java exception line",
                "java.lang.OutOfMemoryError: Java heap space",
                exception("java.lang.OutOfMemoryError", "Java heap space", vec![]),
            ),
            (
                "node error code",
                "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x'",
                exception("Error", "Cannot find package 'x'", vec![]),
            ),
            (
                "bare java exception",
                "java.lang.StackOverflowError",
                exception("java.lang.StackOverflowError", "", vec![]),
            ),
            (
                "go panic without goroutines",
                "panic: boom [recovered]",
                exception("panic", "boom", vec![]),
            ),
        ] {
            assert_eq!(extract(text), expected, "{name}");
        }
    }

    #[test]
    fn java_module_layers_and_lambdas() {
        for (line, module, function, file, number) in [
            (
                "\tat app//com.foo.Main.main(Main.java:3)",
                "com.foo.Main",
                "main",
                Some("Main.java"),
                Some(3),
            ),
            (
                "\tat java.base@17.0.2/java.lang.Thread.run(Thread.java:833)",
                "java.lang.Thread",
                "run",
                Some("Thread.java"),
                Some(833),
            ),
            (
                "\tat com.foo.App$$Lambda$14/0x0000000800c03000.run(Unknown Source)",
                "com.foo.App$$Lambda$14/0x0000000800c03000",
                "run",
                None,
                None,
            ),
            (
                "\tat jdk.internal.misc.Unsafe.park(Native Method)",
                "jdk.internal.misc.Unsafe",
                "park",
                None,
                None,
            ),
        ] {
            let frame = java_frame(line).unwrap_or_default();
            assert_eq!(
                (
                    frame.module.as_deref(),
                    frame.function.as_deref(),
                    frame.file.as_deref(),
                    frame.line
                ),
                (Some(module), Some(function), file, number),
                "{line}"
            );
        }
    }

    #[test]
    fn in_app_table() {
        for (path, in_app) in [
            ("/app/main.py", true),
            (
                "/usr/local/lib/python3.12/site-packages/flask/app.py",
                false,
            ),
            ("/usr/lib/python3/dist-packages/requests/models.py", false),
            ("/usr/lib/python3.11/json/decoder.py", false),
            ("<frozen runpy>", false),
            ("<stdin>", true),
            ("/app/node_modules/express/lib/router/index.js", false),
            ("node:internal/process/task_queues", false),
            ("node:net", false),
            ("/app/src/server.js", true),
            (
                "/home/me/.cargo/registry/src/index.crates.io-6f17/tokio-1.35.1/src/lib.rs",
                false,
            ),
            (
                "/usr/local/cargo/registry/src/index.crates.io-6f17/axum-0.7.0/src/lib.rs",
                false,
            ),
            ("/rustc/82e1608dfa6e/library/core/src/option.rs", false),
            ("library/std/src/panicking.rs", false),
            ("./src/handlers.rs", true),
            ("src/main.rs", true),
            ("java.lang.Thread", false),
            ("javax.servlet.http.HttpServlet", false),
            ("jdk.internal.reflect.DirectMethodHandleAccessor", false),
            ("kotlin.collections.CollectionsKt", false),
            ("kotlinx.coroutines.DispatchedTask", false),
            ("sun.nio.ch.SocketChannelImpl", false),
            ("com.shop.orders.OrderService", true),
            ("com.acme.java.Util", true),
            (
                "/app/vendor/bundle/ruby/3.2.0/gems/rack-3.0.8/lib/rack.rb",
                false,
            ),
            (
                "/usr/local/bundle/gems/activerecord-7.1.2/lib/active_record/core.rb",
                false,
            ),
            ("<internal:kernel>", false),
            ("/app/app/models/user.rb", true),
            ("/usr/local/go/src/runtime/panic.go", false),
            ("/go/src/runtime/proc.go", false),
            (
                "/root/go/pkg/mod/github.com/go-chi/chi/v5@v5.0.10/mux.go",
                false,
            ),
            ("/app/internal/store/cache.go", true),
            (
                r"C:\app\venv\Lib\site-packages\django\core\handlers.py",
                false,
            ),
            (r"C:\app\main.py", true),
        ] {
            assert_eq!(is_in_app(path), in_app, "{path}");
        }
    }
}
