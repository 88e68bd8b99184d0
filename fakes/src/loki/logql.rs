//! The LogQL subset the fake understands: a stream selector with `=`, `!=`, `=~`, `!~`
//! matchers and `|=` / `!=` line filters, e.g. `{service_name="api", env=~"prod|staging"} |= "panic"`.
//!
//! Errors read like Loki's: `parse error at line 1, col N: syntax error: unexpected …`.

use std::collections::BTreeMap;

use regex::Regex;

/// A parsed log query.
#[derive(Debug, Clone)]
pub struct LogQuery {
    matchers: Vec<Matcher>,
    filters: Vec<LineFilter>,
}

#[derive(Debug, Clone)]
struct Matcher {
    name: String,
    op: MatchOp,
}

#[derive(Debug, Clone)]
enum MatchOp {
    Equal(String),
    NotEqual(String),
    Matches(Regex),
    NotMatches(Regex),
}

#[derive(Debug, Clone)]
struct LineFilter {
    contains: bool,
    text: String,
}

/// Loki's message when every matcher accepts the empty string.
const EMPTY_COMPATIBLE: &str = "parse error : queries require at least one regexp or equality \
matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet \
this requirement, but app=~\".+\" will";

impl LogQuery {
    /// Parses `text`; the error is the body Loki would send with its 400.
    pub fn parse(text: &str) -> Result<LogQuery, String> {
        let mut parser = Parser { text, pos: 0 };
        let query = parser.query()?;
        if !query.matchers.iter().any(|m| !m.op.matches("")) {
            return Err(EMPTY_COMPATIBLE.to_string());
        }
        Ok(query)
    }

    /// Whether a stream with these labels is selected.
    pub fn selects(&self, labels: &BTreeMap<String, String>) -> bool {
        self.matchers.iter().all(|m| {
            let value = labels.get(&m.name).map_or("", String::as_str);
            m.op.matches(value)
        })
    }

    /// Whether a line passes every line filter.
    pub fn keeps(&self, line: &str) -> bool {
        self.filters
            .iter()
            .all(|f| line.contains(&f.text) == f.contains)
    }
}

impl MatchOp {
    fn matches(&self, value: &str) -> bool {
        match self {
            MatchOp::Equal(v) => value == v,
            MatchOp::NotEqual(v) => value != v,
            MatchOp::Matches(re) => re.is_match(value),
            MatchOp::NotMatches(re) => !re.is_match(value),
        }
    }
}

