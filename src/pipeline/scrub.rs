//! Scrubbing: secrets and personal data become typed placeholders before anything is stored,
//! fingerprinted, shown or sent anywhere.
//!
//! All built-in rules are one regex (one linear pass over the text, whatever the number of
//! rules); checksums (Luhn for cards, mod-97 for IBANs) keep look-alike numbers intact.
//!
//! The regex's matches are found by its DFA alone; the slower capture engine only runs to
//! split a match into its parts, and never for the commonest match in logs, a long number
//! (a card candidate: ids, block numbers), whose rule its text alone identifies.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Match, Regex};

use crate::model::Event;

/// Key names whose values are secrets wherever they appear (`password=…`, `"token": "…"`).
const SECRET_KEY: &str = r"(?i:[a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|authorization|credentials?|session[_-]?id|cookie|signature)[a-z0-9_.-]*)";

static BUILTIN: LazyLock<Regex> = LazyLock::new(|| {
    let patterns = [
        r"(?P<pem>-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|\z))".to_string(),
        r"(?P<jwt>\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})".to_string(),
        r"(?P<auth>\b(?i:bearer|basic|token)\s+)(?P<credential>[A-Za-z0-9._~+/=-]{12,})".to_string(),
        r"(?P<urlcreds>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)(?P<urlpass>[^\s@/]+)(?P<at>@)".to_string(),
        r"(?P<apikey>\b(?:sk-ant-[A-Za-z0-9_-]{16,}|sk-(?:proj-)?[A-Za-z0-9_-]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}|xox[abprs]-[A-Za-z0-9-]{10,}|(?:AKIA|ASIA)[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}|npm_[A-Za-z0-9]{36}|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}|(?:r|s)k_live_[A-Za-z0-9]{20,}))".to_string(),
        r"(?P<webhook>https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+)".to_string(),
        // Also JSON inside a string, where the quotes are escaped: \"password\":\"…\".
        format!(r#"(?P<kv>\\?["']?\b{SECRET_KEY}\\?["']?\s*[=:]\s*)(?P<kvval>(?:(?i:bearer|basic|token|digest)\s+)?(?:\\"(?:[^"\\]|\\[^"])*\\"|"[^"]*"|'[^']*'|[^\s,;&"'\\}}\])]+))"#),
        r"(?P<email>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)".to_string(),
        r"(?P<iban>\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b)".to_string(),
        r"(?P<card>\b\d(?:[ -]?\d){12,18}\b)".to_string(),
    ];
    // ASCII word boundaries keep the regex on its fast DFA for any text.
    let joined = patterns.join("|").replace(r"\b", r"(?-u:\b)");
    Regex::new(&joined).expect("the scrubbing patterns are valid")
});

/// Replaces secrets and personal data in text, with the built-in rules plus extra patterns.
#[derive(Debug, Clone, Default)]
pub struct Scrubber {
    extra: Option<Regex>,
}

impl Scrubber {
    /// A scrubber with extra patterns (each match becomes `<redacted>`), e.g. customer ids.
    pub fn new(extra_patterns: &[String]) -> Result<Scrubber, regex::Error> {
        let extra = if extra_patterns.is_empty() {
            None
        } else {
            let joined = extra_patterns
                .iter()
                .map(|p| format!("(?:{p})"))
                .collect::<Vec<_>>()
                .join("|");
            Some(Regex::new(&joined)?)
        };
        Ok(Scrubber { extra })
    }

    /// The text with every secret replaced by a typed placeholder.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let builtin = scrub_builtin(text);
        match &self.extra {
            None => builtin,
            Some(extra) => match extra.replace_all(&builtin, "<redacted>") {
                Cow::Borrowed(_) => builtin,
                Cow::Owned(s) => Cow::Owned(s),
            },
        }
    }

    /// Scrubs every text field of an event: message, stack trace, exception, attributes.
    pub fn scrub_event(&self, event: &mut Event) {
        scrub_in_place(self, &mut event.message);
        if let Some(trace) = &mut event.stack_trace {
            scrub_in_place(self, trace);
        }
        if let Some(exception) = &mut event.exception {
            scrub_in_place(self, &mut exception.value);
            for frame in &mut exception.frames {
                for field in [&mut frame.file, &mut frame.function, &mut frame.module]
                    .into_iter()
                    .flatten()
                {
                    scrub_in_place(self, field);
                }
            }
        }
        let secret_key = secret_key_regex();
        for (key, value) in event.attributes.iter_mut() {
            if secret_key.is_match(key) {
                *value = "<secret>".to_string();
            } else {
                scrub_in_place(self, value);
            }
        }
        for field in [
            &mut event.service,
            &mut event.deployment,
            &mut event.environment,
        ]
        .into_iter()
        .flatten()
        {
            scrub_in_place(self, field);
        }
    }
}

