//! Classification: what kind of failure an error group is, how bad it is, and whether it is
//! worth proposing a fix for.
//!
//! Everything is data: three tables of rows (category rules, severity rules, service hints)
//! read top to bottom, first match wins. Each table's text patterns are compiled once into a
//! single [`RegexSet`] (the category and severity tables share one), so classifying a line is
//! one linear pass per text, however many rows the tables grow to; and since most lines match
//! no row at all, the set first says whether anything matches (a pass that stops at the first
//! match) before it finds which rows do.
//!
//! # Category precedence
//!
//! A line often names several things ("stripe returned 429", "timeout talking to postgres").
//! The rows are ordered so that the most telling signal wins:
//!
//! 1. **Programming errors** (`KeyError`, `NullPointerException`, "cannot read properties of
//!    undefined"…) → internal. Those exception types never wrap another failure, so a peer or
//!    keyword in their text is incidental (`AttributeError: … no attribute 'timeout'`).
//! 2. **Explicit validation errors** (`ValidationError`, `ZodError`, pydantic, HTTP 422) →
//!    validation, for the same reason: their text lists field names, which can be anything.
//! 3. **Failure modes**: rate_limit, then timeout, then auth. How a call failed decides the fix
//!    (back off, raise a timeout or fix a slow query, rotate a credential) more than whom it
//!    was made to, so a 429 from Stripe is rate_limit and a statement timeout in Postgres is
//!    timeout.
//! 4. **Peers**, most specific first: database, cache, provider (named LLM, payment, cloud…
//!    vendors), then any external service (502/503, resets, DNS).
//! 5. **Generic validation** signals (400, "invalid input", "must be"), last because those
//!    words also appear in other categories' messages (a provider's 400 is our bug to fix).
//! 6. Anything else is internal; a service named like a database or cache (Railway's
//!    "Postgres", "Redis") supplies the category when its text alone says nothing.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{RegexSet, RegexSetBuilder, SetMatches};
use serde::{Deserialize, Serialize};

use crate::model::Level;
pub use crate::model::{Category, Severity, UnknownCategory, UnknownSeverity};

/// What the classifier looks at for one error group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifyInput<'a> {
    /// The level of the line that opened (or last joined) the group.
    pub level: Level,
    /// The exception type, when the source reported one (`psycopg2.OperationalError`).
    pub error_type: Option<&'a str>,
    /// The scrubbed original text.
    pub message: &'a str,
    /// The normalized text the group is keyed by.
    pub template: &'a str,
    /// The service that logged it, when known.
    pub service: Option<&'a str>,
}

/// The verdict for one error group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Classification {
    /// What kind of failure it is.
    pub category: Category,
    /// How urgently someone should look at it.
    pub severity: Severity,
    /// Whether a code or configuration change on our side can make it go away; a property of
    /// the category (see [`Category::fixable`]).
    pub fixable: bool,
}

/// An HTTP status code in a context that makes it one: `status=503`, `status code 429`,
/// `HTTP 401`, `"status":502`, `Error code: 400`, an access log's `HTTP/1.1" 504`. A bare
/// number is too often an id, a port or a duration to count.
macro_rules! status {
    ($codes:literal) => {
        concat!(
            r"(?:\b(?:status|statuscode|status_code|http_status|code|http|httperror|response|error|err|returned|got|received)\W{0,3}(?:code\W{0,3})?|HTTP/\d(?:\.\d)?\W{1,3})(?:",
            $codes,
            r")\b"
        )
    };
}

/// One category rule: the first row with a pattern matching the error type or the message
/// decides the category. Patterns are case-insensitive regex fragments.
struct CategoryRule {
    category: Category,
    patterns: &'static [&'static str],
}

