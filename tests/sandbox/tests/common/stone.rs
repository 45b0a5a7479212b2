//! A strict validator of Dropbox wire JSON against the Stone type table in
//! `fixtures/dropbox/stone_types.json` (extracted from the spec with the official Stone parser).
//!
//! The rules are Stone's JSON serialization (stone_serializers.py in PyPI `stone`):
//! - a struct is an object whose keys are its fields; required fields (not nullable, no default)
//!   must be there; an unknown key is an error;
//! - a struct that enumerates subtypes is `{".tag": <subtype>, ...fields of the subtype}`;
//! - a union member is `{".tag": m}` if void; `{".tag": m, ...fields}` if its type is a struct
//!   without subtypes; `{".tag": m, m: value}` otherwise; a void member may be a bare `"m"` only
//!   in arguments (`Mode::Arg`), Dropbox's responses always use objects;
//! - the catch-all (`other`) and members the table does not expand are refused;
//! - strings obey `min_length`/`max_length`, integers their range and bounds, timestamps their
//!   format exactly, lists `min_items`/`max_items`.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::Value;

pub const STONE_TYPES: &str = include_str!("../fixtures/dropbox/stone_types.json");
pub const STONE_EXAMPLES: &str = include_str!("../fixtures/dropbox/stone_examples.json");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A value Dropbox sends.
    Response,
    /// A value a client sends (void union members may be bare strings).
    Arg,
}

pub struct Stone(Value);

pub fn stone() -> &'static Stone {
    static STONE: OnceLock<Stone> = OnceLock::new();
    STONE.get_or_init(|| Stone(serde_json::from_str(STONE_TYPES).expect("stone_types.json")))
}

