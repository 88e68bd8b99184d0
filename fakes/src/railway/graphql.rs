//! A small GraphQL reader: the lexer and parser for executable documents (what clients send) and
//! for the schema definition language (the embedded Railway schema subset).
//!
//! It follows the GraphQL October 2021 grammar for everything the fake needs — operations,
//! variable definitions with defaults, aliases, arguments with literal or variable values,
//! fragments (named and inline), directives (parsed, then ignored) — and reports errors with the
//! line and column GraphQL servers put in `errors[].locations`.

use std::fmt;

/// A 1-based position in the query text, as GraphQL `locations` report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A syntax error: the message (worded like graphql-js) and where it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub pos: Pos,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}:{})",
            self.message, self.pos.line, self.pos.column
        )
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Punct(&'static str),
    Name(String),
    Int(String),
    Float(String),
    Str(String),
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Punct(p) => write!(f, "\"{p}\""),
            Tok::Name(n) => write!(f, "Name \"{n}\""),
            Tok::Int(n) => write!(f, "Int \"{n}\""),
            Tok::Float(n) => write!(f, "Float \"{n}\""),
            Tok::Str(s) => write!(f, "String \"{s}\""),
            Tok::Eof => write!(f, "<EOF>"),
        }
    }
}

fn lex(src: &str) -> Result<Vec<(Tok, Pos)>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1usize, 0usize);
    let err = |message: String, i: usize, line: usize, line_start: usize| SyntaxError {
        message: format!("Syntax Error: {message}"),
        pos: Pos {
            line,
            column: i - line_start + 1,
        },
    };
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos {
            line,
            column: i - line_start + 1,
        };
        match c {
            '\n' => {
                i += 1;
                line += 1;
                line_start = i;
            }
            '\r' => {
                i += 1;
                if chars.get(i) == Some(&'\n') {
                    i += 1;
                }
                line += 1;
                line_start = i;
            }
            ' ' | '\t' | ',' | '\u{feff}' => i += 1,
            '#' => {
                while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                    i += 1;
                }
            }
            '!' | '$' | '&' | '(' | ')' | ':' | '=' | '@' | '[' | ']' | '{' | '|' | '}' => {
                let p = match c {
                    '!' => "!",
                    '$' => "$",
                    '&' => "&",
                    '(' => "(",
                    ')' => ")",
                    ':' => ":",
                    '=' => "=",
                    '@' => "@",
                    '[' => "[",
                    ']' => "]",
                    '{' => "{",
                    '|' => "|",
                    _ => "}",
                };
                out.push((Tok::Punct(p), pos));
                i += 1;
            }
            '.' => {
                if chars.get(i + 1) == Some(&'.') && chars.get(i + 2) == Some(&'.') {
                    out.push((Tok::Punct("..."), pos));
                    i += 3;
                } else {
                    return Err(err("Unexpected \".\".".into(), i, line, line_start));
                }
            }
            c if c == '_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                out.push((Tok::Name(chars[start..i].iter().collect()), pos));
            }
            c if c == '-' || c.is_ascii_digit() => {
                let start = i;
                i += 1;
                let mut float = false;
                while i < chars.len() {
                    let d = chars[i];
                    if d.is_ascii_digit() {
                        i += 1;
                    } else if d == '.' || d == 'e' || d == 'E' {
                        float = true;
                        i += 1;
                        if matches!(chars.get(i), Some('+') | Some('-')) {
                            i += 1;
                        }
                    } else {
                        break;
                    }
                }
                let text: String = chars[start..i].iter().collect();
                let valid = if float {
                    text.parse::<f64>().is_ok()
                } else {
                    text.parse::<i64>().is_ok() || text.parse::<f64>().is_ok()
                };
                if !valid
                    || chars
                        .get(i)
                        .is_some_and(|c| c.is_ascii_alphabetic() || *c == '_')
                {
                    return Err(err(
                        format!("Invalid number \"{text}\"."),
                        start,
                        line,
                        line_start,
                    ));
                }
                out.push((
                    if float {
                        Tok::Float(text)
                    } else {
                        Tok::Int(text)
                    },
                    pos,
                ));
            }
            '"' => {
                if chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'"') {
                    // Block string: raw up to the closing `"""` (only `\"""` is an escape).
                    i += 3;
                    let mut s = String::new();
                    loop {
                        if i >= chars.len() {
                            return Err(err("Unterminated string.".into(), i, line, line_start));
                        }
                        if chars[i] == '"'
                            && chars.get(i + 1) == Some(&'"')
                            && chars.get(i + 2) == Some(&'"')
                        {
                            i += 3;
                            break;
                        }
                        if chars[i] == '\\' && chars[i + 1..].starts_with(&['"', '"', '"']) {
                            s.push_str("\"\"\"");
                            i += 4;
                            continue;
                        }
                        if chars[i] == '\n' {
                            line += 1;
                            line_start = i + 1;
                        }
                        s.push(chars[i]);
                        i += 1;
                    }
                    out.push((Tok::Str(block_string_value(&s)), pos));
                } else {
                    i += 1;
                    let mut s = String::new();
                    loop {
                        match chars.get(i) {
                            None | Some('\n') | Some('\r') => {
                                return Err(err("Unterminated string.".into(), i, line, line_start))
                            }
                            Some('"') => {
                                i += 1;
                                break;
                            }
                            Some('\\') => {
                                let escaped = match chars.get(i + 1) {
                                    Some('"') => '"',
                                    Some('\\') => '\\',
                                    Some('/') => '/',
                                    Some('b') => '\u{8}',
                                    Some('f') => '\u{c}',
                                    Some('n') => '\n',
                                    Some('r') => '\r',
                                    Some('t') => '\t',
                                    Some('u') => {
                                        let hex: String =
                                            chars.iter().skip(i + 2).take(4).collect();
                                        let code = u32::from_str_radix(&hex, 16)
                                            .ok()
                                            .and_then(char::from_u32);
                                        match code {
                                            Some(ch) if hex.len() == 4 => {
                                                s.push(ch);
                                                i += 6;
                                                continue;
                                            }
                                            _ => {
                                                return Err(err(
                                                    format!("Invalid Unicode escape sequence: \"\\u{hex}\"."),
                                                    i,
                                                    line,
                                                    line_start,
                                                ))
                                            }
                                        }
                                    }
                                    other => {
                                        let shown =
                                            other.map(|c| c.to_string()).unwrap_or_default();
                                        return Err(err(
                                            format!(
                                                "Invalid character escape sequence: \"\\{shown}\"."
                                            ),
                                            i,
                                            line,
                                            line_start,
                                        ));
                                    }
                                };
                                s.push(escaped);
                                i += 2;
                            }
                            Some(&c) => {
                                s.push(c);
                                i += 1;
                            }
                        }
                    }
                    out.push((Tok::Str(s), pos));
                }
            }
            other => {
                return Err(err(
                    format!("Unexpected character: \"{other}\"."),
                    i,
                    line,
                    line_start,
                ));
            }
        }
    }
    out.push((
        Tok::Eof,
        Pos {
            line,
            column: chars.len() - line_start + 1,
        },
    ));
    Ok(out)
}