fn scrub_in_place(scrubber: &Scrubber, text: &mut String) {
    if let Cow::Owned(clean) = scrubber.scrub(text) {
        *text = clean;
    }
}

fn secret_key_regex() -> &'static Regex {
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!("^{SECRET_KEY}$")).expect("the secret key pattern is valid")
    });
    &KEY
}

/// The text with the built-in rules applied; borrowed when nothing was replaced.
fn scrub_builtin(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut last = 0;
    for m in BUILTIN.find_iter(text) {
        let Some(replacement) = replacement(text, m) else {
            continue;
        };
        if out.capacity() == 0 {
            // Room for the text and a few placeholders longer than what they replace: one
            // allocation instead of a growth per piece.
            out.reserve(text.len() + 32);
        }
        out.push_str(&text[last..m.start()]);
        out.push_str(&replacement);
        last = m.end();
    }
    if last == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[last..]);
    Cow::Owned(out)
}

/// What a match of the built-in regex becomes; `None` when it stays (a number failing the Luhn
/// check, an IBAN failing mod-97).
fn replacement(text: &str, m: Match<'_>) -> Option<Cow<'static, str>> {
    if is_card_shaped(m.as_str()) {
        return luhn_is_valid(m.as_str()).then_some(Cow::Borrowed("<card>"));
    }
    // The leftmost match from `m.start()` is `m` itself: the same match, now with its groups.
    let caps = BUILTIN.captures_at(text, m.start())?;
    replace(&caps)
}

/// Only the card rule matches a text of digits, spaces and dashes: every other rule's match
/// has a letter or an `@`.
fn is_card_shaped(matched: &str) -> bool {
    matched
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-')
}

/// The replacement of a match, from its groups; `None` when the match stays as it is.
fn replace(caps: &Captures) -> Option<Cow<'static, str>> {
    let group = |name: &str| caps.name(name).map(|m| m.as_str());
    let fixed = |placeholder: &'static str| Some(Cow::Borrowed(placeholder));
    if group("pem").is_some() {
        fixed("<private-key>")
    } else if group("jwt").is_some() {
        fixed("<jwt>")
    } else if let (Some(auth), Some(_)) = (group("auth"), group("credential")) {
        Some(Cow::Owned(format!("{auth}<token>")))
    } else if let (Some(prefix), Some(_), Some(at)) =
        (group("urlcreds"), group("urlpass"), group("at"))
    {
        Some(Cow::Owned(format!("{prefix}<password>{at}")))
    } else if group("apikey").is_some() {
        fixed("<api-key>")
    } else if group("webhook").is_some() {
        fixed("<webhook-url>")
    } else if let (Some(key), Some(value)) = (group("kv"), group("kvval")) {
        let quote = if value.starts_with('"') {
            "\""
        } else if value.starts_with('\'') {
            "'"
        } else {
            ""
        };
        Some(Cow::Owned(format!("{key}{quote}<secret>{quote}")))
    } else if group("email").is_some() {
        fixed("<email>")
    } else if let Some(iban) = group("iban") {
        iban_is_valid(iban).then_some(Cow::Borrowed("<iban>"))
    } else if let Some(card) = group("card") {
        luhn_is_valid(card).then_some(Cow::Borrowed("<card>"))
    } else {
        None
    }
}

/// The Luhn checksum of card numbers (separators ignored).
pub fn luhn_is_valid(number: &str) -> bool {
    let mut count = 0;
    let mut sum = 0;
    // From the last digit: every second digit doubled, minus 9 when that exceeds 9.
    for d in number
        .bytes()
        .rev()
        .filter(u8::is_ascii_digit)
        .map(|b| u32::from(b - b'0'))
    {
        sum += match (count % 2, d * 2) {
            (1, doubled) if doubled > 9 => doubled - 9,
            (1, doubled) => doubled,
            _ => d,
        };
        count += 1;
    }
    (13..=19).contains(&count) && sum % 10 == 0
}

