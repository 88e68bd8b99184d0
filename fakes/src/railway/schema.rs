//! Validation, variable coercion and result shaping against the embedded Railway schema subset
//! (`schema.graphql`, generated from the introspection result the Railway CLI ships).
//!
//! This is what makes the fake strict the way Railway is: an unknown field or argument, a missing
//! required argument, an undeclared or unused variable, a variable of the wrong type, a literal
//! that isn't in an enum or an input field that doesn't exist (`status: {successfulOnly: true}`)
//! all fail with HTTP 400 before anything runs, with the codes Apollo Server uses
//! (`GRAPHQL_PARSE_FAILED`, `GRAPHQL_VALIDATION_FAILED`, `BAD_USER_INPUT`). Resolvers return whole
//! objects; [`complete`] keeps only what the query selected, under the aliases it chose, and fills
//! fields the fake has no data for with `null` (or a type-correct placeholder when non-null).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use serde_json::{json, Map, Value as Json};

use super::graphql::{
    self, Document, Field, OperationKind, Pos, Selection, TypeDefinition, TypeRef, Value,
    VariableDefinition,
};

/// The Railway schema subset the fake serves.
pub struct Schema {
    types: HashMap<String, TypeDefinition>,
}

/// The schema, parsed once from the embedded SDL.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let defs = graphql::parse_schema(include_str!("schema.graphql"))
            .unwrap_or_else(|e| panic!("embedded schema.graphql is invalid: {e}"));
        let mut types: HashMap<String, TypeDefinition> = defs.into_iter().collect();
        for builtin in ["String", "Int", "Float", "Boolean", "ID"] {
            types.insert(builtin.to_string(), TypeDefinition::Scalar);
        }
        Schema { types }
    })
}

/// A request-level error (HTTP 400): message, locations and `extensions.code`.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestError {
    pub message: String,
    pub locations: Vec<Pos>,
    pub code: &'static str,
}

/// `extensions.code` of a document that doesn't parse.
pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
/// `extensions.code` of a document that doesn't validate against the schema.
pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
/// `extensions.code` of variables (or argument values) the schema rejects.
pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";

impl RequestError {
    fn new(code: &'static str, message: impl Into<String>, pos: Option<Pos>) -> RequestError {
        RequestError {
            message: message.into(),
            locations: pos.into_iter().collect(),
            code,
        }
    }

    /// The error as an element of `errors[]`.
    pub fn to_json(&self) -> Json {
        let mut e = json!({ "message": self.message, "extensions": { "code": self.code } });
        if !self.locations.is_empty() {
            e["locations"] = locations_json(&self.locations);
        }
        e
    }
}

/// `[{"line":…,"column":…}]`.
pub fn locations_json(locations: &[Pos]) -> Json {
    Json::Array(
        locations
            .iter()
            .map(|p| json!({ "line": p.line, "column": p.column }))
            .collect(),
    )
}

/// A validated field below the root: response key, field name, optional type condition (from an
/// inline fragment or fragment spread) and the selected subfields.
#[derive(Clone, Debug)]
pub struct Node {
    pub key: String,
    pub name: String,
    pub condition: Option<String>,
    pub children: Vec<Node>,
}

/// A validated root field with its argument values (variables substituted and coerced).
#[derive(Clone, Debug)]
pub struct RootField {
    pub key: String,
    pub name: String,
    pub arguments: Map<String, Json>,
    pub children: Vec<Node>,
    pub pos: Pos,
    /// The declared type of the field, for [`complete`].
    pub ty: TypeRef,
}

/// A validated operation, ready to execute.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub kind: OperationKind,
    pub fields: Vec<RootField>,
}

/// Parses, validates and binds a request: HTTP 400 errors when anything is wrong.
pub fn prepare(
    query: &str,
    operation_name: Option<&str>,
    variables: &Map<String, Json>,
) -> Result<Prepared, Vec<RequestError>> {
    let doc = graphql::parse_document(query)
        .map_err(|e| vec![RequestError::new(PARSE_FAILED, e.message, Some(e.pos))])?;
    schema().prepare(&doc, operation_name, variables)
}

struct Validator<'a> {
    schema: &'a Schema,
    doc: &'a Document,
    variables: &'a [VariableDefinition],
    operation_label: String,
    errors: Vec<RequestError>,
    used_variables: HashSet<String>,
    used_fragments: HashSet<String>,
    spread_stack: Vec<String>,
}

impl Schema {
    fn get(&self, name: &str) -> Option<&TypeDefinition> {
        self.types.get(name)
    }