/// The value of a block string: common indentation and blank first/last lines removed.
fn block_string_value(raw: &str) -> String {
    let lines: Vec<&str> = raw.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut out: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(n, l)| {
            if n == 0 {
                (*l).to_string()
            } else {
                l.chars().skip(indent).collect()
            }
        })
        .collect();
    while out.first().is_some_and(|l| l.trim().is_empty()) {
        out.remove(0);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}

/// A GraphQL input value as written in the document.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Variable(String),
    Int(i64),
    Float(f64),
    String(String),
    Boolean(bool),
    Null,
    Enum(String),
    List(Vec<Value>),
    Object(Vec<(String, Value)>),
}

/// A type reference: `Name`, `[T]`, `T!`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeRef {
    Named(String),
    List(Box<TypeRef>),
    NonNull(Box<TypeRef>),
}

impl TypeRef {
    /// The named type under the list and non-null wrappers.
    pub fn base(&self) -> &str {
        match self {
            TypeRef::Named(n) => n,
            TypeRef::List(t) | TypeRef::NonNull(t) => t.base(),
        }
    }

    /// Whether the outermost wrapper is non-null.
    pub fn is_non_null(&self) -> bool {
        matches!(self, TypeRef::NonNull(_))
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeRef::Named(n) => write!(f, "{n}"),
            TypeRef::List(t) => write!(f, "[{t}]"),
            TypeRef::NonNull(t) => write!(f, "{t}!"),
        }
    }
}