pub fn examples() -> &'static Value {
    static EXAMPLES: OnceLock<Value> = OnceLock::new();
    EXAMPLES.get_or_init(|| serde_json::from_str(STONE_EXAMPLES).expect("stone_examples.json"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

impl Stone {
    pub fn routes(&self) -> &serde_json::Map<String, Value> {
        self.0["routes"].as_object().expect("routes")
    }

    /// The route's entry (`url`, `scope`, `arg`, `result`, `error` type refs).
    pub fn route(&self, name: &str) -> &Value {
        self.0["routes"]
            .get(name)
            .unwrap_or_else(|| panic!("route {name} is not in the fixture"))
    }

    pub fn ty(&self, name: &str) -> &Value {
        self.0["types"]
            .get(name)
            .unwrap_or_else(|| panic!("type {name} is not in the fixture"))
    }

    pub fn has_type(&self, name: &str) -> bool {
        self.0["types"].get(name).is_some()
    }

    pub fn login_event_types(&self) -> Vec<String> {
        strings(&self.0["login_event_types"])
    }

    /// Field names of a struct (inherited ones included).
    pub fn fields(&self, name: &str) -> BTreeSet<String> {
        self.ty(name)["fields"]
            .as_array()
            .expect("struct")
            .iter()
            .map(|f| f["name"].as_str().expect("name").to_string())
            .collect()
    }

    /// Member names of a union (unexpanded ones included).
    pub fn members(&self, name: &str) -> Vec<String> {
        let t = self.ty(name);
        let mut out: Vec<String> = t["members"]
            .as_array()
            .expect("union")
            .iter()
            .map(|m| m["name"].as_str().expect("name").to_string())
            .collect();
        if let Some(more) = t.get("unexpanded_members") {
            out.extend(strings(more));
        }
        out
    }

    /// Validates `v` as the named type; the errors, with their paths.
    pub fn check_named(&self, name: &str, v: &Value, mode: Mode) -> Vec<String> {
        let mut errs = Vec::new();
        self.check_ref(&serde_json::json!({"ref": name}), v, "$", mode, &mut errs);
        errs
    }

    /// Validates `v` against a type ref (`{"ref"}`, `{"prim"}`, `{"list"}`, `{"nullable"}`, ...).
    pub fn check_type(&self, tref: &Value, v: &Value, mode: Mode) -> Vec<String> {
        let mut errs = Vec::new();
        self.check_ref(tref, v, "$", mode, &mut errs);
        errs
    }

    /// Panics with every error, naming the value.
    pub fn assert_named(&self, name: &str, v: &Value) {
        let errs = self.check_named(name, v, Mode::Response);
        assert!(errs.is_empty(), "{name}: {errs:#?}\nvalue: {v}");
    }

    fn check_ref(&self, t: &Value, v: &Value, path: &str, mode: Mode, errs: &mut Vec<String>) {
        if let Some(inner) = t.get("nullable") {
            if !v.is_null() {
                self.check_ref(inner, v, path, mode, errs);
            }
            return;
        }
        if let Some(item) = t.get("list") {
            let Some(items) = v.as_array() else {
                errs.push(format!("{path}: expected list, got {}", kind(v)));
                return;
            };
            if let Some(min) = t.get("min_items").and_then(Value::as_u64) {
                if (items.len() as u64) < min {
                    errs.push(format!("{path}: fewer than {min} items"));
                }
            }
            if let Some(max) = t.get("max_items").and_then(Value::as_u64) {
                if items.len() as u64 > max {
                    errs.push(format!("{path}: more than {max} items"));
                }
            }
            for (i, x) in items.iter().enumerate() {
                self.check_ref(item, x, &format!("{path}[{i}]"), mode, errs);
            }
            return;
        }
        if let Some(value_type) = t.get("map") {
            let Some(map) = v.as_object() else {
                errs.push(format!("{path}: expected map, got {}", kind(v)));
                return;
            };
            for (k, x) in map {
                self.check_ref(value_type, x, &format!("{path}.{k}"), mode, errs);
            }
            return;
        }
        if let Some(name) = t.get("ref").and_then(Value::as_str) {
            self.check_user_defined(name, v, path, mode, errs);
            return;
        }
        let prim = t["prim"]
            .as_str()
            .unwrap_or_else(|| panic!("bad type ref {t}"));
        self.check_prim(prim, t, v, path, errs);
    }

    fn check_prim(&self, prim: &str, t: &Value, v: &Value, path: &str, errs: &mut Vec<String>) {
        let mut fail = |msg: String| errs.push(format!("{path}: {msg}"));
        match prim {
            "Void" => {
                if !v.is_null() {
                    fail(format!("expected null, got {}", kind(v)));
                }
            }
            "Boolean" => {
                if !v.is_boolean() {
                    fail(format!("expected boolean, got {}", kind(v)));
                }
            }
            "String" | "Bytes" => {
                let Some(s) = v.as_str() else {
                    return fail(format!("expected string, got {}", kind(v)));
                };
                let len = s.chars().count() as u64;
                if let Some(min) = t.get("min_length").and_then(Value::as_u64) {
                    if len < min {
                        fail(format!("'{s}' is shorter than {min}"));
                    }
                }
                if let Some(max) = t.get("max_length").and_then(Value::as_u64) {
                    if len > max {
                        fail(format!("'{s}' is longer than {max}"));
                    }
                }
            }
            "Timestamp" => {
                let Some(s) = v.as_str() else {
                    return fail(format!("expected timestamp string, got {}", kind(v)));
                };
                let format = t["format"].as_str().expect("format");
                let ok = chrono::NaiveDateTime::parse_from_str(s, format)
                    .is_ok_and(|d| d.format(format).to_string() == s);
                if !ok {
                    fail(format!("'{s}' does not match {format}"));
                }
            }
            "UInt32" | "UInt64" | "Int32" | "Int64" => {
                let (lo, hi): (i128, i128) = match prim {
                    "UInt32" => (0, u32::MAX.into()),
                    "UInt64" => (0, u64::MAX.into()),
                    "Int32" => (i32::MIN.into(), i32::MAX.into()),
                    _ => (i64::MIN.into(), i64::MAX.into()),
                };
                let n = v
                    .as_u64()
                    .map(i128::from)
                    .or_else(|| v.as_i64().map(i128::from));
                let Some(n) = n else {
                    return fail(format!("expected integer, got {v}"));
                };
                let lo = t
                    .get("min_value")
                    .and_then(Value::as_i64)
                    .map_or(lo, i128::from);
                let hi = t
                    .get("max_value")
                    .and_then(Value::as_i64)
                    .map_or(hi, i128::from);
                if n < lo || n > hi {
                    fail(format!("{n} is outside {lo}..={hi}"));
                }
            }
            "Float32" | "Float64" => {
                if !v.is_number() {
                    fail(format!("expected number, got {}", kind(v)));
                }
            }
            other => fail(format!("unknown primitive {other}")),
        }
    }

    fn check_user_defined(
        &self,
        name: &str,
        v: &Value,
        path: &str,
        mode: Mode,
        errs: &mut Vec<String>,
    ) {
        let t = self.ty(name);
        if t["kind"] == "struct" {
            self.check_struct(name, v, path, mode, errs, false);
        } else {
            self.check_union(name, v, path, mode, errs);
        }
    }

    /// `tagged`: the object carries a `.tag` that the caller has accounted for (a struct member
    /// of a union, or a subtype of a struct tree).
    fn check_struct(
        &self,
        name: &str,
        v: &Value,
        path: &str,
        mode: Mode,
        errs: &mut Vec<String>,
        tagged: bool,
    ) {
        let t = self.ty(name);
        let Some(obj) = v.as_object() else {
            errs.push(format!("{path}: {name}: expected object, got {}", kind(v)));
            return;
        };
        if let Some(subtypes) = t.get("subtypes").filter(|_| !tagged) {
            let Some(tag) = obj.get(".tag").and_then(Value::as_str) else {
                errs.push(format!(
                    "{path}: {name} enumerates subtypes: missing '.tag'"
                ));
                return;
            };
            match subtypes.get(tag).and_then(Value::as_str) {
                Some(sub) => self.check_struct(sub, v, path, mode, errs, true),
                None => errs.push(format!("{path}: {name}: unknown subtype '{tag}'")),
            }
            return;
        }
        let fields = t["fields"].as_array().expect("fields");
        for key in obj.keys() {
            if key == ".tag" && tagged {
                continue;
            }
            if !fields.iter().any(|f| f["name"] == key.as_str()) {
                errs.push(format!("{path}: {name} has no field '{key}'"));
            }
        }
        for f in fields {
            let fname = f["name"].as_str().expect("name");
            match obj.get(fname) {
                Some(x) => {
                    self.check_ref(&f["type"], x, &format!("{path}.{fname}"), mode, errs);
                }
                None if f["optional"] == true => {}
                None => errs.push(format!("{path}: {name}: missing required field '{fname}'")),
            }
        }
    }

    fn check_union(&self, name: &str, v: &Value, path: &str, mode: Mode, errs: &mut Vec<String>) {
        let t = self.ty(name);
        let members = t["members"].as_array().expect("members");
        let catch_all = t["catch_all"].as_str();
        let unexpanded = strings(t.get("unexpanded_members").unwrap_or(&Value::Null));
        let (tag, obj) = match v {
            Value::String(s) if mode == Mode::Arg => (s.as_str(), None),
            Value::Object(o) => match o.get(".tag").and_then(Value::as_str) {
                Some(tag) => (tag, Some(o)),
                None => {
                    errs.push(format!("{path}: {name}: missing '.tag'"));
                    return;
                }
            },
            other => {
                errs.push(format!(
                    "{path}: {name}: expected object, got {}",
                    kind(other)
                ));
                return;
            }
        };
        if Some(tag) == catch_all {
            errs.push(format!("{path}: {name}: catch-all tag '{tag}' used"));
            return;
        }
        if unexpanded.iter().any(|u| u == tag) {
            errs.push(format!(
                "{path}: {name}: member '{tag}' is not expanded in the fixture"
            ));
            return;
        }
        let Some(member) = members.iter().find(|m| m["name"] == tag) else {
            errs.push(format!("{path}: {name}: unknown tag '{tag}'"));
            return;
        };
        let mtype = &member["type"];
        let (inner, nullable) = match mtype.get("nullable") {
            Some(inner) => (inner, true),
            None => (mtype, false),
        };
        let Some(obj) = obj else {
            // A bare string (arguments only): the member must be void or nullable.
            if !(nullable || inner["prim"] == "Void") {
                errs.push(format!("{path}: {name}: '{tag}' needs a value"));
            }
            return;
        };
        let extra: Vec<&String> = obj.keys().filter(|k| *k != ".tag").collect();
        if inner["prim"] == "Void" {
            if let Some(k) = extra
                .iter()
                .find(|k| k.as_str() != tag || !obj[k.as_str()].is_null())
            {
                errs.push(format!("{path}: {name}: void member '{tag}' has key '{k}'"));
            }
            return;
        }
        if nullable && extra.is_empty() {
            return;
        }
        let flattened = inner
            .get("ref")
            .and_then(Value::as_str)
            .map(|r| self.ty(r))
            .is_some_and(|ty| ty["kind"] == "struct" && ty.get("subtypes").is_none());
        if flattened {
            let r = inner["ref"].as_str().expect("ref");
            self.check_struct(r, v, &format!("{path}<{tag}>"), mode, errs, true);
            return;
        }
        match obj.get(tag) {
            Some(x) => self.check_ref(inner, x, &format!("{path}.{tag}"), mode, errs),
            None => errs.push(format!("{path}: {name}: missing '{tag}' key")),
        }
        if let Some(k) = extra.iter().find(|k| k.as_str() != tag) {
            errs.push(format!("{path}: {name}: unexpected key '{k}'"));
        }
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().expect("string").to_string())
                .collect()
        })
        .unwrap_or_default()
}
