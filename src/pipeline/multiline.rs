//! Multi-line assembly: joins the lines of one stack trace back into one event.
//!
//! Log platforms (Railway among them) deliver a stack trace as many separate log lines. An
//! [`Assembler`] receives the lines of ONE stream — keep one per service + deployment, since
//! the lines of two processes interleave — and emits each trace as one [`Assembled`] event and
//! every other line as an event of its own. It knows the traces of Python, Java/Kotlin, Node,
//! Go, Rust and Ruby.
//!
//! Whether a line joins the pending event is decided by the pure function `continues` from a
//! small `Mode` (which trace, and where in it), so every rule sits in one table-tested place.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, Utc};
use regex::Regex;

use super::parse::level_of_text;
use crate::model::Level;

/// Bounds on one assembled event, so that a flood of lines cannot hold memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerConfig {
    /// Most lines in one event: a longer trace is cut into events of at most this many lines.
    pub max_lines: usize,
    /// How long after an event's first line a continuation may still join it.
    pub window: Duration,
    /// How long a lone warning or error line waits for a trace to follow it (a logger writes
    /// the message and its trace at once, so this can be short: the line is not held back).
    pub message_window: Duration,
}

impl Default for AssemblerConfig {
    /// 200 lines (room for deep Java traces) and 2 seconds (a crash prints its trace at once).
    fn default() -> Self {
        AssemblerConfig {
            max_lines: 200,
            window: Duration::seconds(2),
            message_window: Duration::milliseconds(500),
        }
    }
}

/// One complete event: a single log line or a whole stack trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assembled {
    /// Timestamp of the event's first line.
    pub first_line_timestamp: DateTime<Utc>,
    /// The lines joined with `\n`, without leading or trailing blank lines.
    pub text: String,
    /// Number of lines in `text`.
    pub line_count: usize,
    /// Which line pushed to the assembler opened the event (0 for the first line ever
    /// pushed), so a caller can tell which of its lines each event started with.
    pub first_line: u64,
}

/// Joins the lines of one stream into events; see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Assembler {
    config: AssemblerConfig,
    pending: Option<Pending>,
    /// Lines pushed so far.
    pushed: u64,
}

/// The event being assembled.
#[derive(Debug, Clone)]
struct Pending {
    first_line_timestamp: DateTime<Utc>,
    first_line: u64,
    lines: Vec<String>,
    mode: Mode,
}

impl Assembler {
    /// An assembler with the given bounds.
    pub fn new(config: AssemblerConfig) -> Assembler {
        Assembler {
            config,
            pending: None,
            pushed: 0,
        }
    }

    /// Adds the stream's next line and returns the events it completes, oldest first (at most
    /// two: the pending event and this line).
    ///
    /// An ordinary line comes back at once. A line that starts or continues a trace (or an
    /// error line a trace may follow) is held until a line that does not continue it arrives,
    /// or until [`Assembler::flush_expired`] or [`Assembler::finish`]. Blank lines that
    /// continue nothing are dropped.
    pub fn push(&mut self, timestamp: DateTime<Utc>, line: &str) -> Vec<Assembled> {
        let line = line.trim_end_matches(['\r', '\n']);
        self.pushed += 1;
        let mut done = Vec::new();
        match self.continuation(timestamp, line) {
            Some(mode) if self.has_room() => self.append(line, mode, &mut done),
            // The rest of an over-long trace goes on in the same mode, so it still holds together.
            Some(mode) => {
                done.extend(self.take());
                self.open(timestamp, line, mode, &mut done);
            }
            None => {
                done.extend(self.take());
                if !line.trim().is_empty() {
                    self.open(timestamp, line, start_mode(line), &mut done);
                }
            }
        }
        done
    }

    /// Emits the pending event if its window has passed at `now` (on the clock of the line
    /// timestamps): no line can join it any more. Call it periodically on an idle stream.
    pub fn flush_expired(&mut self, now: DateTime<Utc>) -> Option<Assembled> {
        let expired = self
            .pending
            .as_ref()
            .is_some_and(|p| now - p.first_line_timestamp > self.window_of(p));
        if expired {
            self.take()
        } else {
            None
        }
    }

    /// When the pending event expires (see [`Assembler::flush_expired`]); `None` when nothing is pending.
    pub fn deadline(&self) -> Option<DateTime<Utc>> {
        let pending = self.pending.as_ref()?;
        pending
            .first_line_timestamp
            .checked_add_signed(self.window_of(pending))
    }

    /// Which pushed line opened the pending event (see [`Assembled::first_line`]); `None`
    /// when nothing is pending. Every line pushed before it belongs to an emitted event.
    pub fn pending_first_line(&self) -> Option<u64> {
        self.pending.as_ref().map(|p| p.first_line)
    }

    /// Emits the pending event at the end of the input.
    pub fn finish(&mut self) -> Option<Assembled> {
        self.take()
    }

    /// The mode the pending event moves to if `line` continues it, in time.
    fn continuation(&self, timestamp: DateTime<Utc>, line: &str) -> Option<Mode> {
        let pending = self.pending.as_ref()?;
        if timestamp - pending.first_line_timestamp > self.window_of(pending) {
            return None;
        }
        continues(pending.mode, line)
    }