/// Category rules, in precedence order (the module documentation explains the order).
const CATEGORY_RULES: &[CategoryRule] = &[
    // Programming errors: the exception type is the failure, whatever else the text names.
    CategoryRule {
        category: Category::Internal,
        patterns: &[
            r"\b(?:KeyError|AttributeError|IndexError|NameError|UnboundLocalError|ZeroDivisionError|RecursionError|NotImplementedError)\b",
            r"\b(?:NullPointerException|NullReferenceException|ClassCastException|InvalidCastException|(?:Array|String)?IndexOutOfBoundsException|ConcurrentModificationException|NoSuchElementException|NoMethodError|ReferenceError)\b",
            r"\bnil pointer dereference\b|\bnil map\b",
            r"\bcannot read propert(?:y|ies) of (?:undefined|null)\b|\bis not a function\b|\bundefined is not an? ",
            r"'NoneType' object|\bobject has no attribute\b|\bindex out of (?:range|bounds)\b",
            // Node's argument checks say "must be of type", which would otherwise read as validation.
            r"\bERR_INVALID_ARG_TYPE\b|\bargument must be of type\b",
        ],
    },
    // Explicit validation errors: their text lists field names, which can be any word.
    CategoryRule {
        category: Category::Validation,
        patterns: &[
            // No leading \b: Sequelize and others prefix the type (SequelizeValidationError).
            r"ValidationError\b|\bValidatorError\b|\bZodError\b|\bMethodArgumentNotValidException\b",
            r"\bpydantic|\bzod\b|\bjsonschema\b",
            status!("422"),
            r"\bunprocessable entity\b",
        ],
    },
    // Throttling. Before timeout and peers: backing off is the fix whoever throttled us.
    CategoryRule {
        category: Category::RateLimit,
        patterns: &[
            status!("429"),
            r"\btoo many requests\b|TooManyRequests",
            // "ratelimit" without boundaries for RateLimitError and StripeRateLimitError.
            r"\brate[ _-]limit|ratelimit",
            r"\bthrottl",
            // Not a bare "quota exceeded": "Disk quota exceeded" is a full disk.
            r"\bexceeded (?:your |the )?(?:current )?quota\b|\bquota exceeded for\b|\binsufficient_quota\b|QuotaExceeded",
            r"\bresource[ _]?exhausted\b|\bRequestLimitExceeded\b",
            // S3's throttling code; case-sensitive because "slowdown" is an ordinary word.
            r"\b(?-i:SlowDown)\b",
        ],
    },
    // Timeouts, including a peer's (Postgres statement timeout, Redis socket timeout).
    CategoryRule {
        category: Category::Timeout,
        patterns: &[
            // timeout, TimeoutError, ReadTimeout, ETIMEDOUT, ESOCKETTIMEDOUT, time-out.
            r"timed?[_-]?out",
            r"\btimed out\b",
            r"\bdeadline[ _]exceeded\b",
            status!("504"),
        ],
    },
    // Credentials and permissions, before database: a rejected database password is fixed
    // by fixing the password.
    CategoryRule {
        category: Category::Auth,
        patterns: &[
            status!("401|403"),
            r"\bunauthori[sz]ed\b|\bunauthenticated\b|\bnot authenticated\b|\bforbidden\b",
            r"\bauthenticat|\bauthori[sz]ation (?:failed|denied|required|header)",
            r"\b(?:permission|access) (?:is )?denied\b|AccessDenied",
            r"\b(?:invalid|incorrect|expired|missing) (?:api[ _-]?key|token|access token|refresh token|credentials|password|signature|jwt|bearer|session)",
            r"\b(?:jwt|token|session) (?:has )?expired\b|TokenExpired|ExpiredToken|\bJsonWebTokenError\b|\bjwt (?:malformed|must be provided)\b",
            r"\bSignatureDoesNotMatch\b|\bInvalidClientTokenId\b|\bcsrf\b|\bbad credentials\b|\blogin failed\b",
        ],
    },
    // Databases: drivers, ORMs, engines, their error types and their characteristic messages.
    CategoryRule {
        category: Category::Database,
        patterns: &[
            r"\b(?:psycopg|asyncpg|pymysql|MySQLdb|sqlalchemy|sqlite|sqlx|diesel|sea[_-]orm|tokio[_-]postgres|pgx|pgconn|gorm|prisma|sequelize|typeorm|knex|hibernate|jdbc|ActiveRecord)",
            r"\b(?:postgres|mysql|mariadb|mongo|mssql|cockroach|cassandra|dynamodb|clickhouse)",
            r"\b(?:OperationalError|IntegrityError|ProgrammingError|DatabaseError|InterfaceError|DataError|QueryFailedError|PSQLException|DataIntegrityViolationException)\b|\bSQL\w*Exception\b|\bMongo\w*Error\b",
            r"\bsqlstate\b|\bsql\b|\bdatabase\b|\bpq: |\bPG::|\bORA-\d{5}\b",
            r"\bdeadlock (?:detected|found)\b|\bdeadlock victim\b|\bER_LOCK_DEADLOCK\b",
            r"\brelation \S+ does not exist\b|\bcolumn \S+ (?:does not exist|of relation)\b|\bno such (?:table|column)\b|\btable \S+ doesn't exist\b|\bunknown column\b",
            r"\bduplicate key\b|\bunique constraint\b|\bviolates (?:foreign key|not-null|check|unique|exclusion) constraint\b|\bduplicate entry\b|\bforeign key constraint\b|\bE11000\b",
            r"\btoo many (?:connections|clients)\b|\bremaining connection slots\b",
            // Default ports of Postgres, MySQL, MongoDB, SQL Server, CockroachDB, Cassandra:
            // "connect ECONNREFUSED 10.0.0.5:5432" names no database otherwise.
            r"(?:\bport\s+|:)(?:5432|5433|3306|27017|1433|26257|9042)\b",
        ],
    },
    // Caches. Redis used as a queue broker lands here too: same server, same fixes.
    CategoryRule {
        category: Category::Cache,
        patterns: &[
            r"\b(?:redis|ioredis|jedis|lettuce|memcache|valkey|keydb|elasticache)",
            r"(?:\bport\s+|:)(?:6379|11211)\b",
            r"\bcache (?:miss|error|failure|unavailable|server|backend|read|write|get|set|lookup)\b|CacheError",
        ],
    },
    // Named vendors. Before external_service: "stripe 503" is about Stripe, not any upstream.
    CategoryRule {
        category: Category::Provider,
        patterns: &[
            // Prefixes, so that StripeCardError and openai.APIError match.
            r"\b(?:openai|anthropic|stripe|twilio|sendgrid|mailgun|postmark|paypal|braintree|adyen|plaid|gemini|vertexai|bedrock|huggingface|firebase|supabase|cloudflare|googleapis|amazonaws|botocore|boto3|azure)",
            // Short names are only names as whole words.
            r"\b(?:aws|s3|gcp|gcs|sqs|sns|ses|cohere|mistral)\b|\bvertex ai\b|\bgoogle cloud\b",
        ],
    },
    // Any other upstream or the network to it.
    CategoryRule {
        category: Category::ExternalService,
        patterns: &[
            status!("502|503"),
            r"\bbad gateway\b|\bservice unavailable\b|\bupstream\b|\bcircuit breaker\b",
            r"\bECONNRESET\b|\bconnection reset\b|\bECONNREFUSED\b|\bconnection refused\b|\bECONNABORTED\b|\bConnection(?:Refused|Reset|Aborted)Error\b",
            r"\bsocket hang up\b|\bbroken pipe\b|\bEPIPE\b|\bRemoteDisconnected\b|\bConnectionError\b|\bConnectException\b",
            r"\bfetch failed\b|\bfailed to fetch\b|\bNetworkError\b|\bmax retries exceeded\b",
            r"\bENOTFOUND\b|\bEAI_AGAIN\b|\bgetaddrinfo\b|\bname or service not known\b|\bno such host\b|\btemporary failure in name resolution\b|\bcould not resolve host\b|\bUnknownHostException\b|\bNameResolutionError\b",
            r"\bEHOSTUNREACH\b|\bENETUNREACH\b|\bno route to host\b|\bnetwork is unreachable\b",
            r"\bcertificate verify failed\b|\bx509: ",
        ],
    },
    // Generic rejected-input wording, last: these words also appear in other categories.
    CategoryRule {
        category: Category::Validation,
        patterns: &[
            status!("400"),
            r"\bbad request\b|\bvalidation (?:failed|error)\b",
            r"\binvalid (?:input|request|argument|parameter|param|value|payload|body|email|format)\b",
            r"\bfield required\b|\brequired field\b|\bis required\b|\bmust (?:not )?be\b|\bschema\b",
        ],
    },
];