/// A recursive-descent parser over the query text; `pos` is a byte offset.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn query(&mut self) -> Result<LogQuery, String> {
        self.skip_space();
        self.expect("{")?;
        let mut matchers = Vec::new();
        self.skip_space();
        if !self.eat("}") {
            loop {
                matchers.push(self.matcher()?);
                self.skip_space();
                if self.eat("}") {
                    break;
                }
                self.expect(",")?;
                self.skip_space();
            }
        }
        let mut filters = Vec::new();
        loop {
            self.skip_space();
            if self.rest().is_empty() {
                break;
            }
            let contains = if self.eat("|=") {
                true
            } else if self.eat("!=") {
                false
            } else {
                return Err(self.unexpected());
            };
            self.skip_space();
            filters.push(LineFilter {
                contains,
                text: self.string()?,
            });
        }
        Ok(LogQuery { matchers, filters })
    }

    fn matcher(&mut self) -> Result<Matcher, String> {
        let name = self.identifier()?;
        self.skip_space();
        let op = ["=~", "!~", "!=", "="]
            .into_iter()
            .find(|op| self.eat(op))
            .ok_or_else(|| self.unexpected())?;
        self.skip_space();
        let value = self.string()?;
        let op = match op {
            "=" => MatchOp::Equal(value),
            "!=" => MatchOp::NotEqual(value),
            regex_op => {
                let re = Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("parse error : error parsing regexp: {e}"))?;
                if regex_op == "=~" {
                    MatchOp::Matches(re)
                } else {
                    MatchOp::NotMatches(re)
                }
            }
        };
        Ok(Matcher { name, op })
    }

    fn identifier(&mut self) -> Result<String, String> {
        let rest = self.rest();
        let len = rest
            .char_indices()
            .find(|&(i, c)| !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
            .map_or(rest.len(), |(i, _)| i);
        if len == 0 {
            return Err(self.unexpected());
        }
        let name = rest[..len].to_string();
        self.pos += len;
        Ok(name)
    }

    /// A `"double-quoted"` string with backslash escapes, or a `` `raw` `` one.
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        let mut chars = self.rest().char_indices();
        let quote = match chars.next() {
            Some((_, q @ ('"' | '`'))) => q,
            _ => return Err(self.unexpected()),
        };
        let mut value = String::new();
        let mut escaped = false;
        for (i, c) in chars {
            if escaped {
                value.push(match c {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                escaped = false;
            } else if c == '\\' && quote == '"' {
                escaped = true;
            } else if c == quote {
                self.pos = start + i + c.len_utf8();
                return Ok(value);
            } else {
                value.push(c);
            }
        }
        self.pos = self.text.len();
        Err(format!(
            "parse error at line 1, col {}: literal not terminated",
            start + 1
        ))
    }

    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        let found = self.rest().starts_with(token);
        if found {
            self.pos += token.len();
        }
        found
    }

    fn expect(&mut self, token: &str) -> Result<(), String> {
        if self.eat(token) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn unexpected(&self) -> String {
        let what = match self.rest().chars().next() {
            None => "$end".to_string(),
            Some(c) => c.to_string(),
        };
        format!(
            "parse error at line 1, col {}: syntax error: unexpected {what}",
            self.pos + 1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn selectors_and_filters() {
        let api = labels(&[("service_name", "api"), ("env", "prod")]);
        let worker = labels(&[("service_name", "worker")]);
        for (query, selects_api, selects_worker) in [
            (r#"{service_name="api"}"#, true, false),
            (r#"{service_name!="api", service_name=~".+"}"#, false, true),
            (r#"{service_name=~"api|worker"}"#, true, true),
            (r#"{service_name=~"ap"}"#, false, false),
            (r#"{service_name=~".+", env!~"prod"}"#, false, true),
            (r#"  { service_name = `api` , env="prod" }  "#, true, false),
        ] {
            let q = LogQuery::parse(query).expect(query);
            assert_eq!(q.selects(&api), selects_api, "{query} on api");
            assert_eq!(q.selects(&worker), selects_worker, "{query} on worker");
        }
        let q = LogQuery::parse(r#"{job="x"} |= "panic" != "test""#).expect("valid");
        assert!(q.keeps("thread 'main' panicked"));
        assert!(!q.keeps("panic in test"));
        assert!(!q.keeps("all good"));
    }

    #[test]
    fn parse_errors_read_like_lokis() {
        for (query, message) in [
            (
                "",
                "parse error at line 1, col 1: syntax error: unexpected $end",
            ),
            (
                "rate({job=\"x\"}[5m])",
                "parse error at line 1, col 1: syntax error: unexpected r",
            ),
            (
                "{job=\"x\"",
                "parse error at line 1, col 9: syntax error: unexpected $end",
            ),
            (
                "{job=x}",
                "parse error at line 1, col 6: syntax error: unexpected x",
            ),
            (
                "{job=\"x\"} |~ \"y\"",
                "parse error at line 1, col 11: syntax error: unexpected |",
            ),
            (
                "{job=\"x}",
                "parse error at line 1, col 6: literal not terminated",
            ),
            ("{job=~\".*\"}", EMPTY_COMPATIBLE),
            ("{}", EMPTY_COMPATIBLE),
        ] {
            assert_eq!(LogQuery::parse(query).expect_err(query), message, "{query}");
        }
    }
}