/// The ISO 13616 mod-97 check of IBANs (spaces ignored).
pub fn iban_is_valid(iban: &str) -> bool {
    let compact: String = iban.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut remainder: u64 = 0;
    for c in tail.chars().chain(head.chars()) {
        let value = match c.to_digit(36) {
            Some(v) => v as u64,
            None => return false,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    remainder == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The specification of [`scrub_builtin`]: every match replaced from its groups.
    fn reference(text: &str) -> String {
        BUILTIN
            .replace_all(text, |caps: &Captures| match replace(caps) {
                Some(replacement) => replacement.into_owned(),
                None => caps.get(0).map_or("", |m| m.as_str()).to_string(),
            })
            .into_owned()
    }

    /// Pieces of secrets, numbers and separators, so that matches are frequent and adjacent.
    fn secret_shaped() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            "[0-9]{1,19}",
            "[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{4}",
            Just("4111 1111 1111 1111".to_string()),
            Just("DE89 3704 0044 0532 0130 00".to_string()),
            Just("GB82WEST12345698765432".to_string()),
            Just("bob@example.com".to_string()),
            Just("password=".to_string()),
            Just("\"token\": \"".to_string()),
            Just("Bearer ".to_string()),
            Just("postgres://app:".to_string()),
            Just("@db".to_string()),
            Just("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk".to_string()),
            Just("AKIAIOSFODNN7EXAMPLE".to_string()),
            "[a-zA-Z_]{1,8}",
            "[ .:/=_,;'\"-]{1,2}",
            "\\PC{1,2}",
        ];
        prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn matches_the_reference(text in secret_shaped()) {
            prop_assert_eq!(scrub_builtin(&text).into_owned(), reference(&text), "{:?}", text);
        }
    }

    fn scrub(text: &str) -> String {
        Scrubber::default().scrub(text).into_owned()
    }

    #[test]
    fn rules() {
        let cases = [
            ("login failed for alice@example.com", "login failed for <email>"),
            ("Authorization: Bearer abcdefghijklmnop1234", "Authorization: <secret>"),
            ("sent header bearer abcdefghijklmnop1234", "sent header bearer <token>"),
            ("Basic dXNlcjpwYXNzd29yZDEyMw==", "Basic <token>"),
            ("key sk-ant-api03-abcdefghijklmnopqrstuvwx", "key <api-key>"),
            ("key sk-proj-abcdefghijklmnopqrstuvwxyz", "key <api-key>"),
            ("push with ghp_abcdefghijklmnopqrstuvwxyz0123456789", "push with <api-key>"),
            ("token github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "token <token>"),
            ("slack xoxb-123456789012-abcdefghijkl", "slack <api-key>"),
            ("aws AKIAIOSFODNN7EXAMPLE used", "aws <api-key> used"),
            ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt <jwt>"),
            ("postgres://app:hunter2@db:5432/x failed", "postgres://app:<password>@db:5432/x failed"),
            ("password=hunter2 user=bob", "password=<secret> user=bob"),
            ("RAILWAY_API_TOKEN=6f1c3b2a-0000-4a5b-9c8d-1234567890ab", "RAILWAY_API_TOKEN=<secret>"),
            (r#"{"password": "hunter 2", "user": "bob"}"#, r#"{"password": "<secret>", "user": "bob"}"#),
            ("client_secret: abc123", "client_secret: <secret>"),
            (r#"body="{\"password\":\"hunter2\"}""#, r#"body="{\"password\":<secret>}""#),
            (r#"password=\"hunter2\" next"#, r#"password=<secret> next"#),
            ("card 4111 1111 1111 1111 declined", "card <card> declined"),
            ("card 4111111111111112 declined", "card 4111111111111112 declined"),
            ("order 1234567890123 shipped", "order 1234567890123 shipped"),
            ("iban DE89 3704 0044 0532 0130 00 rejected", "iban <iban> rejected"),
            ("iban GB82WEST12345698765432 ok", "iban <iban> ok"),
            ("code DE00 0000 0000 0000 0000 00 bad", "code DE00 0000 0000 0000 0000 00 bad"),
            ("hook https://hooks.slack.com/services/T000/B000/XXXX", "hook <webhook-url>"),
            ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- tail", "<private-key> tail"),
            ("nothing secret here: 42 items", "nothing secret here: 42 items"),
        ];
        for (input, expected) in cases {
            assert_eq!(scrub(input), expected, "input: {input}");
        }
    }

    #[test]
    fn extra_patterns() {
        let s = Scrubber::new(&["cust_[0-9]+".to_string()]).expect("valid");
        assert_eq!(
            s.scrub("customer cust_12345 and bob@x.io"),
            "customer <redacted> and <email>"
        );
        assert!(Scrubber::new(&["(".to_string()]).is_err());
    }

    #[test]
    fn checksums() {
        assert!(luhn_is_valid("4111111111111111"));
        assert!(luhn_is_valid("5500-0000-0000-0004"));
        assert!(!luhn_is_valid("4111111111111112"));
        assert!(!luhn_is_valid("411"));
        assert!(iban_is_valid("DE89370400440532013000"));
        assert!(iban_is_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(!iban_is_valid("GB83WEST12345698765432"));
    }
}