    /// How long `pending` stays open: a lone message line less long than a trace.
    fn window_of(&self, pending: &Pending) -> Duration {
        if pending.mode == Mode::Message {
            self.config.message_window.min(self.config.window)
        } else {
            self.config.window
        }
    }

    fn has_room(&self) -> bool {
        self.pending
            .as_ref()
            .is_some_and(|p| p.lines.len() < self.config.max_lines.max(1))
    }

    fn append(&mut self, line: &str, mode: Mode, done: &mut Vec<Assembled>) {
        if let Some(pending) = &mut self.pending {
            pending.lines.push(line.to_string());
            pending.mode = mode;
        }
        if mode == Mode::Closed {
            done.extend(self.take());
        }
    }

    fn open(
        &mut self,
        timestamp: DateTime<Utc>,
        line: &str,
        mode: Mode,
        done: &mut Vec<Assembled>,
    ) {
        self.pending = Some(Pending {
            first_line_timestamp: timestamp,
            first_line: self.pushed - 1,
            lines: vec![line.to_string()],
            mode,
        });
        // Nothing can join a closed event: holding it would only delay it.
        if mode == Mode::Closed {
            done.extend(self.take());
        }
    }

    fn take(&mut self) -> Option<Assembled> {
        let pending = self.pending.take()?;
        let not_blank = |l: &String| !l.trim().is_empty();
        // Blank lines are kept tentatively (a Python chain or Go's goroutines may follow them).
        let start = pending.lines.iter().position(not_blank)?;
        let end = pending.lines.iter().rposition(not_blank)? + 1;
        let kept = &pending.lines[start..end];
        Some(Assembled {
            first_line_timestamp: pending.first_line_timestamp,
            text: kept.join("\n"),
            line_count: kept.len(),
            first_line: pending.first_line,
        })
    }
}

/// Where in which kind of trace the pending event is: what may follow its last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Complete: nothing continues it (an ordinary line, or a trace's final line).
    Closed,
    /// A warning or error line that is not a trace: a trace header right after it is its trace.
    Message,
    /// Python, inside a traceback before the exception line.
    PyFrames,
    /// Python, after the exception line: indented message lines or a blank line may follow.
    PyException,
    /// Python, blank line(s) after the exception: only a chain marker continues.
    PyBlank,
    /// Python, after a chain marker: blank lines, then the next traceback.
    PyChain,
    /// Java, Kotlin and Node: `at …` frames, `Caused by:`, `... 23 more`.
    AtFrames,
    /// Node: an error's own properties (`{ code: 'E…' }`) printed after its last frame.
    NodeProps,
    /// Java/Node, blank line(s) after the frames: only Node's `Node.js v20…` trailer continues.
    AtBlank,
    /// Node, `/app/index.js:3` before an uncaught error: the source line follows.
    NodeSource,
    /// Node, after the source line: the caret line follows.
    NodeCode,
    /// Node, after the caret: blank lines, then the error line.
    NodeCaret,
    /// Go panic: blank lines, goroutine headers, function / file line pairs.
    Go,
    /// Rust, current format: the header ends with `:` and the message is on the next line.
    RustMessage,
    /// Rust, after the message: indented message lines, notes or a backtrace.
    RustNotes,
    /// Rust, inside `stack backtrace:`.
    RustBacktrace,
    /// Ruby: `from …` lines.
    Ruby,
}

static PY_TRACEBACK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:\+\s*)?(?:Exception Group )?Traceback \(most recent call last\):\s*$")
        .expect("the Python traceback pattern is valid")
});

/// `ValueError: msg`, `requests.exceptions.HTTPError: 503 …`, bare `KeyboardInterrupt`.
static PY_EXCEPTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z_][\w.]*(?::\s.*|:)?\s*$").expect("the Python exception pattern is valid")
});

/// A Java/Kotlin/Node exception line that may start a trace. The name must end with
/// Error/Exception/Throwable so that ordinary `name: text` log lines do not.
static EXCEPTION_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^(?:Exception in thread "[^"]*" \S|(?:Uncaught )?(?:[A-Za-z_$][\w$]*\.)*(?:[A-Za-z_$][\w$]*)?(?:Error|Exception|Throwable)(?: \[[^\]]*\])?(?::\s.*|:)?\s*$)"#,
    )
    .expect("the exception header pattern is valid")
});

/// `    at f (file.js:1:2)`, `\tat com.foo.Bar.baz(Bar.java:12)`, also Rust's `at /path:1:2`.
static AT_FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s+at \S").expect("the at-frame pattern is valid"));

/// Java's elided frames and chained exceptions.
static AT_MORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:\.\.\. \d+ (?:more|common frames omitted)\s*$|Caused by: |Suppressed: )")
        .expect("the Java continuation pattern is valid")
});

static NODE_SOURCE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:file://)?\S+\.(?:js|mjs|cjs|ts|mts|cts|jsx|tsx):\d+\s*$")
        .expect("the Node source pattern is valid")
});

static CARET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*\^+\s*$").expect("the caret pattern is valid"));

static NODE_TRAILER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Node\.js v\d").expect("the Node trailer pattern is valid"));

static GO_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:panic|fatal error): ").expect("the Go header pattern is valid")
});