    fn field(&self, type_name: &str, field: &str) -> Option<&graphql::FieldDefinition> {
        match self.get(type_name)? {
            TypeDefinition::Object(fields)
            | TypeDefinition::Interface(fields)
            | TypeDefinition::Input(fields) => fields.iter().find(|f| f.name == field),
            _ => None,
        }
    }

    fn is_input_type(&self, name: &str) -> bool {
        matches!(
            self.get(name),
            Some(TypeDefinition::Scalar | TypeDefinition::Enum(_) | TypeDefinition::Input(_))
        )
    }

    fn is_leaf(&self, name: &str) -> bool {
        matches!(
            self.get(name),
            Some(TypeDefinition::Scalar | TypeDefinition::Enum(_))
        )
    }

    fn prepare(
        &self,
        doc: &Document,
        operation_name: Option<&str>,
        variables: &Map<String, Json>,
    ) -> Result<Prepared, Vec<RequestError>> {
        let op = match operation_name.filter(|n| !n.is_empty()) {
            Some(name) => doc
                .operations
                .iter()
                .find(|o| o.name.as_deref() == Some(name))
                .ok_or_else(|| {
                    vec![RequestError::new(
                        VALIDATION_FAILED,
                        format!("Unknown operation named \"{name}\"."),
                        None,
                    )]
                })?,
            None if doc.operations.len() == 1 => &doc.operations[0],
            None => {
                return Err(vec![RequestError::new(
                    VALIDATION_FAILED,
                    if doc.operations.is_empty() {
                        "Must provide an operation."
                    } else {
                        "Must provide operation name if query contains multiple operations."
                    },
                    None,
                )])
            }
        };
        let root_type = match op.kind {
            OperationKind::Query => "Query",
            OperationKind::Subscription => "Subscription",
            OperationKind::Mutation => {
                return Err(vec![RequestError::new(
                    VALIDATION_FAILED,
                    "Schema is not configured to execute mutation operation.",
                    Some(op.pos),
                )])
            }
        };
        let mut v = Validator {
            schema: self,
            doc,
            variables: &op.variables,
            operation_label: match &op.name {
                Some(n) => format!(" in operation \"{n}\""),
                None => String::new(),
            },
            errors: Vec::new(),
            used_variables: HashSet::new(),
            used_fragments: HashSet::new(),
            spread_stack: Vec::new(),
        };
        let mut seen = HashSet::new();
        for var in &op.variables {
            if !seen.insert(&var.name) {
                v.error(
                    format!("There can be only one variable named \"${}\".", var.name),
                    var.pos,
                );
            }
            let base = var.ty.base();
            if self.get(base).is_none() {
                v.error(format!("Unknown type \"{base}\"."), var.pos);
            } else if !self.is_input_type(base) {
                v.error(
                    format!(
                        "Variable \"${}\" cannot be non-input type \"{}\".",
                        var.name, var.ty
                    ),
                    var.pos,
                );
            } else if let Some(default) = &var.default {
                if let Err(e) = v.check_literal(default, &var.ty) {
                    v.error(e, var.pos);
                }
            }
        }
        // Root fields, with their arguments kept for binding.
        let mut roots: Vec<(&Field, Option<Vec<Node>>)> = Vec::new();
        v.collect_root_fields(&op.selections, root_type, &mut roots);
        let count = roots.len();
        if op.kind == OperationKind::Subscription && count > 1 {
            let who = match &op.name {
                Some(n) => format!("Subscription \"{n}\""),
                None => "Anonymous Subscription".to_string(),
            };
            v.error(
                format!("{who} must select only one top level field."),
                roots[1].0.pos,
            );
        }
        for var in &op.variables {
            if !v.used_variables.contains(&var.name) {
                let msg = match &op.name {
                    Some(n) => format!(
                        "Variable \"${}\" is never used in operation \"{n}\".",
                        var.name
                    ),
                    None => format!("Variable \"${}\" is never used.", var.name),
                };
                v.error(msg, var.pos);
            }
        }
        for fragment in &doc.fragments {
            if !v.used_fragments.contains(&fragment.name) {
                v.error(
                    format!("Fragment \"{}\" is never used.", fragment.name),
                    fragment.pos,
                );
            }
        }
        if !v.errors.is_empty() {
            return Err(v.errors);
        }

        // Variables: coerce the JSON the client sent to the declared types.
        let mut bound = Map::new();
        let mut errors = Vec::new();
        for var in &op.variables {
            match (variables.get(&var.name), &var.default) {
                (None, Some(default)) => {
                    bound.insert(var.name.clone(), literal_json(default, &Map::new()));
                }
                (None, None) if var.ty.is_non_null() => errors.push(RequestError::new(
                    BAD_USER_INPUT,
                    format!(
                        "Variable \"${}\" of required type \"{}\" was not provided.",
                        var.name, var.ty
                    ),
                    Some(var.pos),
                )),
                (None, None) => {}
                (Some(Json::Null), _) if var.ty.is_non_null() => errors.push(RequestError::new(
                    BAD_USER_INPUT,
                    format!(
                        "Variable \"${}\" of non-null type \"{}\" must not be null.",
                        var.name, var.ty
                    ),
                    Some(var.pos),
                )),
                (Some(value), _) => match self.coerce(value, &var.ty, &var.name) {
                    Ok(c) => {
                        bound.insert(var.name.clone(), c);
                    }
                    Err((path, why)) => {
                        let at = if path.contains('.') || path.contains('[') {
                            format!(" at \"{path}\"")
                        } else {
                            String::new()
                        };
                        errors.push(RequestError::new(
                            BAD_USER_INPUT,
                            format!(
                                "Variable \"${}\" got invalid value {value}{at}; {why}",
                                var.name
                            ),
                            Some(var.pos),
                        ));
                    }
                },
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut fields = Vec::new();
        for (field, children) in roots {
            let Some(def) = self.field(root_type, &field.name) else {
                continue;
            };
            let mut arguments = Map::new();
            for (name, value, _) in &field.arguments {
                if let Value::Variable(var) = value {
                    if !bound.contains_key(var) {
                        continue; // an omitted nullable variable: as if the argument were absent
                    }
                }
                arguments.insert(name.clone(), literal_json(value, &bound));
            }
            fields.push(RootField {
                key: field.response_key().to_string(),
                name: field.name.clone(),
                arguments,
                children: children.unwrap_or_default(),
                pos: field.pos,
                ty: def.ty.clone(),
            });
        }
        Ok(Prepared {
            kind: op.kind,
            fields,
        })
    }

    /// Coerces a variable's JSON value to `ty` (input coercion rules); on failure, the path of
    /// the offending part and why.
    fn coerce(&self, value: &Json, ty: &TypeRef, path: &str) -> Result<Json, (String, String)> {
        match ty {
            TypeRef::NonNull(inner) => {
                if value.is_null() {
                    return Err((
                        path.to_string(),
                        format!("Expected non-nullable type \"{ty}\" not to be null."),
                    ));
                }
                self.coerce(value, inner, path)
            }
            _ if value.is_null() => Ok(Json::Null),
            TypeRef::List(inner) => match value {
                Json::Array(items) => items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.coerce(item, inner, &format!("{path}[{i}]")))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Json::Array),
                single => Ok(Json::Array(vec![self.coerce(single, inner, path)?])),
            },
            TypeRef::Named(name) => match self.get(name) {
                Some(TypeDefinition::Scalar) => {
                    coerce_scalar(name, value).map_err(|e| (path.to_string(), e))
                }
                Some(TypeDefinition::Enum(values)) => match value {
                    Json::String(s) if values.contains(s) => Ok(value.clone()),
                    Json::String(s) => Err((
                        path.to_string(),
                        format!("Value \"{s}\" does not exist in \"{name}\" enum."),
                    )),
                    other => Err((
                        path.to_string(),
                        format!("Enum \"{name}\" cannot represent non-string value: {other}."),
                    )),
                },
                Some(TypeDefinition::Input(fields)) => {
                    let Json::Object(given) = value else {
                        return Err((
                            path.to_string(),
                            format!("Expected type \"{name}\" to be an object."),
                        ));
                    };
                    let mut out = Map::new();
                    for key in given.keys() {
                        if !fields.iter().any(|f| &f.name == key) {
                            return Err((
                                path.to_string(),
                                format!("Field \"{key}\" is not defined by type \"{name}\"."),
                            ));
                        }
                    }
                    for f in fields {
                        match given.get(&f.name) {
                            Some(v) => {
                                out.insert(
                                    f.name.clone(),
                                    self.coerce(v, &f.ty, &format!("{path}.{}", f.name))?,
                                );
                            }
                            None if f.ty.is_non_null() => {
                                return Err((
                                    path.to_string(),
                                    format!(
                                        "Field \"{}\" of required type \"{}\" was not provided.",
                                        f.name, f.ty
                                    ),
                                ))
                            }
                            None => {}
                        }
                    }
                    Ok(Json::Object(out))
                }
                _ => Err((path.to_string(), format!("Unknown type \"{name}\"."))),
            },
        }
    }