/// One selection in a selection set.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    Field(Field),
    FragmentSpread {
        name: String,
        pos: Pos,
    },
    InlineFragment {
        type_condition: Option<String>,
        selections: Vec<Selection>,
        pos: Pos,
    },
}

/// A field selection: `alias: name(args) { selections }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub alias: Option<String>,
    pub name: String,
    pub arguments: Vec<(String, Value, Pos)>,
    pub selections: Vec<Selection>,
    pub pos: Pos,
}

impl Field {
    /// The key of this field in the response (the alias, else the name).
    pub fn response_key(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// `query` / `mutation` / `subscription`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
    Subscription,
}

/// A variable definition: `$name: Type = default`.
#[derive(Clone, Debug, PartialEq)]
pub struct VariableDefinition {
    pub name: String,
    pub ty: TypeRef,
    pub default: Option<Value>,
    pub pos: Pos,
}

/// An operation definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    pub kind: OperationKind,
    pub name: Option<String>,
    pub variables: Vec<VariableDefinition>,
    pub selections: Vec<Selection>,
    pub pos: Pos,
}

/// A named fragment definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Fragment {
    pub name: String,
    pub type_condition: String,
    pub selections: Vec<Selection>,
    pub pos: Pos,
}

/// An executable document: operations and fragments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    pub operations: Vec<Operation>,
    pub fragments: Vec<Fragment>,
}

/// A field definition in the schema: arguments and type.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDefinition {
    pub name: String,
    pub arguments: Vec<(String, TypeRef)>,
    pub ty: TypeRef,
}

/// A type definition in the schema.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeDefinition {
    Scalar,
    Object(Vec<FieldDefinition>),
    Interface(Vec<FieldDefinition>),
    Input(Vec<FieldDefinition>),
    Enum(Vec<String>),
    Union(Vec<String>),
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    at: usize,
    /// Nesting of selection sets and list/object values, bounded so hostile input can't
    /// overflow the stack.
    depth: usize,
}

/// Deepest nesting of selection sets or values accepted.
const MAX_DEPTH: usize = 64;

type PResult<T> = Result<T, SyntaxError>;

