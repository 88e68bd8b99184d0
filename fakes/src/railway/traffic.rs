//! Realistic, deterministic Railway log traffic for demos and benchmarks.
//!
//! The mix looks like a few web services in production: info lines (HTTP access lines, jobs,
//! structured JSON logs that Railway turned into `message` + attributes), warnings, error lines
//! whose ids, e-mails, IPs and embedded timestamps vary (so grouping must normalise them), and
//! stack traces from Python, Node.js, Java, Rust and Go delivered the way Railway delivers them:
//! one log line per trace line, all with the same timestamp or microseconds apart.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::LogLine;

/// A small deterministic PRNG (SplitMix64): the same seed gives the same traffic on every
/// platform and every build, which a benchmark needs and `rand`'s small RNGs don't promise.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator seeded from the clock and the process (for ids that only need to differ).
    pub fn from_entropy() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or_default();
        let local = &nanos as *const u64 as u64; // stack address: differs between concurrent starts
        Rng(nanos ^ local.rotate_left(32) ^ u64::from(std::process::id()))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n == 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
        }
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    /// A random UUID (version 4 layout), the shape of Railway ids.
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next_u64(), self.next_u64());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` lowercase hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.below(16) as u32, 16).unwrap_or('0'))
            .collect()
    }

    /// `n` characters of `[a-zA-Z0-9]`.
    pub fn alnum(&mut self, n: usize) -> String {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n)
            .map(|_| CHARS[self.below(CHARS.len() as u64) as usize] as char)
            .collect()
    }
}

/// The number of services [`generate`] spreads its lines over.
pub const DEFAULT_SERVICES: usize = 3;

/// `n` lines over [`DEFAULT_SERVICES`] services, oldest first, starting at
/// 2026-11-27T10:00:00Z: `(service index, line)`. Same seed, same lines.
pub fn generate(seed: u64, n: usize) -> Vec<(usize, LogLine)> {
    let start = Utc
        .with_ymd_and_hms(2026, 11, 27, 10, 0, 0)
        .single()
        .unwrap_or_default();
    let mut traffic = Traffic::new(seed, DEFAULT_SERVICES, start);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.extend(traffic.next_event());
    }
    out.truncate(n);
    out
}

/// An endless stream of log events (a line, or all the lines of one stack trace).
pub struct Traffic {
    rng: Rng,
    services: usize,
    replicas: Vec<Vec<String>>,
    clock: DateTime<Utc>,
}

const PATHS: &[&str] = &[
    "/api/orders",
    "/api/users",
    "/api/checkout",
    "/api/invoices",
    "/healthz",
    "/api/search",
    "/webhooks/stripe",
    "/api/sessions",
    "/static/app.js",
    "/api/cart/items",
];
const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const FIRST: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
];
const LAST: &[&str] = &[
    "smith", "jones", "garcia", "miller", "davis", "martin", "lee", "walker",
];
const DOMAINS: &[&str] = &["example.com", "mail.test", "acme.io", "corp.example.org"];
const JOBS: &[&str] = &[
    "send_receipt",
    "sync_inventory",
    "refresh_tokens",
    "reindex_search",
    "expire_carts",
];

impl Traffic {
    /// Traffic over `services` services (at least one), with time starting at `start`.
    pub fn new(seed: u64, services: usize, start: DateTime<Utc>) -> Traffic {
        let mut rng = Rng::new(seed);
        let services = services.max(1);
        // The first service runs two replicas, the others one.
        let replicas = (0..services)
            .map(|i| {
                (0..if i == 0 { 2 } else { 1 })
                    .map(|_| rng.uuid())
                    .collect()
            })
            .collect();
        Traffic {
            rng,
            services,
            replicas,
            clock: start,
        }
    }

    /// Moves the clock (the next event is at `t` plus its usual gap).
    pub fn set_clock(&mut self, t: DateTime<Utc>) {
        self.clock = t;
    }

    /// The next event: one line, or the lines of one stack trace (same timestamp or µs apart).
    pub fn next_event(&mut self) -> Vec<(usize, LogLine)> {
        let r = &mut self.rng;
        self.clock += Duration::microseconds(r.range(200, 40_000) as i64);
        let service = r.below(self.services as u64) as usize;
        let replicas = &self.replicas[service];
        let instance = replicas[r.below(replicas.len() as u64) as usize].clone();
        let roll = r.below(1000);
        let lines: Vec<Line> = if roll < 600 {
            vec![info(r)]
        } else if roll < 730 {
            vec![structured(r)]
        } else if roll < 840 {
            vec![warning(r)]
        } else if roll < 950 {
            vec![error(r)]
        } else {
            trace(r)
                .into_iter()
                .map(|l| (l, Some("error"), Vec::new()))
                .collect()
        };
        let same_instant = r.chance(0.5);
        let mut t = self.clock;
        let mut out = Vec::with_capacity(lines.len());
        for (i, (message, severity, attributes)) in lines.into_iter().enumerate() {
            if i > 0 && !same_instant {
                t += Duration::microseconds(r.range(1, 30) as i64);
            }
            out.push((
                service,
                LogLine {
                    timestamp: t,
                    message,
                    severity: severity.map(str::to_string),
                    attributes,
                    instance_id: instance.clone(),
                },
            ));
        }
        self.clock = t;
        out
    }
}

type Line = (String, Option<&'static str>, Vec<(String, String)>);

fn email(r: &mut Rng) -> String {
    format!(
        "{}.{}{}@{}",
        r.pick(FIRST),
        r.pick(LAST),
        r.below(100),
        r.pick(DOMAINS)
    )
}

fn ip(r: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}",
        r.range(10, 223),
        r.below(256),
        r.below(256),
        r.range(1, 254)
    )
}

fn iso(r: &mut Rng) -> String {
    format!(
        "2026-11-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        r.range(1, 28),
        r.below(24),
        r.below(60),
        r.below(60),
        r.below(1000)
    )
}

fn info(r: &mut Rng) -> Line {
    let message = match r.below(6) {
        0..=2 => format!(
            "{} {}/{} {} {}ms",
            r.pick(METHODS),
            r.pick(PATHS),
            r.range(1, 99_999),
            r.pick(&["200", "200", "200", "201", "204", "304"]),
            r.range(1, 250)
        ),
        3 => format!(
            "job {} finished in {}ms (id={})",
            r.pick(JOBS),
            r.range(5, 5000),
            r.uuid()
        ),
        4 => format!("user {} signed in from {}", email(r), ip(r)),
        _ => format!(
            "cache hit ratio {}.{}% over {} keys",
            r.range(60, 99),
            r.below(10),
            r.range(100, 90_000)
        ),
    };
    // Most services don't log a level: Railway reads stdout as info.
    (
        message,
        if r.chance(0.9) { Some("info") } else { None },
        Vec::new(),
    )
}

fn structured(r: &mut Rng) -> Line {
    let level = r.pick(&["info", "info", "info", "debug", "warn", "error"]);
    let message = match level {
        "error" => format!(
            "request failed: upstream returned {}",
            r.pick(&["502", "503", "504"])
        ),
        "warn" => format!(
            "rate limit at {}% for tenant {}",
            r.range(80, 99),
            r.range(1, 500)
        ),
        _ => format!("{} {} completed", r.pick(METHODS), r.pick(PATHS)),
    };
    let attributes = vec![
        ("level".to_string(), level.to_string()),
        ("request_id".to_string(), r.uuid()),
        ("duration_ms".to_string(), r.range(1, 3000).to_string()),
        ("user_id".to_string(), r.range(1, 99_999).to_string()),
    ];
    let severity = if level == "warn" {
        "warn"
    } else if level == "error" {
        "error"
    } else {
        "info"
    };
    (message, Some(severity), attributes)
}

fn warning(r: &mut Rng) -> Line {
    let message = match r.below(4) {
        0 => format!(
            "slow query ({}ms): SELECT * FROM orders WHERE customer_id = {} ORDER BY created_at DESC",
            r.range(500, 9000),
            r.range(1, 99_999)
        ),
        1 => format!("retrying request to https://api.stripe.com/v1/charges (attempt {}/5)", r.range(2, 5)),
        2 => format!("WARN connection pool at {}/20, waiting for a free connection", r.range(17, 20)),
        _ => format!("DeprecationWarning: config key `{}` is deprecated, use `database.url`", r.pick(&["db_url", "DATABASE"])),
    };
    (
        message,
        Some(if r.chance(0.7) { "warn" } else { "info" }),
        Vec::new(),
    )
}

fn error(r: &mut Rng) -> Line {
    let message = match r.below(6) {
        0 => format!(
            "Failed to charge customer cus_{} ({}): card_declined",
            r.alnum(14),
            email(r)
        ),
        1 => format!(
            "ERROR {} request_id={} upstream timeout after 30000ms",
            iso(r),
            r.uuid()
        ),
        2 => format!("User {} not found", r.range(1, 999_999)),
        3 => format!(
            "database connection refused: connect ECONNREFUSED {}:5432",
            ip(r)
        ),
        4 => format!(
            "order {} failed validation: total {} does not match items",
            r.range(10_000, 99_999),
            r.range(1, 999)
        ),
        _ => format!(
            "could not deliver webhook evt_{} to {}: 410 Gone",
            r.alnum(24),
            email(r)
        ),
    };
    // stderr ⇒ error; a few apps log errors on stdout (no level).
    (
        message,
        if r.chance(0.85) { Some("error") } else { None },
        Vec::new(),
    )
}

fn trace(r: &mut Rng) -> Vec<String> {
    match r.below(5) {
        0 => {
            let id = r.range(1, 99_999);
            vec![
                "Traceback (most recent call last):".into(),
                "  File \"/app/.venv/lib/python3.12/site-packages/flask/app.py\", line 1473, in wsgi_app".into(),
                "    response = self.full_dispatch_request()".into(),
                format!("  File \"/app/app/views/orders.py\", line {}, in get_order", r.range(20, 200)),
                "    order = Order.query.filter_by(id=order_id).one()".into(),
                "  File \"/app/.venv/lib/python3.12/site-packages/sqlalchemy/orm/query.py\", line 2870, in one".into(),
                "    return self._iter().one()".into(),
                format!("sqlalchemy.exc.NoResultFound: No row was found when one was required (order_id={id})"),
            ]
        }
        1 => vec![
            format!("TypeError: Cannot read properties of undefined (reading '{}')", r.pick(&["id", "email", "items"])),
            format!("    at CheckoutService.total (/app/dist/services/checkout.js:{}:{})", r.range(10, 400), r.range(5, 40)),
            "    at async Promise.all (index 0)".into(),
            format!("    at async /app/dist/routes/cart.js:{}:22", r.range(10, 90)),
            "    at async Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)".into(),
        ],
        2 => vec![
            format!(
                "{} ERROR 1 --- [nio-8080-exec-{}] o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() threw exception",
                iso(r),
                r.range(1, 10)
            ),
            format!("java.lang.IllegalStateException: Invoice {} already finalized", r.range(1000, 99_999)),
            "\tat com.acme.billing.InvoiceService.finalize(InvoiceService.java:88)".into(),
            "\tat com.acme.billing.InvoiceController.close(InvoiceController.java:41)".into(),
            "\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)".into(),
            "Caused by: org.postgresql.util.PSQLException: ERROR: could not serialize access due to concurrent update".into(),
            "\tat org.postgresql.core.v3.QueryExecutorImpl.receiveErrorResponse(QueryExecutorImpl.java:2725)".into(),
            "\t... 42 common frames omitted".into(),
        ],
        3 => vec![
            format!(
                "thread 'tokio-runtime-worker' panicked at src/db.rs:{}:9:",
                r.range(10, 300)
            ),
            format!("called `Result::unwrap()` on an `Err` value: PoolTimedOut (waited {}ms)", r.range(1000, 30_000)),
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace".into(),
        ],
        _ => vec![
            "panic: runtime error: invalid memory address or nil pointer dereference".into(),
            format!("[signal SIGSEGV: segmentation violation code=0x1 addr=0x{} pc=0x{}]", r.hex(2), r.hex(6)),
            String::new(),
            format!("goroutine {} [running]:", r.range(1, 5000)),
            "main.(*Handler).ServeOrders(0xc000126000, {0x8f6a40, 0xc0001c2000}, 0xc0001b8100)".into(),
            format!("\t/app/handlers/orders.go:{} +0x{}", r.range(20, 300), r.hex(2)),
            "net/http.HandlerFunc.ServeHTTP(...)".into(),
            "\t/usr/local/go/src/net/http/server.go:2220".into(),
            "exit status 2".into(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_realistic() {
        let a = generate(7, 2000);
        assert_eq!(a.len(), 2000);
        assert_eq!(a, generate(7, 2000));
        assert_ne!(a, generate(8, 2000));
        assert!(
            a.windows(2).all(|w| w[0].1.timestamp <= w[1].1.timestamp),
            "oldest first"
        );
        assert!(a.iter().all(|(s, _)| *s < DEFAULT_SERVICES));
        let has = |needle: &str| a.iter().any(|(_, l)| l.message.contains(needle));
        for needle in [
            "Traceback",
            "    at ",
            "\tat ",
            "panicked at",
            "goroutine",
            "card_declined",
            "slow query",
        ] {
            assert!(has(needle), "{needle}");
        }
        assert!(
            a.windows(2).any(|w| w[0].1.timestamp == w[1].1.timestamp),
            "trace lines tie"
        );
        assert!(a.iter().any(|(_, l)| l.severity.is_none()));
        assert!(a
            .iter()
            .any(|(_, l)| l.attributes.iter().any(|(k, _)| k == "level")));
        let errors = a
            .iter()
            .filter(|(_, l)| l.severity.as_deref() == Some("error"))
            .count();
        assert!(errors > 100 && errors < 1000, "{errors}");
    }

    #[test]
    fn uuids_look_like_uuids() {
        let mut r = Rng::new(1);
        let id = r.uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, r.uuid());
    }
}