    /// Shapes a resolver's whole value to what was selected: aliases, only the selected fields,
    /// `__typename`, placeholders for non-null fields the resolver had no data for.
    pub fn complete(&self, value: &Json, ty: &TypeRef, nodes: &[Node]) -> Json {
        match ty {
            TypeRef::NonNull(inner) if value.is_null() => self.placeholder(inner, nodes),
            TypeRef::NonNull(inner) => self.complete(value, inner, nodes),
            _ if value.is_null() => Json::Null,
            TypeRef::List(inner) => match value {
                Json::Array(items) => Json::Array(
                    items
                        .iter()
                        .map(|v| self.complete(v, inner, nodes))
                        .collect(),
                ),
                other => Json::Array(vec![self.complete(other, inner, nodes)]),
            },
            TypeRef::Named(name) => {
                if self.is_leaf(name) {
                    return value.clone();
                }
                let typename = value
                    .get("__typename")
                    .and_then(Json::as_str)
                    .unwrap_or(name)
                    .to_string();
                let mut out = Map::new();
                self.complete_into(&mut out, value, name, &typename, nodes);
                Json::Object(out)
            }
        }
    }

    fn complete_into(
        &self,
        out: &mut Map<String, Json>,
        value: &Json,
        declared: &str,
        typename: &str,
        nodes: &[Node],
    ) {
        for node in nodes {
            // A fragment on another concrete type doesn't apply (interfaces and unions always do).
            let applies = match node.condition.as_deref() {
                None => true,
                Some(c) => {
                    c == typename
                        || c == declared
                        || matches!(
                            self.get(c),
                            Some(TypeDefinition::Interface(_) | TypeDefinition::Union(_))
                        )
                }
            };
            if !applies {
                continue;
            }
            let completed = if node.name == "__typename" {
                Json::String(typename.to_string())
            } else {
                match self.field(typename, &node.name) {
                    Some(def) => self.complete(
                        value.get(&node.name).unwrap_or(&Json::Null),
                        &def.ty,
                        &node.children,
                    ),
                    None => Json::Null,
                }
            };
            match (out.get_mut(&node.key), completed) {
                (Some(Json::Object(existing)), Json::Object(more)) => existing.extend(more),
                (_, completed) => {
                    out.insert(node.key.clone(), completed);
                }
            }
        }
    }