/// Service names that say what the service is, for lines whose text names nothing
/// (a Redis container logging "fork: Cannot allocate memory").
const SERVICE_HINTS: &[CategoryRule] = &[
    CategoryRule {
        category: Category::Database,
        patterns: &[
            r"\b(?:postgres|pg|mysql|mariadb|mongo|mssql|cockroach|cassandra|clickhouse|db|database)",
        ],
    },
    CategoryRule {
        category: Category::Cache,
        patterns: &[r"\b(?:redis|memcache|valkey|keydb|cache)"],
    },
];

/// When a severity rule applies.
enum When {
    /// Always (a level fallback).
    Always,
    /// The group is of this category.
    Category(Category),
    /// A pattern matches the error type or the message.
    Text(&'static [&'static str]),
}

/// One severity rule: the first row whose level and condition hold decides the severity.
struct SeverityRule {
    min_level: Level,
    when: When,
    severity: Severity,
}

/// Severity rules, most severe first; the last rows map the level alone.
const SEVERITY_RULES: &[SeverityRule] = &[
    // The application itself said critical/fatal: trust it.
    SeverityRule {
        min_level: Level::Critical,
        when: When::Always,
        severity: Severity::Critical,
    },
    // The process died or is about to: memory, crashes, Go runtime fatals, stack overflows.
    SeverityRule {
        min_level: Level::Error,
        when: When::Text(&[
            r"\bout of memory\b|\bOOM|\bMemoryError\b|OutOfMemoryError|\bcannot allocate memory\b|\bmemory allocation of \d+ bytes failed\b|\bheap limit\b",
            r"\bpanic(?:ked)?\b|\bsegfault|\bsegmentation fault\b|\bSIGSEGV\b|\bSIGABRT\b|\bcore dumped\b|\bfatal error:|\bhas overflowed its stack\b|\bstack ?overflow",
        ]),
        severity: Severity::Critical,
    },
    // Data is being lost or damaged: every further write may make it worse.
    SeverityRule {
        min_level: Level::Error,
        when: When::Text(&[
            r"\bdata (?:loss|lost|corruption)\b|\bcorrupt(?:ed|ion)? (?:database|index|page|block|table|file ?system|wal|data)\b",
            r"\bdatabase disk image is malformed\b|\bSQLITE_CORRUPT\b|\bchecksum mismatch\b|\binvalid page in block\b",
        ]),
        severity: Severity::Critical,
    },
    // The disk is full: every service on the host starts failing next.
    SeverityRule {
        min_level: Level::Error,
        when: When::Text(&[
            r"\bdisk (?:is )?full\b|\bno space left\b|\bENOSPC\b|\bdisk quota exceeded\b|\bEDQUOT\b",
        ]),
        severity: Severity::Critical,
    },
    // Nobody caught it: the request (or the worker) failed outright, even for a
    // category that is otherwise mild.
    SeverityRule {
        min_level: Level::Error,
        when: When::Text(&[r"\b(?:uncaught|unhandled)|\bfatal\b"]),
        severity: Severity::High,
    },
    // Every query or every request of the service fails with these.
    SeverityRule {
        min_level: Level::Error,
        when: When::Category(Category::Database),
        severity: Severity::High,
    },
    // Locked-out users, or a security control doing its job loudly.
    SeverityRule {
        min_level: Level::Error,
        when: When::Category(Category::Auth),
        severity: Severity::High,
    },
    // Payments, LLM calls, storage: a feature is down until the call works again.
    SeverityRule {
        min_level: Level::Error,
        when: When::Category(Category::Provider),
        severity: Severity::High,
    },
    // A bug in our code that reached the logs as an error.
    SeverityRule {
        min_level: Level::Error,
        when: When::Category(Category::Internal),
        severity: Severity::High,
    },
    // The client sent bad input and was told so; the system worked as designed.
    SeverityRule {
        min_level: Level::Error,
        when: When::Category(Category::Validation),
        severity: Severity::Low,
    },
    // Rate limits, timeouts, cache and upstream failures: degraded, often transient.
    SeverityRule {
        min_level: Level::Error,
        when: When::Always,
        severity: Severity::Medium,
    },
    // A warning is a warning, whatever it mentions.
    SeverityRule {
        min_level: Level::Warn,
        when: When::Always,
        severity: Severity::Low,
    },
    SeverityRule {
        min_level: Level::Trace,
        when: When::Always,
        severity: Severity::Info,
    },
];

