//! A JSON-schema walker, enough of JSON Schema 2020-12 / OpenAPI 3.1 / Swagger 2.0 for the
//! two specs: `$ref`, type (incl. arrays with "null"), enum, const, allOf, anyOf, oneOf,
//! properties, required, additionalProperties, min/maxProperties, items (schema or tuple),
//! min/maxItems, uniqueItems, min/maxLength (in Unicode code points), pattern (see
//! `known_pattern`), format (uri, date-time, int32, int64), minimum/maximum (+exclusive).

use serde_json::Value;

#[derive(Clone, Debug, PartialEq)]
pub enum Seg {
    Key(String),
    Idx(usize),
}

#[derive(Clone, Debug)]
pub struct SchemaError {
    pub path: Vec<Seg>,
    /// Discord-style error code, e.g. `BASE_TYPE_MAX_LENGTH`.
    pub code: &'static str,
    pub msg: String,
}

impl SchemaError {
    pub fn display(&self, root: &str) -> String {
        format!("{}: {}", path_string(root, &self.path), self.msg)
    }
}

pub fn path_string(root: &str, p: &[Seg]) -> String {
    let mut s = root.to_string();
    for seg in p {
        match seg {
            Seg::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Seg::Idx(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// Validates `inst` against `schema`; `$ref`s are JSON pointers into `root`.
pub fn validate(root: &Value, schema: &Value, inst: &Value) -> Vec<SchemaError> {
    let mut w = Walker {
        root,
        path: vec![],
        errs: vec![],
        depth: 0,
    };
    w.check(schema, inst);
    w.errs
}

pub fn resolve<'a>(root: &'a Value, r: &str) -> Option<&'a Value> {
    let p = r.strip_prefix('#')?;
    root.pointer(p)
}

/// Patterns the specs use, implemented by hand (no regex crate). Others are not checked.
fn known_pattern(p: &str, s: &str) -> Option<bool> {
    let hex = |c: char| c.is_ascii_hexdigit();
    match p {
        // Discord SnowflakeType
        "^(0|[1-9][0-9]*)$" => Some(
            s == "0"
                || (!s.is_empty() && !s.starts_with('0') && s.chars().all(|c| c.is_ascii_digit())),
        ),
        // Discord colour strings
        "^#(([0-9a-fA-F]{2}){3}|([0-9a-fA-F]){3})$" => {
            Some(s.starts_with('#') && (s.len() == 7 || s.len() == 4) && s[1..].chars().all(hex))
        }
        // Slack defs_ts
        r"^\d{10}\.\d{6}$" => Some(is_slack_ts(s)),
        _ => None,
    }
}

pub fn is_slack_ts(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b[10] == b'.'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 10 || c.is_ascii_digit())
}

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn is_integer(v: &Value) -> bool {
    match v {
        Value::Number(n) => {
            n.is_i64() || n.is_u64() || n.as_f64().map(|f| f.fract() == 0.0).unwrap_or(false)
        }
        _ => false,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "integer" => is_integer(v),
        "number" => v.is_number(),
        "string" => v.is_string(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => true,
    }
}

/// JSON equality where 2 == 2.0.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).map(|w| json_eq(v, w)).unwrap_or(false))
        }
        _ => a == b,
    }
}

struct Walker<'a> {
    root: &'a Value,
    path: Vec<Seg>,
    errs: Vec<SchemaError>,
    depth: usize,
}

impl<'a> Walker<'a> {
    fn err(&mut self, code: &'static str, msg: String) {
        self.errs.push(SchemaError {
            path: self.path.clone(),
            code,
            msg,
        });
    }

    fn check(&mut self, schema: &Value, v: &Value) {
        if self.depth > 256 {
            return;
        }
        self.depth += 1;
        self.check_inner(schema, v);
        self.depth -= 1;
    }