    fn placeholder(&self, ty: &TypeRef, nodes: &[Node]) -> Json {
        match ty {
            TypeRef::NonNull(inner) => self.placeholder(inner, nodes),
            TypeRef::List(_) => Json::Array(Vec::new()),
            TypeRef::Named(name) => match (name.as_str(), self.get(name)) {
                ("String" | "ID", _) => json!(""),
                ("Int" | "Float" | "BigInt", _) => json!(0),
                ("Boolean", _) => json!(false),
                ("DateTime", _) => json!("1970-01-01T00:00:00.000Z"),
                (_, Some(TypeDefinition::Scalar)) => json!({}),
                (_, Some(TypeDefinition::Enum(values))) => {
                    values.first().map_or(Json::Null, |v| json!(v))
                }
                (_, Some(TypeDefinition::Object(_) | TypeDefinition::Interface(_))) => {
                    self.complete(&json!({}), ty, nodes)
                }
                _ => Json::Null,
            },
        }
    }
}

/// Input coercion of a JSON value to a scalar; the graphql-js wording on failure.
fn coerce_scalar(name: &str, value: &Json) -> Result<Json, String> {
    match name {
        "String" => match value {
            Json::String(_) => Ok(value.clone()),
            other => Err(format!(
                "String cannot represent a non string value: {other}"
            )),
        },
        "ID" => match value {
            Json::String(_) => Ok(value.clone()),
            Json::Number(n) if n.is_i64() => Ok(Json::String(n.to_string())),
            other => Err(format!("ID cannot represent value: {other}")),
        },
        "Int" => match value.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(value.clone()),
            Some(n) => Err(format!(
                "Int cannot represent non 32-bit signed integer value: {n}"
            )),
            None if value
                .as_f64()
                .is_some_and(|f| f.fract() == 0.0 && f.abs() < 2_147_483_648.0) =>
            {
                Ok(json!(value.as_f64().unwrap_or_default() as i64))
            }
            None => Err(format!("Int cannot represent non-integer value: {value}")),
        },
        "Float" => match value {
            Json::Number(_) => Ok(value.clone()),
            other => Err(format!("Float cannot represent non numeric value: {other}")),
        },
        "Boolean" => match value {
            Json::Bool(_) => Ok(value.clone()),
            other => Err(format!(
                "Boolean cannot represent a non boolean value: {other}"
            )),
        },
        "DateTime" => match value {
            Json::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => Ok(value.clone()),
            other => Err(format!(
                "DateTime cannot represent an invalid date-time-string {other}."
            )),
        },
        // JSON-ish custom scalars take anything.
        _ => Ok(value.clone()),
    }
}

