//! `cascade schema`: the JSON Schemas of scenario and sweep files accept every shipped config
//! and refuse an unknown key where the loader refuses it.
//!
//! The check is a small validator of the keywords the derived schemas use (`$ref` into
//! `definitions`, `allOf`, `type`, `properties`, `required`, `additionalProperties`, `items`, `minItems`,
//! `maxItems`, `enum`, `const`, `oneOf`, `anyOf`, `minimum`); a keyword it does not know fails
//! the test, so a schema that grows one is noticed here.

use cascade_sim::schema::{SchemaKind, schema};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const KNOWN: &[&str] = &[
    "$schema",
    "definitions",
    "$ref",
    "title",
    "description",
    "default",
    "format",
    "writeOnly",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "oneOf",
    "anyOf",
    "allOf",
    "minimum",
];

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        other => panic!("unknown type {other}"),
    }
}

/// The problems of `v` against schema `s` (`root` holds `definitions`), each with its path.
fn check(root: &Value, s: &Value, v: &Value, path: &str, out: &mut Vec<String>) {
    let Some(o) = s.as_object() else {
        if s == &Value::Bool(false) {
            out.push(format!("{path}: not allowed"));
        }
        return;
    };
    for k in o.keys() {
        assert!(
            KNOWN.contains(&k.as_str()),
            "the validator lacks keyword {k}"
        );
    }
    if let Some(r) = o.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/definitions/").expect("a local $ref");
        check(root, &root["definitions"][name], v, path, out);
    }
    if let Some(t) = o.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
            _ => panic!("bad type"),
        };
        if !ok {
            out.push(format!("{path}: not of type {t}"));
            return;
        }
    }
    if let Some(e) = o.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        out.push(format!("{path}: {v} not one of {e:?}"));
    }
    if let Some(c) = o.get("const")
        && c != v
    {
        out.push(format!("{path}: {v} is not {c}"));
    }
    if let (Some(m), Some(x)) = (o.get("minimum").and_then(Value::as_f64), v.as_f64())
        && x < m
    {
        out.push(format!("{path}: {x} below {m}"));
    }
    if let Some(all) = o.get("allOf").and_then(Value::as_array) {
        for a in all {
            check(root, a, v, path, out);
        }
    }
    for (key, pick) in [("oneOf", 1usize), ("anyOf", 0)] {
        if let Some(alts) = o.get(key).and_then(Value::as_array) {
            let errs: Vec<Vec<String>> = alts
                .iter()
                .map(|a| {
                    let mut e = Vec::new();
                    check(root, a, v, path, &mut e);
                    e
                })
                .collect();
            let passing = errs.iter().filter(|e| e.is_empty()).count();
            let ok = if pick == 1 {
                passing == 1
            } else {
                passing >= 1
            };
            if !ok {
                out.push(format!("{path}: {passing} of the {key} alternatives match"));
                // Why the nearest alternative fails.
                let nearest = errs
                    .into_iter()
                    .filter(|e| !e.is_empty())
                    .min_by_key(Vec::len);
                out.extend(nearest.unwrap_or_default());
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = o.get("properties").and_then(Value::as_object);
        if let Some(req) = o.get("required").and_then(Value::as_array) {
            for r in req {
                if !obj.contains_key(r.as_str().unwrap()) {
                    out.push(format!("{path}: lacks required key {r}"));
                }
            }
        }
        for (k, x) in obj {
            let p = format!("{path}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(ps) => check(root, ps, x, &p, out),
                None => match o.get("additionalProperties") {
                    Some(Value::Bool(false)) => out.push(format!("{p}: unknown key")),
                    Some(ap) if ap.is_object() => check(root, ap, x, &p, out),
                    _ => {}
                },
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if let Some(n) = o.get("minItems").and_then(Value::as_u64)
            && (arr.len() as u64) < n
        {
            out.push(format!("{path}: fewer than {n} items"));
        }
        if let Some(n) = o.get("maxItems").and_then(Value::as_u64)
            && (arr.len() as u64) > n
        {
            out.push(format!("{path}: more than {n} items"));
        }
        if let Some(items) = o.get("items") {
            for (i, x) in arr.iter().enumerate() {
                check(root, items, x, &format!("{path}[{i}]"), out);
            }
        }
    }
}

fn problems(kind: SchemaKind, text: &str) -> Vec<String> {
    let tree: toml::Table = toml::from_str(text).expect("TOML");
    let json = serde_json::to_value(tree).unwrap();
    let root = schema(kind);
    let mut out = Vec::new();
    check(&root, &root, &json, "", &mut out);
    out
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

#[test]
fn every_shipped_config_validates() {
    let mut n = 0;
    for (dir, kind) in [
        ("configs/scenarios", SchemaKind::Scenario),
        ("configs/bench", SchemaKind::Scenario),
        ("configs/sweeps", SchemaKind::Sweep),
    ] {
        for f in files(dir) {
            let p = problems(kind, &std::fs::read_to_string(&f).unwrap());
            assert!(p.is_empty(), "{}: {p:#?}", f.display());
            n += 1;
        }
    }
    assert!(n > 40, "{n} files");
}

#[test]
fn unknown_keys_are_refused_where_the_loader_refuses_them() {
    let dir = repo().join("configs/scenarios");
    let gen1 = std::fs::read_to_string(dir.join("gen1.toml")).unwrap();
    let path = std::env::temp_dir().join(format!("cascade-schema-{}.toml", std::process::id()));
    for (needle, bad) in [
        ("[chain]\n", "[chain]\nblock_tme_s = 12.0\n"),
        ("[engine]\n", "[engine]\nliquidaton = 1\n"),
        ("[run]\n", "[run]\nrunz = 3\n"),
    ] {
        assert!(gen1.contains(needle), "{needle}");
        let text = gen1.replacen(needle, bad, 1);
        let p = problems(SchemaKind::Scenario, &text);
        assert!(p.iter().any(|e| e.contains("unknown key")), "{bad}: {p:#?}");
        // The loader refuses the same file.
        std::fs::write(&path, &text).unwrap();
        assert!(cascade_sim::load_scenario(&path, &[]).is_err(), "{bad}");
    }
    let _ = std::fs::remove_file(&path);
    // A sweep file's unknown key, and a wrong type.
    let sweep =
        "runs = 2\nscenario = \"x.toml\"\n[[axis]]\nkey = \"a\"\nvalues = [1]\nlabelz = [\"a\"]\n";
    assert!(
        problems(SchemaKind::Sweep, sweep)
            .iter()
            .any(|e| e.contains("axis[0].labelz: unknown key"))
    );
    let p = problems(SchemaKind::Sweep, "runs = \"two\"\n");
    assert!(p.iter().any(|e| e.contains(".runs: not of type")), "{p:?}");
}

#[test]
fn descriptions_come_from_the_doc_comments() {
    let s = schema(SchemaKind::Sweep);
    let d = s["properties"]["runs"]["description"].as_str().unwrap();
    assert_eq!(d, "Runs per point.");
    let s = schema(SchemaKind::Scenario);
    assert!(s["$schema"].as_str().unwrap().contains("draft-07"));
    assert!(s["properties"]["quote"]["description"].is_string());
}