impl Parser {
    fn new(src: &str) -> PResult<Parser> {
        Ok(Parser {
            toks: lex(src)?,
            at: 0,
            depth: 0,
        })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.at.min(self.toks.len() - 1)].0
    }

    fn pos(&self) -> Pos {
        self.toks[self.at.min(self.toks.len() - 1)].1
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.at < self.toks.len() - 1 {
            self.at += 1;
        }
        t
    }

    fn unexpected<T>(&self) -> PResult<T> {
        Err(SyntaxError {
            message: format!("Syntax Error: Unexpected {}.", self.peek()),
            pos: self.pos(),
        })
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn eat(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> PResult<()> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(SyntaxError {
                message: format!("Syntax Error: Expected \"{p}\", found {}.", self.peek()),
                pos: self.pos(),
            })
        }
    }

    fn name(&mut self) -> PResult<String> {
        match self.peek().clone() {
            Tok::Name(n) => {
                self.bump();
                Ok(n)
            }
            other => Err(SyntaxError {
                message: format!("Syntax Error: Expected Name, found {other}."),
                pos: self.pos(),
            }),
        }
    }

    fn is_name(&self, n: &str) -> bool {
        matches!(self.peek(), Tok::Name(m) if m == n)
    }

    fn document(&mut self) -> PResult<Document> {
        let mut doc = Document::default();
        loop {
            let pos = self.pos();
            match self.peek().clone() {
                Tok::Eof if doc.operations.is_empty() && doc.fragments.is_empty() => {
                    return self.unexpected()
                }
                Tok::Eof => return Ok(doc),
                Tok::Punct("{") => {
                    let selections = self.selection_set()?;
                    doc.operations.push(Operation {
                        kind: OperationKind::Query,
                        name: None,
                        variables: Vec::new(),
                        selections,
                        pos,
                    });
                }
                Tok::Name(n) if n == "fragment" => {
                    self.bump();
                    let name = self.name()?;
                    if name == "on" {
                        return Err(SyntaxError {
                            message: "Syntax Error: Unexpected Name \"on\".".into(),
                            pos,
                        });
                    }
                    if !self.is_name("on") {
                        return Err(SyntaxError {
                            message: format!(
                                "Syntax Error: Expected \"on\", found {}.",
                                self.peek()
                            ),
                            pos: self.pos(),
                        });
                    }
                    self.bump();
                    let type_condition = self.name()?;
                    self.directives()?;
                    let selections = self.selection_set()?;
                    doc.fragments.push(Fragment {
                        name,
                        type_condition,
                        selections,
                        pos,
                    });
                }
                Tok::Name(n) if n == "query" || n == "mutation" || n == "subscription" => {
                    self.bump();
                    let kind = match n.as_str() {
                        "query" => OperationKind::Query,
                        "mutation" => OperationKind::Mutation,
                        _ => OperationKind::Subscription,
                    };
                    let name = if let Tok::Name(_) = self.peek() {
                        Some(self.name()?)
                    } else {
                        None
                    };
                    let variables = self.variable_definitions()?;
                    self.directives()?;
                    let selections = self.selection_set()?;
                    doc.operations.push(Operation {
                        kind,
                        name,
                        variables,
                        selections,
                        pos,
                    });
                }
                _ => return self.unexpected(),
            }
        }
    }

    fn variable_definitions(&mut self) -> PResult<Vec<VariableDefinition>> {
        let mut out = Vec::new();
        if !self.eat("(") {
            return Ok(out);
        }
        loop {
            let pos = self.pos();
            self.expect("$")?;
            let name = self.name()?;
            self.expect(":")?;
            let ty = self.type_ref()?;
            let default = if self.eat("=") {
                Some(self.value(true)?)
            } else {
                None
            };
            self.directives()?;
            out.push(VariableDefinition {
                name,
                ty,
                default,
                pos,
            });
            if self.eat(")") {
                return Ok(out);
            }
        }
    }

    fn type_ref(&mut self) -> PResult<TypeRef> {
        let inner = if self.eat("[") {
            let t = self.type_ref()?;
            self.expect("]")?;
            TypeRef::List(Box::new(t))
        } else {
            TypeRef::Named(self.name()?)
        };
        Ok(if self.eat("!") {
            TypeRef::NonNull(Box::new(inner))
        } else {
            inner
        })
    }

    fn directives(&mut self) -> PResult<()> {
        while self.eat("@") {
            self.name()?;
            self.arguments()?;
        }
        Ok(())
    }

    fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            return Err(SyntaxError {
                message: format!("Syntax Error: Document nested deeper than {MAX_DEPTH} levels."),
                pos: self.pos(),
            });
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    fn selection_set(&mut self) -> PResult<Vec<Selection>> {
        self.nested(Self::selection_set_inner)
    }

    fn selection_set_inner(&mut self) -> PResult<Vec<Selection>> {
        self.expect("{")?;
        let mut out = Vec::new();
        loop {
            if self.eat("}") {
                if out.is_empty() {
                    return Err(SyntaxError {
                        message: "Syntax Error: Expected Name, found \"}\".".into(),
                        pos: self.toks[self.at - 1].1,
                    });
                }
                return Ok(out);
            }
            out.push(self.selection()?);
        }
    }

    fn selection(&mut self) -> PResult<Selection> {
        let pos = self.pos();
        if self.eat("...") {
            if self.is_name("on") {
                self.bump();
                let tc = self.name()?;
                self.directives()?;
                let selections = self.selection_set()?;
                return Ok(Selection::InlineFragment {
                    type_condition: Some(tc),
                    selections,
                    pos,
                });
            }
            if let Tok::Name(_) = self.peek() {
                let name = self.name()?;
                self.directives()?;
                return Ok(Selection::FragmentSpread { name, pos });
            }
            self.directives()?;
            let selections = self.selection_set()?;
            return Ok(Selection::InlineFragment {
                type_condition: None,
                selections,
                pos,
            });
        }
        let first = self.name()?;
        let (alias, name, pos) = if self.eat(":") {
            let pos = self.pos();
            (Some(first), self.name()?, pos)
        } else {
            (None, first, pos)
        };
        let arguments = self.arguments()?;
        self.directives()?;
        let selections = if self.is_punct("{") {
            self.selection_set()?
        } else {
            Vec::new()
        };
        Ok(Selection::Field(Field {
            alias,
            name,
            arguments,
            selections,
            pos,
        }))
    }

    fn arguments(&mut self) -> PResult<Vec<(String, Value, Pos)>> {
        let mut out = Vec::new();
        if !self.eat("(") {
            return Ok(out);
        }
        loop {
            let pos = self.pos();
            let name = self.name()?;
            self.expect(":")?;
            let value = self.value(false)?;
            out.push((name, value, pos));
            if self.eat(")") {
                return Ok(out);
            }
        }
    }

    fn value(&mut self, constant: bool) -> PResult<Value> {
        self.nested(|p| p.value_inner(constant))
    }

    fn value_inner(&mut self, constant: bool) -> PResult<Value> {
        let pos = self.pos();
        match self.bump() {
            Tok::Punct("$") if !constant => Ok(Value::Variable(self.name()?)),
            Tok::Int(n) => match n.parse::<i64>() {
                Ok(v) => Ok(Value::Int(v)),
                // Out of i64 range: keep it as a float; coercion to Int rejects it later.
                Err(_) => Ok(Value::Float(n.parse().unwrap_or(f64::MAX))),
            },
            Tok::Float(n) => Ok(Value::Float(n.parse().unwrap_or(f64::NAN))),
            Tok::Str(s) => Ok(Value::String(s)),
            Tok::Name(n) => Ok(match n.as_str() {
                "true" => Value::Boolean(true),
                "false" => Value::Boolean(false),
                "null" => Value::Null,
                _ => Value::Enum(n),
            }),
            Tok::Punct("[") => {
                let mut items = Vec::new();
                while !self.eat("]") {
                    items.push(self.value(constant)?);
                }
                Ok(Value::List(items))
            }
            Tok::Punct("{") => {
                let mut fields = Vec::new();
                while !self.eat("}") {
                    let name = self.name()?;
                    self.expect(":")?;
                    fields.push((name, self.value(constant)?));
                }
                Ok(Value::Object(fields))
            }
            other => Err(SyntaxError {
                message: format!("Syntax Error: Unexpected {other}."),
                pos,
            }),
        }
    }

    fn schema(&mut self) -> PResult<Vec<(String, TypeDefinition)>> {
        let mut out = Vec::new();
        loop {
            let keyword = match self.peek().clone() {
                Tok::Eof => return Ok(out),
                Tok::Name(k) => k,
                _ => return self.unexpected(),
            };
            self.bump();
            let name = self.name()?;
            let def = match keyword.as_str() {
                "scalar" => TypeDefinition::Scalar,
                "enum" => {
                    self.expect("{")?;
                    let mut values = Vec::new();
                    while !self.eat("}") {
                        values.push(self.name()?);
                    }
                    TypeDefinition::Enum(values)
                }
                "union" => {
                    self.expect("=")?;
                    self.eat("|");
                    let mut members = vec![self.name()?];
                    while self.eat("|") {
                        members.push(self.name()?);
                    }
                    TypeDefinition::Union(members)
                }
                "type" | "interface" | "input" => {
                    if self.is_name("implements") {
                        self.bump();
                        self.eat("&");
                        self.name()?;
                        while self.eat("&") {
                            self.name()?;
                        }
                    }
                    self.expect("{")?;
                    let mut fields = Vec::new();
                    while !self.eat("}") {
                        let name = self.name()?;
                        let mut arguments = Vec::new();
                        if self.eat("(") {
                            while !self.eat(")") {
                                let arg = self.name()?;
                                self.expect(":")?;
                                arguments.push((arg, self.type_ref()?));
                            }
                        }
                        self.expect(":")?;
                        let ty = self.type_ref()?;
                        fields.push(FieldDefinition {
                            name,
                            arguments,
                            ty,
                        });
                    }
                    match keyword.as_str() {
                        "input" => TypeDefinition::Input(fields),
                        "interface" => TypeDefinition::Interface(fields),
                        _ => TypeDefinition::Object(fields),
                    }
                }
                _ => {
                    return Err(SyntaxError {
                        message: format!("unknown definition {keyword}"),
                        pos: self.pos(),
                    })
                }
            };
            out.push((name, def));
        }
    }
}