/// The text patterns of one or more tables, compiled into one set.
struct CompiledTable {
    /// Most texts match none: `set.is_match` says so in one pass that stops at the first
    /// match, so that `set.matches` (which must read every text to its end) only runs on texts
    /// that match something. (A separate regex of the union of the patterns did the same, at
    /// the price of a second copy of a large automaton and of its per-thread caches: 7 MB.)
    set: RegexSet,
    /// For each table row, the index of its pattern in `set` (none for rows without text).
    pattern_of_row: Vec<Option<usize>>,
}

impl CompiledTable {
    fn new<'r>(rows: impl Iterator<Item = Option<&'r [&'r str]>>, what: &str) -> CompiledTable {
        let mut patterns = Vec::new();
        let pattern_of_row = rows
            .map(|fragments| {
                fragments.map(|fragments| {
                    // ASCII word boundaries keep the set on the lazy DFA (Unicode `\b` would
                    // force the much slower PikeVM on every text).
                    let pattern = format!("(?:{})", fragments.join(")|(?:"));
                    patterns.push(
                        pattern
                            .replace(r"\b", r"(?-u:\b)")
                            .replace(r"\B", r"(?-u:\B)"),
                    );
                    patterns.len() - 1
                })
            })
            .collect();
        let set = RegexSetBuilder::new(&patterns)
            .case_insensitive(true)
            // Room for the lazy DFA of a large case-insensitive set; too small a cache makes
            // the engine give up on the DFA and fall back to the slow one.
            .dfa_size_limit(64 << 20)
            .size_limit(64 << 20)
            .build()
            .unwrap_or_else(|e| panic!("the {what} patterns are valid: {e}"));
        CompiledTable {
            set,
            pattern_of_row,
        }
    }

    /// The set's matches on each text; `None` when no pattern matches any of them.
    fn scan(&self, texts: &[&str]) -> Option<Vec<SetMatches>> {
        if !texts.iter().any(|text| self.set.is_match(text)) {
            return None;
        }
        Some(texts.iter().map(|text| self.set.matches(text)).collect())
    }

    fn row_matched(&self, scans: Option<&[SetMatches]>, row: usize) -> bool {
        match (scans, self.pattern_of_row.get(row).copied().flatten()) {
            (Some(scans), Some(pattern)) => scans.iter().any(|scan| scan.matched(pattern)),
            _ => false,
        }
    }

    /// The first of `rows` whose pattern matched; none when nothing matched at all.
    fn first_matching_row(
        &self,
        scans: Option<&[SetMatches]>,
        mut rows: Range<usize>,
    ) -> Option<usize> {
        let scans = scans?;
        rows.find(|&row| self.row_matched(Some(scans), row))
    }
}

/// The category rows, then the severity rows: one set, so that each text is read once.
static TEXT_RULES: LazyLock<CompiledTable> = LazyLock::new(|| {
    let categories = CATEGORY_RULES.iter().map(|rule| Some(rule.patterns));
    let severities = SEVERITY_RULES.iter().map(|rule| match rule.when {
        When::Text(patterns) => Some(patterns),
        When::Always | When::Category(_) => None,
    });
    CompiledTable::new(categories.chain(severities), "classification")
});