/// A literal (or a variable, from `bound`) as JSON. Enum values become strings.
fn literal_json(value: &Value, bound: &Map<String, Json>) -> Json {
    match value {
        Value::Variable(v) => bound.get(v).cloned().unwrap_or(Json::Null),
        Value::Int(n) => json!(n),
        Value::Float(f) => json!(f),
        Value::String(s) | Value::Enum(s) => json!(s),
        Value::Boolean(b) => json!(b),
        Value::Null => Json::Null,
        Value::List(items) => Json::Array(items.iter().map(|v| literal_json(v, bound)).collect()),
        Value::Object(fields) => Json::Object(
            fields
                .iter()
                .filter(|(_, v)| !matches!(v, Value::Variable(name) if !bound.contains_key(name)))
                .map(|(k, v)| (k.clone(), literal_json(v, bound)))
                .collect(),
        ),
    }
}

impl<'a> Validator<'a> {
    fn error(&mut self, message: String, pos: Pos) {
        self.errors
            .push(RequestError::new(VALIDATION_FAILED, message, Some(pos)));
    }

    /// Walks the root selection set (through fragments) collecting the root fields.
    fn collect_root_fields(
        &mut self,
        selections: &'a [Selection],
        root_type: &str,
        out: &mut Vec<(&'a Field, Option<Vec<Node>>)>,
    ) {
        for s in selections {
            match s {
                Selection::Field(f) => {
                    let nodes = self.field(f, root_type, None);
                    if f.name != "__typename" {
                        out.push((f, nodes.map(|n| n.children)));
                    }
                }
                Selection::InlineFragment { selections, .. } => {
                    self.collect_root_fields(selections, root_type, out)
                }
                Selection::FragmentSpread { name, pos } => {
                    if let Some(fragment) = self.enter_fragment(name, *pos) {
                        self.collect_root_fields(&fragment.selections, root_type, out);
                        self.spread_stack.pop();
                    }
                }
            }
        }
    }

    fn enter_fragment(&mut self, name: &str, pos: Pos) -> Option<&'a graphql::Fragment> {
        self.used_fragments.insert(name.to_string());
        let Some(fragment) = self.doc.fragments.iter().find(|f| f.name == name) else {
            self.error(format!("Unknown fragment \"{name}\"."), pos);
            return None;
        };
        if self.spread_stack.iter().any(|n| n == name) {
            self.error(
                format!("Cannot spread fragment \"{name}\" within itself."),
                pos,
            );
            return None;
        }
        if self.schema.get(&fragment.type_condition).is_none() {
            self.error(
                format!("Unknown type \"{}\".", fragment.type_condition),
                fragment.pos,
            );
            return None;
        }
        self.spread_stack.push(name.to_string());
        Some(fragment)
    }

    fn selections(
        &mut self,
        selections: &'a [Selection],
        parent: &str,
        condition: Option<&str>,
    ) -> Vec<Node> {
        let mut out = Vec::new();
        for s in selections {
            match s {
                Selection::Field(f) => out.extend(self.field(f, parent, condition)),
                Selection::InlineFragment {
                    type_condition,
                    selections,
                    pos,
                } => match type_condition {
                    Some(tc) if self.schema.get(tc).is_none() => {
                        self.error(format!("Unknown type \"{tc}\"."), *pos)
                    }
                    Some(tc) => out.extend(self.selections(selections, tc, Some(tc))),
                    None => out.extend(self.selections(selections, parent, condition)),
                },
                Selection::FragmentSpread { name, pos } => {
                    if let Some(fragment) = self.enter_fragment(name, *pos) {
                        let tc = fragment.type_condition.as_str();
                        out.extend(self.selections(&fragment.selections, tc, Some(tc)));
                        self.spread_stack.pop();
                    }
                }
            }
        }
        out
    }