    fn check_inner(&mut self, schema: &Value, v: &Value) {
        let s = match schema {
            Value::Bool(true) => return,
            Value::Bool(false) => {
                return self.err("SCHEMA_FALSE", "no value is allowed here".into())
            }
            Value::Object(s) => s,
            _ => return,
        };
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            match resolve(self.root, r) {
                Some(target) => self.check(target, v),
                None => self.err("STANDIN_BAD_REF", format!("spec $ref {r} does not resolve")),
            }
        }
        // LENIENT: a Discord snowflake (`format: snowflake`, declared `type: string`) is also
        // accepted as a non-negative JSON integer. Discord's own docs do this for upload
        // placeholders (`"attachments": [{"id": 0, …}]`) and serenity 0.12 serialises
        // `CreateAttachment.id` as an integer.
        if s.get("format").and_then(Value::as_str) == Some("snowflake") && v.is_u64() {
            return;
        }
        if let Some(t) = s.get("type") {
            let ok = match t {
                Value::String(t) => type_ok(t, v),
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(|t| type_ok(t, v)),
                _ => true,
            };
            if !ok {
                let code = if v.is_null() {
                    "BASE_TYPE_REQUIRED"
                } else {
                    "BASE_TYPE_INVALID"
                };
                return self.err(
                    code,
                    format!("expected type {t}, got {} ({})", kind(v), short(v)),
                );
            }
        }
        if let Some(Value::Array(options)) = s.get("enum") {
            if !options.iter().any(|o| json_eq(o, v)) {
                self.err(
                    "BASE_TYPE_CHOICES",
                    format!(
                        "value {} is not one of {}",
                        short(v),
                        short(&Value::Array(options.clone()))
                    ),
                );
            }
        }
        if let Some(c) = s.get("const") {
            if !json_eq(c, v) {
                self.err(
                    "BASE_TYPE_CHOICES",
                    format!("value {} is not the constant {}", short(v), c),
                );
            }
        }
        if let Some(Value::Array(all)) = s.get("allOf") {
            for sub in all {
                self.check(sub, v);
            }
        }
        for kw in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = s.get(kw) {
                self.any_branch(kw, branches, v);
            }
        }
        match v {
            Value::Object(m) => self.check_object(s, m),
            Value::Array(a) => self.check_array(s, a),
            Value::String(st) => self.check_string(s, st),
            Value::Number(_) => self.check_number(s, v),
            _ => {}
        }
    }

    /// "accept if any branch validates"; otherwise report the closest branch.
    fn any_branch(&mut self, kw: &str, branches: &[Value], v: &Value) {
        let mut best: Option<(usize, Vec<SchemaError>)> = None;
        for b in branches {
            let mut sub = Walker {
                root: self.root,
                path: self.path.clone(),
                errs: vec![],
                depth: self.depth,
            };
            sub.check(b, v);
            if sub.errs.is_empty() {
                return;
            }
            // A mismatch of the branch's own type, or of its `type` discriminator, means
            // "this is not the branch the sender meant": rank such branches last.
            let base = self.path.len();
            let cost = sub.errs.len()
                + sub
                    .errs
                    .iter()
                    .filter(|e| {
                        (e.path.len() == base && e.code.starts_with("BASE_TYPE"))
                            || (e.path.len() == base + 1
                                && e.path[base] == Seg::Key("type".into())
                                && e.code == "BASE_TYPE_CHOICES")
                    })
                    .count()
                    * 1000;
            if best.as_ref().map(|(c, _)| cost < *c).unwrap_or(true) {
                best = Some((cost, sub.errs));
            }
        }
        match best {
            Some((cost, errs)) if cost < 1000 => self.errs.extend(errs),
            _ => self.err(
                "UNION_TYPE_CHOICES",
                format!(
                    "{} matches none of the {} {kw} alternatives",
                    short(v),
                    branches.len()
                ),
            ),
        }
    }

    fn check_object(
        &mut self,
        s: &serde_json::Map<String, Value>,
        m: &serde_json::Map<String, Value>,
    ) {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(req)) = s.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !m.contains_key(r) {
                    self.path.push(Seg::Key(r.to_string()));
                    self.err("BASE_TYPE_REQUIRED", "required property is missing".into());
                    self.path.pop();
                }
            }
        }
        for (k, val) in m {
            self.path.push(Seg::Key(k.clone()));
            if let Some(ps) = props.and_then(|p| p.get(k)) {
                self.check(ps, val);
            } else {
                match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => self.err(
                        "UNKNOWN_FIELD",
                        "property is not allowed by the schema".into(),
                    ),
                    Some(ap @ Value::Object(_)) => self.check(ap, val),
                    _ => {}
                }
            }
            self.path.pop();
        }
        if let Some(n) = s.get("minProperties").and_then(Value::as_u64) {
            if (m.len() as u64) < n {
                self.err(
                    "BASE_TYPE_MIN_LENGTH",
                    format!("needs at least {n} properties"),
                );
            }
        }
        if let Some(n) = s.get("maxProperties").and_then(Value::as_u64) {
            if (m.len() as u64) > n {
                self.err(
                    "BASE_TYPE_MAX_LENGTH",
                    format!("has {} properties, at most {n} allowed", m.len()),
                );
            }
        }
    }

    fn check_array(&mut self, s: &serde_json::Map<String, Value>, a: &[Value]) {
        match s.get("items") {
            Some(Value::Array(tuple)) => {
                for (i, (item, sch)) in a.iter().zip(tuple).enumerate() {
                    self.path.push(Seg::Idx(i));
                    self.check(sch, item);
                    self.path.pop();
                }
            }
            Some(sch) => {
                for (i, item) in a.iter().enumerate() {
                    self.path.push(Seg::Idx(i));
                    self.check(sch, item);
                    self.path.pop();
                }
            }
            None => {}
        }
        if let Some(n) = s.get("minItems").and_then(Value::as_u64) {
            if (a.len() as u64) < n {
                self.err(
                    "BASE_TYPE_MIN_LENGTH",
                    format!("has {} items, at least {n} required", a.len()),
                );
            }
        }
        if let Some(n) = s.get("maxItems").and_then(Value::as_u64) {
            if (a.len() as u64) > n {
                self.err(
                    "BASE_TYPE_MAX_LENGTH",
                    format!("has {} items, at most {n} allowed", a.len()),
                );
            }
        }
        if s.get("uniqueItems") == Some(&Value::Bool(true)) {
            for i in 0..a.len() {
                for j in i + 1..a.len() {
                    if json_eq(&a[i], &a[j]) {
                        self.err(
                            "SET_TYPE_ALREADY_CONTAINS_VALUE",
                            format!("items {i} and {j} are equal"),
                        );
                    }
                }
            }
        }
    }

    fn check_string(&mut self, s: &serde_json::Map<String, Value>, st: &str) {
        let len = st.chars().count() as u64;
        if let Some(n) = s.get("minLength").and_then(Value::as_u64) {
            if len < n {
                self.err(
                    "BASE_TYPE_MIN_LENGTH",
                    format!("length {len} < minLength {n}"),
                );
            }
        }
        if let Some(n) = s.get("maxLength").and_then(Value::as_u64) {
            if len > n {
                self.err(
                    "BASE_TYPE_MAX_LENGTH",
                    format!("length {len} > maxLength {n}"),
                );
            }
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            if known_pattern(p, st) == Some(false) {
                self.err(
                    "STRING_TYPE_REGEX",
                    format!("{:?} does not match pattern {p}", st),
                );
            }
        }
        match s.get("format").and_then(Value::as_str) {
            Some("uri") if url::Url::parse(st).is_err() => {
                self.err(
                    "URL_TYPE_INVALID_URL",
                    format!("{:?} is not a well formed URL", st),
                );
            }
            Some("date-time") if chrono::DateTime::parse_from_rfc3339(st).is_err() => {
                self.err(
                    "DATE_TIME_TYPE_PARSE",
                    format!("{:?} is not an RFC 3339 date-time", st),
                );
            }
            _ => {}
        }
    }

    fn check_number(&mut self, s: &serde_json::Map<String, Value>, v: &Value) {
        let x = v.as_f64().unwrap_or(0.0);
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        if let Some(m) = num("minimum") {
            if x < m {
                self.err("NUMBER_TYPE_MIN", format!("{x} < minimum {m}"));
            }
        }
        if let Some(m) = num("maximum") {
            if x > m {
                self.err("NUMBER_TYPE_MAX", format!("{x} > maximum {m}"));
            }
        }
        if let Some(m) = num("exclusiveMinimum") {
            if x <= m {
                self.err("NUMBER_TYPE_MIN", format!("{x} <= exclusiveMinimum {m}"));
            }
        }
        if let Some(m) = num("exclusiveMaximum") {
            if x >= m {
                self.err("NUMBER_TYPE_MAX", format!("{x} >= exclusiveMaximum {m}"));
            }
        }
        match s.get("format").and_then(Value::as_str) {
            Some("int32") if is_integer(v) && (x < i32::MIN as f64 || x > i32::MAX as f64) => {
                self.err("NUMBER_TYPE_MAX", format!("{x} does not fit int32"));
            }
            Some("int64") if is_integer(v) && v.as_i64().is_none() => {
                self.err("NUMBER_TYPE_MAX", format!("{x} does not fit int64"));
            }
            _ => {}
        }
    }
}

pub fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(77).collect::<String>())
    } else {
        s
    }
}