/// The row of [`TEXT_RULES`] of severity rule `row`.
fn severity_row(row: usize) -> usize {
    CATEGORY_RULES.len() + row
}

static SERVICES: LazyLock<CompiledTable> = LazyLock::new(|| {
    CompiledTable::new(
        SERVICE_HINTS.iter().map(|rule| Some(rule.patterns)),
        "service hint",
    )
});

/// The category a service's name says (a database, a cache), if any.
fn service_category(service: &str) -> Option<Category> {
    let scans = SERVICES.scan(&[service]);
    SERVICES
        .first_matching_row(scans.as_deref(), 0..SERVICE_HINTS.len())
        .and_then(|row| SERVICE_HINTS.get(row))
        .map(|rule| rule.category)
}

/// Services whose hint each thread remembers.
const REMEMBERED_SERVICES: usize = 8;
/// The longest service name remembered.
const REMEMBERED_NAME_BYTES: usize = 64;

/// The last few services' hints: a deployment has a handful of services, and a batch of
/// events mostly one, so that most lines skip the hint set's scan (a search's fixed cost,
/// some 150 instructions, that a short name does not amortize). Names longer than
/// [`REMEMBERED_NAME_BYTES`] are not remembered: the memo stays a few hundred bytes.
#[derive(Default)]
struct ServiceMemo {
    entries: Vec<(String, Option<Category>)>,
    /// The entry replaced next once the memo is full (oldest first).
    next: usize,
}

impl ServiceMemo {
    fn get(
        &mut self,
        service: &str,
        compute: impl FnOnce(&str) -> Option<Category>,
    ) -> Option<Category> {
        if let Some((_, category)) = self.entries.iter().find(|(s, _)| s == service) {
            return *category;
        }
        let category = compute(service);
        if service.len() > REMEMBERED_NAME_BYTES {
            return category;
        }
        let entry = (service.to_string(), category);
        if self.entries.len() < REMEMBERED_SERVICES {
            self.entries.push(entry);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = entry;
            self.next = (self.next + 1) % REMEMBERED_SERVICES;
        }
        category
    }
}

thread_local! {
    static SERVICE_MEMO: std::cell::RefCell<ServiceMemo> = std::cell::RefCell::default();
}

/// [`service_category`], remembered per thread for the last [`REMEMBERED_SERVICES`] services.
fn remembered_service_category(service: &str) -> Option<Category> {
    SERVICE_MEMO.with_borrow_mut(|memo| memo.get(service, service_category))
}