    fn field(&mut self, f: &'a Field, parent: &str, condition: Option<&str>) -> Option<Node> {
        let node = |children| Node {
            key: f.response_key().to_string(),
            name: f.name.clone(),
            condition: condition.map(str::to_string),
            children,
        };
        if f.name == "__typename" {
            if !f.selections.is_empty() {
                self.error(
                    "Field \"__typename\" must not have a selection since type \"String!\" has no subfields.".into(),
                    f.pos,
                );
            }
            return Some(node(Vec::new()));
        }
        let Some(def) = self.schema.field(parent, &f.name) else {
            self.error(
                format!("Cannot query field \"{}\" on type \"{parent}\".", f.name),
                f.pos,
            );
            return None;
        };
        let def = def.clone();
        let mut given = HashSet::new();
        for (name, value, pos) in &f.arguments {
            if !given.insert(name) {
                self.error(
                    format!("There can be only one argument named \"{name}\"."),
                    *pos,
                );
            }
            match def.arguments.iter().find(|(n, _)| n == name) {
                None => self.error(
                    format!(
                        "Unknown argument \"{name}\" on field \"{parent}.{}\".",
                        f.name
                    ),
                    *pos,
                ),
                Some((_, ty)) => {
                    if let Err(e) = self.check_value(value, ty) {
                        self.error(e, *pos);
                    }
                }
            }
        }
        for (name, ty) in &def.arguments {
            if ty.is_non_null() && !given.contains(name) {
                self.error(
                    format!(
                        "Field \"{}\" argument \"{name}\" of type \"{ty}\" is required, but it was not provided.",
                        f.name
                    ),
                    f.pos,
                );
            }
        }
        let base = def.ty.base();
        if self.schema.is_leaf(base) {
            if !f.selections.is_empty() {
                self.error(
                    format!(
                        "Field \"{}\" must not have a selection since type \"{}\" has no subfields.",
                        f.name, def.ty
                    ),
                    f.pos,
                );
            }
            return Some(node(Vec::new()));
        }
        if f.selections.is_empty() {
            self.error(
                format!(
                    "Field \"{}\" of type \"{}\" must have a selection of subfields. Did you mean \"{} {{ ... }}\"?",
                    f.name, def.ty, f.name
                ),
                f.pos,
            );
            return None;
        }
        let children = self.selections(&f.selections, base, None);
        Some(node(children))
    }

    /// Checks an argument value (literal or variable) against the argument's type.
    fn check_value(&mut self, value: &Value, ty: &TypeRef) -> Result<(), String> {
        if let Value::Variable(name) = value {
            return self.check_variable_use(name, ty, false);
        }
        self.check_literal(value, ty)
    }

    fn check_variable_use(
        &mut self,
        name: &str,
        ty: &TypeRef,
        has_location_default: bool,
    ) -> Result<(), String> {
        self.used_variables.insert(name.to_string());
        let Some(var) = self.variables.iter().find(|v| v.name == name) else {
            return Err(format!(
                "Variable \"${name}\" is not defined{}.",
                self.operation_label
            ));
        };
        let var_ty = match (&var.ty, ty) {
            // A nullable variable with a non-null default may feed a non-null position.
            (TypeRef::Named(_) | TypeRef::List(_), TypeRef::NonNull(_))
                if has_location_default
                    || var.default.as_ref().is_some_and(|d| *d != Value::Null) =>
            {
                TypeRef::NonNull(Box::new(var.ty.clone()))
            }
            _ => var.ty.clone(),
        };
        if is_subtype(&var_ty, ty) {
            Ok(())
        } else {
            Err(format!(
                "Variable \"${name}\" of type \"{}\" used in position expecting type \"{ty}\".",
                var.ty
            ))
        }
    }