static GO_GOROUTINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^goroutine \d+ .*\]:\s*$").expect("the goroutine pattern is valid")
});

/// `main.main()`, `net/http.(*conn).serve(0xc000…)`, `panic({0x4a2b40?, 0x5b0e00?})`.
static GO_FUNCTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[A-Za-z_][^\s(]*(?:\(\*?[^\s()]+\)[^\s(]*)?\(.*\)\s*$")
        .expect("the Go function pattern is valid")
});

static GO_FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\t\S.*\.go:\d+").expect("the Go file pattern is valid"));

static RUST_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^thread '[^']*' panicked at ").expect("the Rust header pattern is valid")
});

static RUST_FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s+\d+:\s").expect("the Rust frame pattern is valid"));

/// ``app.rb:3:in 'foo': msg (RuntimeError)`` (Ruby 3.4) or with a backtick (older Rubies).
static RUBY_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\S.*?:\d+:in [`'][^']*': .*\([A-Z][\w:]*\)\s*$")
        .expect("the Ruby header pattern is valid")
});

static RUBY_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s+(?:from \S|\.\.\. \d+ levels\.\.\.)").expect("the Ruby from pattern is valid")
});

const PY_CHAIN_MARKERS: [&str; 2] = [
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
];

/// The mode of an event that starts with `line`.
fn start_mode(line: &str) -> Mode {
    header_mode(line)
        .or_else(|| orphan_mode(line))
        .unwrap_or_else(|| {
            if level_of_text(line) >= Level::Warn {
                Mode::Message
            } else {
                Mode::Closed
            }
        })
}

/// The mode a trace's first line puts an event in; `None` when `line` starts no trace.
fn header_mode(line: &str) -> Option<Mode> {
    if PY_TRACEBACK.is_match(line) {
        Some(Mode::PyFrames)
    } else if RUST_HEADER.is_match(line) {
        // The pre-1.73 format has the message on the header line itself.
        Some(if line.trim_end().ends_with(':') {
            Mode::RustMessage
        } else {
            Mode::RustNotes
        })
    } else if GO_HEADER.is_match(line) {
        Some(Mode::Go)
    } else if RUBY_HEADER.is_match(line) {
        Some(Mode::Ruby)
    } else if NODE_SOURCE.is_match(line) {
        Some(Mode::NodeSource)
    } else if EXCEPTION_HEADER.is_match(line) {
        Some(Mode::AtFrames)
    } else {
        None
    }
}

/// The mode of a line from the middle of a trace that arrives with no trace open (the trace
/// was cut by the time window): the rest of the trace then still holds together.
fn orphan_mode(line: &str) -> Option<Mode> {
    let trimmed = line.trim_start();
    if trimmed.starts_with("File \"") && trimmed.len() < line.len() {
        Some(Mode::PyFrames)
    } else if RUBY_FROM.is_match(line) {
        Some(Mode::Ruby)
    } else if AT_FRAME.is_match(line) || AT_MORE.is_match(line) {
        Some(Mode::AtFrames)
    } else if GO_GOROUTINE.is_match(line) || GO_FILE.is_match(line) {
        Some(Mode::Go)
    } else if line.trim_end() == "stack backtrace:" {
        Some(Mode::RustBacktrace)
    } else {
        None
    }
}

/// Whether `line` continues an event in `mode`, and the event's mode after it.
fn continues(mode: Mode, line: &str) -> Option<Mode> {
    let blank = line.trim().is_empty();
    let indented = !blank && line.starts_with([' ', '\t']);
    match mode {
        Mode::Closed => None,
        Mode::Message => header_mode(line),
        Mode::PyFrames if indented => Some(Mode::PyFrames),
        Mode::PyFrames => PY_EXCEPTION.is_match(line).then_some(Mode::PyException),
        Mode::PyException | Mode::PyBlank if blank => Some(Mode::PyBlank),
        // Multi-line messages (pydantic) and 3.11 notes are indented.
        Mode::PyException => indented.then_some(Mode::PyException),
        Mode::PyBlank => PY_CHAIN_MARKERS
            .contains(&line.trim())
            .then_some(Mode::PyChain),
        Mode::PyChain if blank => Some(Mode::PyChain),
        Mode::PyChain => PY_TRACEBACK.is_match(line).then_some(Mode::PyFrames),
        Mode::AtFrames => at_frames(line),
        Mode::NodeProps if line.trim_end() == "}" => Some(Mode::AtFrames),
        Mode::NodeProps => indented.then_some(Mode::NodeProps),
        Mode::AtBlank if blank => Some(Mode::AtBlank),
        Mode::AtBlank => NODE_TRAILER.is_match(line).then_some(Mode::Closed),
        Mode::NodeSource => (!blank).then_some(Mode::NodeCode),
        Mode::NodeCode => (blank || CARET.is_match(line)).then_some(Mode::NodeCaret),
        Mode::NodeCaret if blank => Some(Mode::NodeCaret),
        // Whatever follows the caret is the thrown value: usually an error line, not always.
        Mode::NodeCaret => Some(Mode::AtFrames),
        Mode::Go => go(line),
        Mode::RustMessage => rust_notes(line).or((!blank).then_some(Mode::RustNotes)),
        // `assert_eq!` prints `  left: 1` / ` right: 2` under its message.
        Mode::RustNotes => rust_notes(line).or(indented.then_some(Mode::RustNotes)),
        Mode::RustBacktrace if RUST_FRAME.is_match(line) || AT_FRAME.is_match(line) => {
            Some(Mode::RustBacktrace)
        }
        Mode::RustBacktrace => rust_notes(line),
        Mode::Ruby => RUBY_FROM.is_match(line).then_some(Mode::Ruby),
    }
}

fn at_frames(line: &str) -> Option<Mode> {
    if line.trim().is_empty() {
        Some(Mode::AtBlank)
    } else if AT_FRAME.is_match(line) {
        // Node opens a brace after the last frame of an error that has extra properties.
        Some(if line.trim_end().ends_with('{') {
            Mode::NodeProps
        } else {
            Mode::AtFrames
        })
    } else {
        AT_MORE.is_match(line).then_some(Mode::AtFrames)
    }
}

fn go(line: &str) -> Option<Mode> {
    // `go run` reports the exit after the trace: nothing follows it.
    if line.starts_with("exit status ") {
        return Some(Mode::Closed);
    }
    let continues = line.trim().is_empty()
        || line.starts_with('\t')
        || GO_FUNCTION.is_match(line)
        || GO_GOROUTINE.is_match(line)
        || ["created by ", "[signal ", "runtime stack:", "..."]
            .iter()
            .any(|p| line.starts_with(p));
    continues.then_some(Mode::Go)
}

fn rust_notes(line: &str) -> Option<Mode> {
    if line.starts_with("note: ") {
        Some(Mode::RustNotes)
    } else if line.trim_end() == "stack backtrace:" {
        Some(Mode::RustBacktrace)
    } else {
        None
    }
}

/// Real-world-shaped traces, one per language and variant, shared with the exception tests.
#[cfg(test)]
pub(crate) mod fixtures {
    /// A stream's lines as a logger writes them, `(ms, line)`, for the sources' property
    /// tests: per `(kind, pause in ms)`, a Python trace (frames over up to a few hundred ms), a
    /// lone error line (which a trace may follow) or an ordinary line.
    pub(crate) fn scripted(script: &[(u8, i64)]) -> Vec<(i64, String)> {
        let mut lines = Vec::new();
        let mut now = 0;
        for (n, (kind, pause)) in script.iter().enumerate() {
            now += pause;
            match kind % 3 {
                0 => {
                    lines.push((now, "Traceback (most recent call last):".to_string()));
                    for frame in 0..(i64::from(*kind) % 4) {
                        now += frame * 40;
                        lines.push((now, format!("  File \"/app/m{n}.py\", line {frame}, in f")));
                    }
                    lines.push((now, format!("KeyError: 'k{n}'")));
                }
                1 => lines.push((now, format!("ERROR failed {n}"))),
                _ => lines.push((now, format!("INFO ok {n}"))),
            }
        }
        lines
    }

    pub(crate) const PYTHON: &str = r#"Traceback (most recent call last):
  File "/app/main.py", line 12, in <module>
    main()
  File "/app/main.py", line 8, in main
    charge(order)
    ~~~~~~^^^^^^^
  File "/usr/local/lib/python3.12/site-packages/stripe/api.py", line 41, in charge
    raise ValueError(f"bad amount {amount}")
ValueError: bad amount -5"#;

    pub(crate) const PYTHON_DURING_HANDLING: &str = r#"Traceback (most recent call last):
  File "/app/worker.py", line 5, in load
    return cache[key]
           ~~~~~^^^^^
KeyError: 'user_42'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/app/worker.py", line 11, in <module>
    load("user_42")
  File "/app/worker.py", line 7, in load
    raise LookupError("user_42 not cached")
LookupError: user_42 not cached"#;

    pub(crate) const PYTHON_DIRECT_CAUSE: &str = r#"ERROR:root:job failed
Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/requests/models.py", line 1021, in raise_for_status
    raise HTTPError(http_error_msg, response=self)
requests.exceptions.HTTPError: 503 Server Error: Service Unavailable for url: https://api.example.com/v1

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "<frozen runpy>", line 198, in _run_module_as_main
  File "/app/jobs/sync.py", line 30, in run
    raise SyncError("upstream down") from exc
jobs.sync.SyncError: upstream down"#;

    pub(crate) const JAVA: &str = r#"Exception in thread "main" java.lang.IllegalStateException: Failed to start order service
	at com.shop.orders.OrderService.start(OrderService.java:42)
	at com.shop.Main.main(Main.java:12)
Caused by: java.sql.SQLException: Connection refused
	at org.postgresql.Driver.connect(Driver.java:285)
	at java.sql/java.sql.DriverManager.getConnection(DriverManager.java:681)
	at com.shop.orders.OrderService.start(OrderService.java:38)
	... 1 more
	Suppressed: java.io.IOException: socket closed
		at java.base/java.net.Socket.close(Socket.java:1500)
		... 2 more"#;

    pub(crate) const JAVA_LOGBACK: &str = r#"2024-05-01 10:00:00.123 ERROR 1 --- [nio-8080-exec-1] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() threw exception
java.lang.NullPointerException: Cannot invoke "String.length()" because "name" is null
	at com.shop.web.UserController.show(UserController.java:27) ~[classes/:na]
	at java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103) ~[na:na]
	at org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885) ~[spring-webmvc-6.1.2.jar:6.1.2]
	at java.base/java.lang.Thread.run(Thread.java:1583) ~[na:na]"#;

    pub(crate) const KOTLIN: &str = r#"Exception in thread "DefaultDispatcher-worker-1" kotlin.UninitializedPropertyAccessException: lateinit property repo has not been initialized
	at com.example.UserService.find(UserService.kt:19)
	at kotlinx.coroutines.DispatchedTask.run(DispatchedTask.kt:108)
	at com.example.AppKt.main(App.kt)"#;

    pub(crate) const NODE: &str = r#"TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/src/users.js:14:22)
    at async Promise.all (index 0)
    at async /app/src/server.js:40:5
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)"#;

    pub(crate) const NODE_UNCAUGHT: &str = r#"/app/index.js:8
    throw new Error(`missing env ${name}`);
    ^

Error: missing env DATABASE_URL
    at requireEnv (/app/index.js:8:11)
    at Object.<anonymous> (/app/index.js:12:20)
    at Module._compile (node:internal/modules/cjs/loader:1256:14)
    at node:internal/main/run_main_module:23:47

Node.js v18.19.0"#;

    pub(crate) const NODE_PROPS: &str = r#"Error: connect ECONNREFUSED 127.0.0.1:5432
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16) {
  errno: -111,
  code: 'ECONNREFUSED',
  syscall: 'connect',
  port: 5432
}"#;

    pub(crate) const GO: &str = r#"panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4915d6]

goroutine 1 [running]:
main.(*Server).handle(0x0, {0x5f3d20, 0xc00001c0e0})
	/app/server.go:27 +0x16
main.main()
	/app/main.go:14 +0x45
exit status 2"#;

    pub(crate) const GO_GOROUTINES: &str = r#"panic: runtime error: index out of range [5] with length 3

goroutine 18 [running]:
github.com/acme/api/internal/store.(*Cache).Get(...)
	/app/internal/store/cache.go:42
github.com/go-chi/chi/v5.(*Mux).ServeHTTP(0xc0001b6000, {0x7f8e20, 0xc0002a0000}, 0xc000290100)
	/root/go/pkg/mod/github.com/go-chi/chi/v5@v5.0.10/mux.go:90 +0x310
created by net/http.(*Server).Serve in goroutine 1
	/usr/local/go/src/net/http/server.go:3086 +0x5cb

goroutine 1 [IO wait]:
internal/poll.runtime_pollWait(0x7f3c, 0x72)
	/usr/local/go/src/runtime/netpoll.go:343 +0x85"#;

    pub(crate) const RUST: &str = r#"thread 'main' panicked at src/main.rs:4:5:
called `Option::unwrap()` on a `None` value
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"#;

    pub(crate) const RUST_BACKTRACE: &str = r#"thread 'tokio-runtime-worker' panicked at src/handlers.rs:88:14:
index out of bounds: the len is 3 but the index is 7
stack backtrace:
   0: rust_begin_unwind
             at /rustc/82e1608dfa6e0b5569232559e3d385fea5a93112/library/std/src/panicking.rs:645:5
   1: core::panicking::panic_fmt
             at /rustc/82e1608dfa6e0b5569232559e3d385fea5a93112/library/core/src/panicking.rs:72:14
   2: api::handlers::show
             at ./src/handlers.rs:88:14
   3: tokio::runtime::task::core::Core<T,S>::poll
             at /usr/local/cargo/registry/src/index.crates.io-6f17d22bba15001f/tokio-1.35.1/src/runtime/task/core.rs:328:13
   4: __libc_start_main
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace."#;

    pub(crate) const RUST_ASSERT: &str = r#"thread 'main' panicked at src/lib.rs:10:9:
assertion `left == right` failed
  left: 1
 right: 2
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"#;

    pub(crate) const RUST_OLD: &str = r#"thread 'main' panicked at 'called `Result::unwrap()` on an `Err` value: ParseIntError { kind: InvalidDigit }', src/main.rs:3:37
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"#;

    pub(crate) const RUBY: &str = r#"app.rb:3:in 'Integer#/': divided by 0 (ZeroDivisionError)
	from app.rb:3:in 'Object#divide'
	from app.rb:7:in '<main>'"#;

    pub(crate) const RUBY_OLD: &str = r#"/usr/local/bundle/gems/activerecord-7.1.2/lib/active_record/core.rb:253:in `find': Couldn't find User with 'id'=42 (ActiveRecord::RecordNotFound)
	from /app/app/services/report.rb:12:in `build'
	from /app/bin/report:5:in `<main>'"#;

    /// Every fixture, named.
    pub(crate) const ALL: [(&str, &str); 17] = [
        ("python", PYTHON),
        ("python during handling", PYTHON_DURING_HANDLING),
        ("python direct cause", PYTHON_DIRECT_CAUSE),
        ("java", JAVA),
        ("java logback", JAVA_LOGBACK),
        ("kotlin", KOTLIN),
        ("node", NODE),
        ("node uncaught", NODE_UNCAUGHT),
        ("node props", NODE_PROPS),
        ("go", GO),
        ("go goroutines", GO_GOROUTINES),
        ("rust", RUST),
        ("rust backtrace", RUST_BACKTRACE),
        ("rust assert", RUST_ASSERT),
        ("rust old", RUST_OLD),
        ("ruby", RUBY),
        ("ruby old", RUBY_OLD),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_700_000_000_000 + millis).expect("a valid timestamp")
    }

    /// Pushes `(millis, line)` pairs, then finishes; returns each event's text.
    fn assemble(config: AssemblerConfig, lines: &[(i64, &str)]) -> Vec<String> {
        let mut assembler = Assembler::new(config);
        let mut events: Vec<Assembled> = Vec::new();
        for (millis, line) in lines {
            events.extend(assembler.push(at(*millis), line));
        }
        events.extend(assembler.finish());
        events.into_iter().map(|e| e.text).collect()
    }

    #[test]
    fn each_trace_becomes_one_event_between_ordinary_lines() {
        for (name, trace) in fixtures::ALL {
            let mut lines = vec![(0, "INFO booting")];
            lines.extend(trace.lines().map(|l| (1, l)));
            lines.push((2, "INFO ready"));
            assert_eq!(
                assemble(AssemblerConfig::default(), &lines),
                vec!["INFO booting", trace, "INFO ready"],
                "{name}"
            );
        }
    }

    #[test]
    fn back_to_back_traces_stay_apart() {
        for (first, second) in [
            (fixtures::PYTHON, fixtures::PYTHON_DURING_HANDLING),
            (fixtures::JAVA, fixtures::NODE),
            (fixtures::NODE, fixtures::NODE_PROPS),
            (fixtures::GO_GOROUTINES, fixtures::RUST),
            (fixtures::RUST_ASSERT, fixtures::RUBY),
            (fixtures::RUBY, fixtures::RUBY_OLD),
            (fixtures::RUST_BACKTRACE, fixtures::PYTHON),
        ] {
            let lines: Vec<(i64, &str)> = first
                .lines()
                .chain(second.lines())
                .map(|l| (0, l))
                .collect();
            assert_eq!(
                assemble(AssemblerConfig::default(), &lines),
                vec![first, second],
                "{first}\n---\n{second}"
            );
        }
    }

    #[test]
    fn start_modes() {
        for (line, mode) in [
            ("GET /health 200", Mode::Closed),
            ("ERROR payment failed", Mode::Message),
            ("[WARN] disk almost full", Mode::Message),
            ("Traceback (most recent call last):", Mode::PyFrames),
            (
                "  + Exception Group Traceback (most recent call last):",
                Mode::PyFrames,
            ),
            (
                "thread 'main' panicked at src/main.rs:4:5:",
                Mode::RustMessage,
            ),
            (
                "thread 'main' panicked at 'boom', src/main.rs:4:5",
                Mode::RustNotes,
            ),
            ("panic: boom", Mode::Go),
            (
                "fatal error: all goroutines are asleep - deadlock!",
                Mode::Go,
            ),
            ("app.rb:3:in 'foo': boom (RuntimeError)", Mode::Ruby),
            ("/app/index.js:8", Mode::NodeSource),
            ("TypeError: x is not a function", Mode::AtFrames),
            (
                "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'x'",
                Mode::AtFrames,
            ),
            (
                "java.lang.OutOfMemoryError: Java heap space",
                Mode::AtFrames,
            ),
            (
                "Exception in thread \"main\" java.lang.Error",
                Mode::AtFrames,
            ),
            (
                "com.zaxxer.hikari.HikariDataSource: HikariPool-1 - Starting...",
                Mode::Closed,
            ),
            ("    at f (/app/a.js:1:2)", Mode::AtFrames),
            ("Caused by: java.io.IOException: eof", Mode::AtFrames),
            ("  File \"/app/a.py\", line 3, in f", Mode::PyFrames),
            ("\tfrom app.rb:7:in '<main>'", Mode::Ruby),
            ("goroutine 1 [running]:", Mode::Go),
            ("\t/app/main.go:14 +0x45", Mode::Go),
            ("stack backtrace:", Mode::RustBacktrace),
        ] {
            assert_eq!(start_mode(line), mode, "{line}");
        }
    }

    #[test]
    fn continuation_table() {
        use Mode::*;
        for (mode, line, next) in [
            (Closed, "\tat com.foo.Bar.baz(Bar.java:1)", None),
            (
                Message,
                "Traceback (most recent call last):",
                Some(PyFrames),
            ),
            (
                Message,
                "java.lang.IllegalStateException: boom",
                Some(AtFrames),
            ),
            (Message, "ERROR another failure", None),
            (Message, "    at f (/app/a.js:1:2)", None),
            (
                PyFrames,
                "  File \"/app/a.py\", line 3, in f",
                Some(PyFrames),
            ),
            (PyFrames, "    return cache[key]", Some(PyFrames)),
            (PyFrames, "KeyError: 'user_42'", Some(PyException)),
            (PyFrames, "StopIteration", Some(PyException)),
            (PyFrames, "INFO:root:next request", None),
            (PyFrames, "", None),
            (PyException, "", Some(PyBlank)),
            (
                PyException,
                "  Input should be a valid integer",
                Some(PyException),
            ),
            (PyException, "Traceback (most recent call last):", None),
            (PyBlank, "", Some(PyBlank)),
            (
                PyBlank,
                "During handling of the above exception, another exception occurred:",
                Some(PyChain),
            ),
            (
                PyBlank,
                "The above exception was the direct cause of the following exception:",
                Some(PyChain),
            ),
            (PyBlank, "INFO next", None),
            (PyChain, "", Some(PyChain)),
            (
                PyChain,
                "Traceback (most recent call last):",
                Some(PyFrames),
            ),
            (PyChain, "INFO next", None),
            (
                AtFrames,
                "\tat com.foo.Bar.baz(Bar.java:12)",
                Some(AtFrames),
            ),
            (
                AtFrames,
                "    at getUser (/app/src/users.js:14:22)",
                Some(AtFrames),
            ),
            (AtFrames, "    at f (node:net:1555:16) {", Some(NodeProps)),
            (
                AtFrames,
                "Caused by: java.sql.SQLException: refused",
                Some(AtFrames),
            ),
            (
                AtFrames,
                "\tSuppressed: java.io.IOException: closed",
                Some(AtFrames),
            ),
            (AtFrames, "\t... 23 more", Some(AtFrames)),
            (AtFrames, "\t... 12 common frames omitted", Some(AtFrames)),
            (AtFrames, "", Some(AtBlank)),
            (AtFrames, "INFO next", None),
            (AtFrames, "TypeError: another", None),
            (NodeProps, "  code: 'ECONNREFUSED',", Some(NodeProps)),
            (NodeProps, "}", Some(AtFrames)),
            (NodeProps, "INFO next", None),
            (AtBlank, "", Some(AtBlank)),
            (AtBlank, "Node.js v18.19.0", Some(Closed)),
            (AtBlank, "INFO next", None),
            (NodeSource, "    throw err;", Some(NodeCode)),
            (NodeSource, "", None),
            (NodeCode, "    ^", Some(NodeCaret)),
            (NodeCode, "INFO next", None),
            (NodeCaret, "", Some(NodeCaret)),
            (NodeCaret, "Error: boom", Some(AtFrames)),
            (Go, "", Some(Go)),
            (Go, "goroutine 1 [running]:", Some(Go)),
            (
                Go,
                "goroutine 7 gp=0xc000002380 m=0 mp=0x6b2c20 [running]:",
                Some(Go),
            ),
            (
                Go,
                "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4915d6]",
                Some(Go),
            ),
            (Go, "main.main()", Some(Go)),
            (
                Go,
                "net/http.(*conn).serve(0xc000120000, {0x7f8e20, 0xc0002a0000})",
                Some(Go),
            ),
            (Go, "\t/app/main.go:14 +0x45", Some(Go)),
            (
                Go,
                "created by net/http.(*Server).Serve in goroutine 1",
                Some(Go),
            ),
            (Go, "exit status 2", Some(Closed)),
            (Go, "2024/05/01 10:00:00 listening on :8080", None),
            (Go, "Listening on port (8080)", None),
            (
                RustMessage,
                "called `Option::unwrap()` on a `None` value",
                Some(RustNotes),
            ),
            (
                RustMessage,
                "note: run with `RUST_BACKTRACE=1`",
                Some(RustNotes),
            ),
            (RustMessage, "", None),
            (RustNotes, "  left: 1", Some(RustNotes)),
            (
                RustNotes,
                "note: run with `RUST_BACKTRACE=1`",
                Some(RustNotes),
            ),
            (RustNotes, "stack backtrace:", Some(RustBacktrace)),
            (RustNotes, "INFO next", None),
            (
                RustBacktrace,
                "   0: rust_begin_unwind",
                Some(RustBacktrace),
            ),
            (
                RustBacktrace,
                "             at ./src/main.rs:4:5",
                Some(RustBacktrace),
            ),
            (
                RustBacktrace,
                "note: Some details are omitted",
                Some(RustNotes),
            ),
            (RustBacktrace, "INFO next", None),
            (Ruby, "\tfrom app.rb:7:in '<main>'", Some(Ruby)),
            (Ruby, "\t ... 5 levels...", Some(Ruby)),
            (Ruby, "INFO next", None),
        ] {
            assert_eq!(continues(mode, line), next, "{mode:?} then {line:?}");
        }
    }

    #[test]
    fn bounds_cut_events() {
        let small = AssemblerConfig {
            max_lines: 3,
            ..AssemblerConfig::default()
        };
        let frames = [
            "java.lang.IllegalStateException: boom",
            "\tat a.A.a(A.java:1)",
            "\tat b.B.b(B.java:2)",
            "\tat c.C.c(C.java:3)",
            "\tat d.D.d(D.java:4)",
        ];
        for (name, config, times, expected) in [
            (
                "max lines: the rest goes on as a new event",
                small,
                [0, 0, 0, 0, 0],
                vec![frames[..3].join("\n"), frames[3..].join("\n")],
            ),
            (
                "window: a late frame starts a new event its followers join",
                AssemblerConfig::default(),
                [0, 500, 2000, 2001, 2500],
                vec![frames[..3].join("\n"), frames[3..].join("\n")],
            ),
            (
                "within the window",
                AssemblerConfig::default(),
                [0, 500, 1000, 1500, 2000],
                vec![frames.join("\n")],
            ),
        ] {
            let lines: Vec<(i64, &str)> = times.into_iter().zip(frames).collect();
            assert_eq!(assemble(config, &lines), expected, "{name}");
        }
    }

    #[test]
    fn a_lone_error_line_waits_briefly_for_its_trace() {
        let lines = [
            (0, "ERROR charge failed"),
            (100, "Traceback (most recent call last):"),
            (100, "ValueError: x"),
        ];
        assert_eq!(
            assemble(AssemblerConfig::default(), &lines),
            vec![
                "ERROR charge failed\nTraceback (most recent call last):\nValueError: x"
                    .to_string()
            ],
            "a trace right after the message is its trace"
        );
        let late = [
            (0, "ERROR charge failed"),
            (900, "Traceback (most recent call last):"),
            (900, "ValueError: x"),
        ];
        assert_eq!(
            assemble(AssemblerConfig::default(), &late).len(),
            2,
            "too late to belong to it"
        );
        let mut assembler = Assembler::default();
        assert!(assembler.push(at(0), "ERROR lone").is_empty());
        assert!(assembler.flush_expired(at(400)).is_none());
        assert!(
            assembler.flush_expired(at(501)).is_some(),
            "released after half a second"
        );
    }

    #[test]
    fn line_flood_is_cut_in_chunks() {
        let mut assembler = Assembler::new(AssemblerConfig {
            max_lines: 10,
            window: Duration::seconds(60),
            message_window: Duration::seconds(60),
        });
        let mut counts = Vec::new();
        for _ in 0..35 {
            counts.extend(
                assembler
                    .push(at(0), "\tat a.A.a(A.java:1)")
                    .into_iter()
                    .map(|e| e.line_count),
            );
        }
        counts.extend(assembler.finish().map(|e| e.line_count));
        assert_eq!(counts, vec![10, 10, 10, 5]);
    }

    #[test]
    fn ordinary_lines_pass_straight_through() {
        let mut assembler = Assembler::default();
        for (name, line, emitted) in [
            ("info line", "GET /health 200", vec!["GET /health 200"]),
            ("blank line", "   ", vec![]),
            (
                "error line is held: a trace may follow",
                "ERROR charge failed",
                vec![],
            ),
            (
                "a second error line releases the first",
                "ERROR retry failed",
                vec!["ERROR charge failed"],
            ),
            (
                "CRLF is stripped",
                "INFO done\r\n",
                vec!["ERROR retry failed", "INFO done"],
            ),
        ] {
            let texts: Vec<String> = assembler
                .push(at(0), line)
                .into_iter()
                .map(|e| e.text)
                .collect();
            assert_eq!(texts, emitted, "{name}");
        }
        assert_eq!(assembler.finish(), None);
    }

    #[test]
    fn pending_event_expires_after_the_window() {
        let mut assembler = Assembler::default();
        assert!(assembler.push(at(100), "TypeError: boom").is_empty());
        assert!(assembler
            .push(at(200), "    at f (/app/a.js:1:2)")
            .is_empty());
        assert_eq!(assembler.deadline(), Some(at(2100)));
        for (now, expected) in [(1000, None), (2100, None), (2101, Some(2))] {
            let flushed = assembler.flush_expired(at(now)).map(|e| e.line_count);
            assert_eq!(flushed, expected, "flush at {now} ms");
        }
        assert_eq!(assembler.deadline(), None);
        assert_eq!(assembler.finish(), None);
    }

    #[test]
    fn assembled_event_keeps_first_timestamp_and_drops_trailing_blanks() {
        let mut assembler = Assembler::default();
        let mut events = Vec::new();
        for (millis, line) in [
            (10, "ValueError: x"),
            (20, "    at f (a.js:1:2)"),
            (30, ""),
            (40, ""),
        ] {
            events.extend(assembler.push(at(millis), line));
        }
        events.extend(assembler.finish());
        assert_eq!(
            events,
            vec![Assembled {
                first_line_timestamp: at(10),
                text: "ValueError: x\n    at f (a.js:1:2)".into(),
                line_count: 2,
                first_line: 0,
            }]
        );
    }

    #[test]
    fn events_name_the_line_they_started_with() {
        let mut assembler = Assembler::default();
        let mut starts = Vec::new();
        for (i, line) in [
            "INFO a",
            "",
            "Traceback (most recent call last):",
            "  File \"/app/x.py\", line 1, in f",
            "ValueError: x",
            "INFO b",
        ]
        .iter()
        .enumerate()
        {
            starts.extend(
                assembler
                    .push(at(i as i64), line)
                    .iter()
                    .map(|e| e.first_line),
            );
            if i == 3 {
                assert_eq!(assembler.pending_first_line(), Some(2));
            }
        }
        starts.extend(assembler.finish().map(|e| e.first_line));
        assert_eq!(starts, vec![0, 2, 5]);
        assert_eq!(assembler.pending_first_line(), None);
    }
}