/// Classifies an error group by its category rules, severity rules and service hints.
pub fn classify(input: &ClassifyInput) -> Classification {
    // The template is derived from the message and adds nothing, unless the message is gone.
    let text = if input.message.trim().is_empty() {
        input.template
    } else {
        input.message
    };
    let both;
    let texts: &[&str] = match input.error_type {
        Some(error_type) => {
            both = [error_type, text];
            &both
        }
        None => std::slice::from_ref(&text),
    };
    let scans = TEXT_RULES.scan(texts);
    let scans = scans.as_deref();

    let category = TEXT_RULES
        .first_matching_row(scans, 0..CATEGORY_RULES.len())
        .and_then(|row| CATEGORY_RULES.get(row))
        .map(|rule| rule.category)
        .or_else(|| input.service.and_then(remembered_service_category))
        .unwrap_or(Category::Internal);

    let severity = SEVERITY_RULES
        .iter()
        .enumerate()
        .find(|(row, rule)| {
            input.level >= rule.min_level
                && match rule.when {
                    When::Always => true,
                    When::Category(wanted) => wanted == category,
                    When::Text(_) => TEXT_RULES.row_matched(scans, severity_row(*row)),
                }
        })
        .map_or(Severity::Info, |(_, rule)| rule.severity);

    Classification {
        category,
        severity,
        fixable: category.fixable(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use Category::*;
    use Severity::{Critical, High, Info, Low, Medium};

    /// (name, level, error type, message, expected category, expected severity)
    type Case = (
        &'static str,
        Level,
        Option<&'static str>,
        &'static str,
        Category,
        Severity,
    );

    const E: Level = Level::Error;

    const CASES: &[Case] = &[
        // Python
        ("py psycopg2 refused", E, Some("psycopg2.OperationalError"),
         r#"connection to server at "db.internal" (10.0.0.5), port 5432 failed: Connection refused"#,
         Database, High),
        ("py sqlalchemy unique", E, Some("sqlalchemy.exc.IntegrityError"),
         r#"(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "users_email_key""#,
         Database, High),
        ("py KeyError", E, Some("KeyError"), "'user_id'", Internal, High),
        ("py AttributeError naming timeout", E, Some("AttributeError"),
         "'NoneType' object has no attribute 'timeout'", Internal, High),
        ("py pydantic", E, Some("pydantic_core._pydantic_core.ValidationError"),
         "1 validation error for CreateUser\nemail\n  Field required [type=missing]", Validation, Low),
        ("py openai 429", E, Some("openai.RateLimitError"),
         "Error code: 429 - {'error': {'message': 'Rate limit reached for gpt-4o in organization org-<redacted>'}}",
         RateLimit, Medium),
        ("py openai timeout", E, Some("openai.APITimeoutError"), "Request timed out.", Timeout, Medium),
        ("py openai bad key", E, Some("openai.AuthenticationError"),
         "Error code: 401 - {'error': {'message': 'Incorrect API key provided: <redacted>'}}", Auth, High),
        ("py anthropic overloaded", E, Some("anthropic.InternalServerError"),
         "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}",
         Provider, High),
        ("py redis refused", E, Some("redis.exceptions.ConnectionError"),
         "Error 111 connecting to localhost:6379. Connection refused.", Cache, Medium),
        ("py requests DNS", E, Some("requests.exceptions.ConnectionError"),
         "HTTPSConnectionPool(host='api.partner.io', port=443): Max retries exceeded with url: /v1/orders (Caused by NameResolutionError(\"Failed to resolve 'api.partner.io' ([Errno -2] Name or service not known)\"))",
         ExternalService, Medium),
        ("py MemoryError", E, Some("MemoryError"), "", Internal, Critical),
        ("py boto S3", E, Some("botocore.exceptions.ClientError"),
         "An error occurred (NoSuchBucket) when calling the PutObject operation: The specified bucket does not exist",
         Provider, High),
        ("py ValueError", E, Some("ValueError"), "invalid literal for int() with base 10: 'abc'", Internal, High),
        ("py stripe 429 beats provider", E, Some("stripe.error.RateLimitError"),
         "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
         RateLimit, Medium),
        // Node
        ("node ECONNREFUSED postgres", E, None, "Error: connect ECONNREFUSED 127.0.0.1:5432", Database, High),
        ("node fetch failed", E, Some("TypeError"), "fetch failed", ExternalService, Medium),
        ("node undefined naming stripe", E, Some("TypeError"),
         "Cannot read properties of undefined (reading 'stripe')", Internal, High),
        ("node ENOTFOUND", E, None, "Error: getaddrinfo ENOTFOUND api.example.com", ExternalService, Medium),
        ("node prisma unique", E, Some("PrismaClientKnownRequestError"),
         "Invalid `prisma.user.create()` invocation: Unique constraint failed on the fields: (`email`)",
         Database, High),
        ("node zod", E, Some("ZodError"),
         r#"[{"code":"invalid_type","expected":"string","received":"undefined","path":["email"],"message":"Required"}]"#,
         Validation, Low),
        ("node jwt expired", E, Some("TokenExpiredError"), "jwt expired", Auth, High),
        ("node socket hang up", E, None, "Error: socket hang up", ExternalService, Medium),
        ("node heap OOM", E, None,
         "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", Internal, Critical),
        ("node stripe card", E, Some("StripeCardError"), "Your card was declined.", Provider, High),
        ("node sequelize unique", E, Some("SequelizeUniqueConstraintError"), "Validation error", Database, High),
        ("node axios 503", E, None, "AxiosError: Request failed with status code 503", ExternalService, Medium),
        ("node arg type", E, Some("TypeError"),
         r#"[ERR_INVALID_ARG_TYPE]: The "path" argument must be of type string. Received undefined"#,
         Internal, High),
        ("node unhandled validation", E, None,
         r#"Unhandled rejection ValidationError: "email" is required"#, Validation, High),
        // Go
        ("go nil deref", E, None,
         "panic: runtime error: invalid memory address or nil pointer dereference", Internal, Critical),
        ("go context deadline", E, None,
         r#"Get "https://api.partner.io/v1": context deadline exceeded"#, Timeout, Medium),
        ("go pq auth beats database", E, None,
         r#"pq: password authentication failed for user "app""#, Auth, High),
        ("go redis DNS", E, None,
         "dial tcp: lookup redis-master on 10.96.0.10:53: no such host", Cache, Medium),
        ("go goroutine deadlock", E, None,
         "fatal error: all goroutines are asleep - deadlock!", Internal, Critical),
        ("go grpc quota", E, None,
         "rpc error: code = ResourceExhausted desc = Quota exceeded for quota metric 'Requests' and limit 'Requests per minute'",
         RateLimit, Medium),
        ("go grpc unavailable", E, None,
         r#"rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.0.0.7:50051: connect: connection refused""#,
         ExternalService, Medium),
        // Java
        ("java NPE", E, Some("java.lang.NullPointerException"),
         r#"Cannot invoke "String.length()" because "<local1>" is null"#, Internal, High),
        ("java relation missing", E, Some("org.postgresql.util.PSQLException"),
         r#"ERROR: relation "orders" does not exist"#, Database, High),
        ("java heap space", E, Some("java.lang.OutOfMemoryError"), "Java heap space", Internal, Critical),
        ("java hikari timeout beats database", E, Some("java.sql.SQLTransientConnectionException"),
         "HikariPool-1 - Connection is not available, request timed out after 30000ms.", Timeout, Medium),
        ("java spring validation", E, Some("org.springframework.web.bind.MethodArgumentNotValidException"),
         "Validation failed for argument [0]: email must not be blank", Validation, Low),
        ("java access denied", E, Some("org.springframework.security.access.AccessDeniedException"),
         "Access is denied", Auth, High),
        // Rust
        ("rust unwrap panic", E, None,
         "thread 'tokio-runtime-worker' panicked at src/handlers.rs:42:18:\ncalled `Option::unwrap()` on a `None` value",
         Internal, Critical),
        ("rust sqlx unique", E, None,
         r#"error returned from database: duplicate key value violates unique constraint "users_pkey""#,
         Database, High),
        ("rust reqwest timeout to openai", E, None,
         "error sending request for url (https://api.openai.com/v1/chat/completions): operation timed out",
         Timeout, Medium),
        ("rust disk full", E, None, "Error: No space left on device (os error 28)", Internal, Critical),
        // Databases speaking for themselves
        ("pg statement timeout", E, None,
         "ERROR: canceling statement due to statement timeout", Timeout, Medium),
        ("sqlite corrupt", E, None,
         "SQLITE_CORRUPT: database disk image is malformed", Database, Critical),
        ("mysql deadlock", E, None,
         "Deadlock found when trying to get lock; try restarting transaction", Database, High),
        ("pg fatal shutdown", E, None, "FATAL:  the database system is shutting down", Database, High),
        // HTTP gateways
        ("nginx upstream timeout", E, None,
         r#"upstream timed out (110: Connection timed out) while reading response header from upstream, client: 10.0.0.1, server: api, request: "GET /v1 HTTP/1.1", upstream: "http://10.0.0.8:8080/v1""#,
         Timeout, Medium),
        ("nginx upstream refused", E, None,
         r#"connect() failed (111: Connection refused) while connecting to upstream, client: 10.0.0.1, request: "GET /v1 HTTP/1.1""#,
         ExternalService, Medium),
        ("access log 401", E, None,
         r#"10.0.0.1 - - [12/Mar/2025:10:00:00 +0000] "POST /api/login HTTP/1.1" 401 32 "-" "curl/8.0""#,
         Auth, High),
        ("access log 429", E, None, r#""GET /api/search HTTP/1.1" 429 0"#, RateLimit, Medium),
        ("access log 422", E, None, r#""POST /api/orders HTTP/1.1" 422 120"#, Validation, Low),
        ("access log 504", E, None, r#""GET /api/report HTTP/2.0" 504 167"#, Timeout, Medium),
        ("gateway 502", E, None, "HTTP 502 Bad Gateway", ExternalService, Medium),
        ("envoy reset", E, None,
         "upstream connect error or disconnect/reset before headers. reset reason: connection failure",
         ExternalService, Medium),
        ("bad request json", E, None, "status=400 invalid request body", Validation, Low),
        // Levels
        ("warn is low", Level::Warn, None, "retrying after connection reset", ExternalService, Low),
        ("info is info", Level::Info, None, "cache miss for key user:42", Cache, Info),
        ("critical wins over validation", Level::Critical, Some("ValidationError"), "bad config", Validation, Critical),
        ("critical keyword needs error level", Level::Warn, None, "heap at 91%, close to out of memory", Internal, Low),
        // Not fooled by look-alikes
        ("runtime output is no timeout", E, None, "failed to parse runtime output", Internal, High),
        ("duration is no status", E, None, "render took 400ms then crashed", Internal, High),
        ("disk quota is no rate limit", E, None, "write /data/x: Disk quota exceeded", Internal, Critical),
        ("accurate limit is no rate limit", E, None, "could not compute an accurate limit", Internal, High),
    ];

    #[test]
    fn realistic_lines_are_classified_by_the_tables() {
        let mut failures = Vec::new();
        for &(name, level, error_type, message, category, severity) in CASES {
            let got = classify(&ClassifyInput {
                level,
                error_type,
                message,
                template: message,
                service: Some("api"),
            });
            let want = Classification {
                category,
                severity,
                fixable: category.fixable(),
            };
            if got != want {
                failures.push(format!("{name}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
        assert!(CASES.len() >= 30);
    }

    #[test]
    fn the_early_no_is_given_exactly_when_no_row_matches() {
        let texts = CASES
            .iter()
            .flat_map(|case| case.2.into_iter().chain([case.3]))
            .chain(["", "nothing to see", "GET /health 200", "ERROR: boom"]);
        for text in texts {
            assert_eq!(
                TEXT_RULES.scan(&[text]).is_some(),
                TEXT_RULES.set.matches(text).matched_any(),
                "{text}"
            );
        }
    }

    #[test]
    fn remembered_service_hints_are_the_hints() {
        // More services than the memo holds, in an order that evicts and brings back.
        let services = [
            "postgres",
            "api",
            "redis",
            "web",
            "db-replica",
            "worker",
            "cache",
            "mysql-main",
            "billing",
            "pg",
            "api",
            "postgres",
            "valkey",
            "web",
            "Postgres",
            "redis",
            "",
            "a-very-long-service-name-that-is-longer-than-any-name-the-memo-keeps-postgres",
        ];
        let mut memo = ServiceMemo::default();
        for round in 0..3 {
            for service in services {
                let expected = service_category(service);
                assert_eq!(
                    memo.get(service, service_category),
                    expected,
                    "{service} (round {round})"
                );
                assert_eq!(remembered_service_category(service), expected, "{service}");
            }
        }
        assert!(memo.entries.len() <= REMEMBERED_SERVICES);
        assert_eq!(service_category("postgres"), Some(Database));
        assert_eq!(service_category("redis"), Some(Cache));
        assert_eq!(service_category("api"), None);
    }

    #[test]
    fn a_database_or_cache_service_names_what_its_text_does_not() {
        let cases = [
            (
                "redis container",
                Some("Redis"),
                "# Can't save in background: fork: Cannot allocate memory",
                Cache,
                Critical,
            ),
            (
                "postgres container",
                Some("postgres-primary"),
                "could not write to file \"pg_wal/xlogtemp.42\"",
                Database,
                High,
            ),
            (
                "plain api keeps internal",
                Some("api"),
                "could not write to file",
                Internal,
                High,
            ),
            (
                "no service",
                None,
                "could not write to file",
                Internal,
                High,
            ),
            (
                "text beats service",
                Some("postgres"),
                "KeyError: 'x'",
                Internal,
                High,
            ),
        ];
        for (name, service, message, category, severity) in cases {
            let got = classify(&ClassifyInput {
                level: Level::Error,
                error_type: None,
                message,
                template: message,
                service,
            });
            assert_eq!((got.category, got.severity), (category, severity), "{name}");
        }
    }

    #[test]
    fn the_template_stands_in_for_an_empty_message() {
        let got = classify(&ClassifyInput {
            level: Level::Error,
            error_type: None,
            message: "  ",
            template: "connect ECONNREFUSED *:5432",
            service: None,
        });
        assert_eq!(got.category, Database);
    }

    #[test]
    fn only_validation_and_internal_are_not_fixable() {
        for (i, category) in Category::ALL.iter().enumerate() {
            assert_eq!(
                *category as usize, i,
                "Category::ALL is in declaration order"
            );
        }
        let unfixable: Vec<Category> = Category::ALL.into_iter().filter(|c| !c.fixable()).collect();
        assert_eq!(unfixable, [Validation, Internal]);
    }

    #[test]
    fn every_category_but_the_default_has_a_rule() {
        for category in Category::ALL {
            assert!(
                CATEGORY_RULES.iter().any(|rule| rule.category == category),
                "{category}"
            );
        }
    }

    #[test]
    fn names_round_trip_through_str_and_serde() {
        for category in Category::ALL {
            assert_eq!(category.as_str().parse::<Category>(), Ok(category));
            assert_eq!(
                serde_json::to_string(&category).ok(),
                Some(format!("\"{}\"", category.as_str()))
            );
        }
        assert_eq!("Rate-Limit".parse::<Category>(), Ok(RateLimit));
        assert_eq!("external service".parse::<Category>(), Ok(ExternalService));
        assert!("network".parse::<Category>().is_err());

        for severity in Severity::ALL {
            assert_eq!(severity.as_str().parse::<Severity>(), Ok(severity));
            assert_eq!(
                serde_json::to_string(&severity).ok(),
                Some(format!("\"{}\"", severity.as_str()))
            );
        }
        assert_eq!("critical".parse::<Severity>(), Ok(Critical));
        assert!("urgent".parse::<Severity>().is_err());
        assert_eq!(
            serde_json::from_str::<Severity>("\"HIGH\"").ok(),
            Some(High)
        );
    }

    #[test]
    fn severities_are_ordered_least_severe_first() {
        assert!(Info < Low && Low < Medium && Medium < High && High < Critical);
        let mut sorted = Severity::ALL;
        sorted.sort();
        assert_eq!(sorted, Severity::ALL);
    }

    #[test]
    fn the_level_fallbacks_cover_every_level() {
        for level in Level::ALL {
            let got = classify(&ClassifyInput {
                level,
                error_type: None,
                message: "something happened",
                template: "something happened",
                service: None,
            });
            let want = match level {
                Level::Critical => Critical,
                Level::Error => High,
                Level::Warn => Low,
                _ => Info,
            };
            assert_eq!(got.severity, want, "{level}");
        }
    }

    #[test]
    fn long_lines_are_classified_in_linear_time() {
        // A pathological input for backtracking engines; RegexSet never backtracks.
        let message = "relation ".repeat(20_000) + &"a".repeat(100_000);
        let started = std::time::Instant::now();
        let got = classify(&ClassifyInput {
            level: Level::Error,
            error_type: None,
            message: &message,
            template: "",
            service: None,
        });
        assert_eq!(got.category, Internal);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