    fn check_literal(&mut self, value: &Value, ty: &TypeRef) -> Result<(), String> {
        match (ty, value) {
            (_, Value::Variable(name)) => self.check_variable_use(name, ty, false),
            (TypeRef::NonNull(_), Value::Null) => {
                Err(format!("Expected value of type \"{ty}\", found null."))
            }
            (TypeRef::NonNull(inner), v) => self.check_literal(v, inner),
            (_, Value::Null) => Ok(()),
            (TypeRef::List(inner), Value::List(items)) => items
                .iter()
                .try_for_each(|item| self.check_literal(item, inner)),
            (TypeRef::List(inner), single) => self.check_literal(single, inner),
            (TypeRef::Named(name), v) => {
                let shown = show_literal(v);
                match self.schema.get(name).cloned() {
                    Some(TypeDefinition::Scalar) => {
                        let ok = match (name.as_str(), v) {
                            ("String", Value::String(_)) => true,
                            ("ID", Value::String(_) | Value::Int(_)) => true,
                            ("Int", Value::Int(n)) => i32::try_from(*n).is_ok(),
                            ("Float", Value::Int(_) | Value::Float(_)) => true,
                            ("Boolean", Value::Boolean(_)) => true,
                            ("DateTime", Value::String(s)) => {
                                chrono::DateTime::parse_from_rfc3339(s).is_ok()
                            }
                            ("String" | "ID" | "Int" | "Float" | "Boolean" | "DateTime", _) => {
                                false
                            }
                            _ => true,
                        };
                        if ok {
                            Ok(())
                        } else {
                            Err(match name.as_str() {
                                "String" => format!("String cannot represent a non string value: {shown}"),
                                "Int" => format!("Int cannot represent non-integer value: {shown}"),
                                "Boolean" => format!("Boolean cannot represent a non boolean value: {shown}"),
                                "DateTime" => format!("DateTime cannot represent an invalid date-time-string {shown}."),
                                _ => format!("{name} cannot represent value: {shown}"),
                            })
                        }
                    }
                    Some(TypeDefinition::Enum(values)) => match v {
                        Value::Enum(e) if values.contains(e) => Ok(()),
                        Value::Enum(e) => {
                            Err(format!("Value \"{e}\" does not exist in \"{name}\" enum."))
                        }
                        _ => Err(format!(
                            "Enum \"{name}\" cannot represent non-enum value: {shown}."
                        )),
                    },
                    Some(TypeDefinition::Input(fields)) => {
                        let Value::Object(given) = v else {
                            return Err(format!(
                                "Expected value of type \"{name}\", found {shown}."
                            ));
                        };
                        for (key, fv) in given {
                            match fields.iter().find(|f| &f.name == key) {
                                None => {
                                    return Err(format!(
                                        "Field \"{key}\" is not defined by type \"{name}\"."
                                    ))
                                }
                                Some(f) => self.check_literal(fv, &f.ty)?,
                            }
                        }
                        for f in fields.iter().filter(|f| f.ty.is_non_null()) {
                            if !given.iter().any(|(k, _)| k == &f.name) {
                                return Err(format!(
                                    "Field \"{name}.{}\" of required type \"{}\" was not provided.",
                                    f.name, f.ty
                                ));
                            }
                        }
                        Ok(())
                    }
                    _ => Err(format!("Unknown type \"{name}\".")),
                }
            }
        }
    }
}

/// `sub` can be used where `sup` is expected (graphql-js `isTypeSubTypeOf` for input types).
fn is_subtype(sub: &TypeRef, sup: &TypeRef) -> bool {
    match (sub, sup) {
        (TypeRef::NonNull(a), TypeRef::NonNull(b)) => is_subtype(a, b),
        (TypeRef::NonNull(a), b) => is_subtype(a, b),
        (_, TypeRef::NonNull(_)) => false,
        (TypeRef::List(a), TypeRef::List(b)) => is_subtype(a, b),
        (TypeRef::Named(a), TypeRef::Named(b)) => a == b,
        _ => false,
    }
}