/// Parses an executable document (a client's query).
pub fn parse_document(src: &str) -> Result<Document, SyntaxError> {
    Parser::new(src)?.document()
}

/// Parses schema definition language (types, inputs, enums, unions, scalars; no descriptions or
/// directives).
pub fn parse_schema(src: &str) -> Result<Vec<(String, TypeDefinition)>, SyntaxError> {
    Parser::new(src)?.schema()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_worked_example() {
        let doc = parse_document(
            "query DeploymentLogs($deploymentId: String!, $limit: Int = 500) { deploymentLogs(deploymentId: $deploymentId, limit: $limit) { timestamp tags { serviceId } } }",
        )
        .expect("parses");
        let op = &doc.operations[0];
        assert_eq!(op.kind, OperationKind::Query);
        assert_eq!(op.name.as_deref(), Some("DeploymentLogs"));
        assert_eq!(op.variables.len(), 2);
        assert_eq!(op.variables[0].ty.to_string(), "String!");
        assert_eq!(op.variables[1].default, Some(Value::Int(500)));
        let Selection::Field(f) = &op.selections[0] else {
            panic!("a field")
        };
        assert_eq!(f.name, "deploymentLogs");
        assert_eq!(f.arguments[0].1, Value::Variable("deploymentId".into()));
        assert_eq!(
            f.pos,
            Pos {
                line: 1,
                column: 67
            }
        );
    }

    #[test]
    fn aliases_fragments_literals_and_strings() {
        let doc = parse_document(
            "{ a: deployments(input: {status: {in: [SUCCESS]}, projectId: \"p\\u0041\"}, first: -2) { ...F ... on X { id } } }\nfragment F on QueryDeploymentsConnection { edges { node { id } } }",
        )
        .expect("parses");
        let Selection::Field(f) = &doc.operations[0].selections[0] else {
            panic!("a field")
        };
        assert_eq!(f.response_key(), "a");
        assert_eq!(f.arguments[1].1, Value::Int(-2));
        let Value::Object(input) = &f.arguments[0].1 else {
            panic!("an object")
        };
        assert_eq!(input[1].1, Value::String("pA".into()));
        assert_eq!(doc.fragments[0].name, "F");
        assert_eq!(doc.fragments[0].pos.line, 2);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse_document("{ me { id }").expect_err("unclosed");
        assert!(
            e.message
                .starts_with("Syntax Error: Expected Name, found <EOF>"),
            "{e}"
        );
        let e = parse_document("query {\n  me(x: \"oops) { id } }").expect_err("bad string");
        assert_eq!(e.pos.line, 2);
        assert!(parse_document("").is_err());
        assert!(parse_document("{ }").is_err());
        assert!(parse_document("{ a(b: 1x) }").is_err());
        let deep = format!(
            "{{ a(b: {}1{}) }}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(parse_document(&deep).is_err());
        let deep = format!("{}{}", "{ a ".repeat(100_000), "}".repeat(100_000));
        assert!(parse_document(&deep).is_err());
    }

    #[test]
    fn block_strings() {
        let doc =
            parse_document("{ a(b: \"\"\"\n    hello\n      world\n\"\"\") }").expect("parses");
        let Selection::Field(f) = &doc.operations[0].selections[0] else {
            panic!("a field")
        };
        assert_eq!(f.arguments[0].1, Value::String("hello\n  world".into()));
    }
}