/// A literal as graphql-js prints it in messages.
fn show_literal(v: &Value) -> String {
    match v {
        Value::Variable(n) => format!("${n}"),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Boolean(b) => b.to_string(),
        Value::Null => "null".into(),
        Value::Enum(e) => e.clone(),
        Value::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(show_literal)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Value::Object(fields) => format!(
            "{{ {} }}",
            fields
                .iter()
                .map(|(k, v)| format!("{k}: {}", show_literal(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn errors(query: &str, variables: Json) -> Vec<RequestError> {
        prepare(query, None, &vars(variables)).expect_err("should fail")
    }

    #[test]
    fn embedded_schema_parses() {
        let s = schema();
        assert!(s.field("Query", "deploymentLogs").is_some());
        assert!(s.field("Subscription", "deploymentLogs").is_some());
        assert!(s.field("Log", "attributes").is_some());
        assert!(
            matches!(s.get("DeploymentStatus"), Some(TypeDefinition::Enum(v)) if v.len() == 13)
        );
    }

    #[test]
    fn binds_arguments_from_variables_whatever_their_names() {
        let p = prepare(
            "query Q($d: String!, $n: Int, $f: String) { logs: deploymentLogs(deploymentId: $d, limit: $n, filter: $f) { timestamp } }",
            Some("Q"),
            &vars(json!({"d": "dep", "n": 5})),
        )
        .expect("valid");
        assert_eq!(p.fields[0].key, "logs");
        assert_eq!(p.fields[0].name, "deploymentLogs");
        assert_eq!(
            Json::Object(p.fields[0].arguments.clone()),
            json!({"deploymentId": "dep", "limit": 5})
        );
    }

    #[test]
    fn literals_and_input_objects() {
        let p = prepare(
            "query($p: String) { deployments(first: 20, input: {projectId: $p, status: {in: [SUCCESS, CRASHED]}}) { edges { node { id } } } }",
            None,
            &vars(json!({"p": "proj"})),
        )
        .expect("valid");
        assert_eq!(
            Json::Object(p.fields[0].arguments.clone()),
            json!({"first": 20, "input": {"projectId": "proj", "status": {"in": ["SUCCESS", "CRASHED"]}}})
        );
        let e = errors(
            "{ deployments(input: {status: {successfulOnly: true}}) { edges { node { id } } } }",
            json!({}),
        );
        assert_eq!(e[0].code, VALIDATION_FAILED);
        assert!(
            e[0].message
                .contains("\"successfulOnly\" is not defined by type \"DeploymentStatusInput\""),
            "{e:?}"
        );
        let e = errors(
            "query($i: DeploymentListInput!) { deployments(input: $i) { edges { node { id } } } }",
            json!({"i": {"status": {"in": ["DONE"]}}}),
        );
        assert_eq!(e[0].code, BAD_USER_INPUT);
        assert!(
            e[0].message
                .contains("Value \"DONE\" does not exist in \"DeploymentStatus\" enum."),
            "{e:?}"
        );
    }

    #[test]
    fn validation_errors() {
        let e = errors("{ nope { id } }", json!({}));
        assert_eq!(
            e[0].message,
            "Cannot query field \"nope\" on type \"Query\"."
        );
        assert_eq!(e[0].code, VALIDATION_FAILED);
        assert_eq!(e[0].locations, vec![Pos { line: 1, column: 3 }]);
        let e = errors(
            "{ deploymentLogs(deploymentId: \"d\", anchorDate: \"x\") { timestamp } }",
            json!({}),
        );
        assert_eq!(
            e[0].message,
            "Unknown argument \"anchorDate\" on field \"Query.deploymentLogs\"."
        );
        let e = errors("{ deploymentLogs { timestamp } }", json!({}));
        assert!(e[0]
            .message
            .contains("argument \"deploymentId\" of type \"String!\" is required"));
        let e = errors(
            "{ deploymentLogs(deploymentId: \"d\") { level } }",
            json!({}),
        );
        assert_eq!(
            e[0].message,
            "Cannot query field \"level\" on type \"Log\"."
        );
        let e = errors(
            "{ deploymentLogs(deploymentId: \"d\") { tags } }",
            json!({}),
        );
        assert!(e[0].message.contains("must have a selection of subfields"));
        let e = errors("query($x: Int) { me { id } }", json!({}));
        assert_eq!(e[0].message, "Variable \"$x\" is never used.");
        let e = errors(
            "query Q { deploymentLogs(deploymentId: $d) { timestamp } }",
            json!({}),
        );
        assert_eq!(
            e[0].message,
            "Variable \"$d\" is not defined in operation \"Q\"."
        );
        let e = errors(
            "query($d: String) { deploymentLogs(deploymentId: $d) { timestamp } }",
            json!({}),
        );
        assert!(e[0]
            .message
            .contains("of type \"String\" used in position expecting type \"String!\""));
        let e = errors("mutation { x }", json!({}));
        assert!(e[0].message.contains("mutation"));
        let e = errors("{ me { id", json!({}));
        assert_eq!(e[0].code, PARSE_FAILED);
    }

    #[test]
    fn variable_coercion_errors() {
        let q = "query($d: String!, $l: Int, $s: DateTime) { deploymentLogs(deploymentId: $d, limit: $l, startDate: $s) { timestamp } }";
        let e = errors(q, json!({}));
        assert_eq!(
            e[0].message,
            "Variable \"$d\" of required type \"String!\" was not provided."
        );
        assert_eq!(e[0].code, BAD_USER_INPUT);
        let e = errors(q, json!({"d": "x", "l": "500"}));
        assert_eq!(e[0].message, "Variable \"$l\" got invalid value \"500\"; Int cannot represent non-integer value: \"500\"");
        let e = errors(q, json!({"d": "x", "s": "yesterday"}));
        assert!(e[0].message.contains("DateTime cannot represent"));
        assert!(prepare(
            q,
            None,
            &vars(json!({"d": "x", "l": null, "s": "2026-11-27T10:00:00Z"}))
        )
        .is_ok());
    }

    #[test]
    fn completes_only_the_selection() {
        let p = prepare(
            "{ d: deployment(id: \"x\") { id st: status ...F __typename } } fragment F on Deployment { createdAt canRedeploy }",
            None,
            &Map::new(),
        )
        .expect("valid");
        let f = &p.fields[0];
        let full = json!({"id": "x", "status": "SUCCESS", "createdAt": "2026-01-01T00:00:00.000Z", "url": "u"});
        let out = schema().complete(&full, &f.ty, &f.children);
        assert_eq!(
            out,
            json!({"id": "x", "st": "SUCCESS", "createdAt": "2026-01-01T00:00:00.000Z", "canRedeploy": false, "__typename": "Deployment"})
        );
    }
}
