//! Turning serde's deserialization errors into messages a user can act on.
//!
//! serde reports problems in Rust's words (`invalid type: floating point `2.5`, expected u32`,
//! `unknown variant `sobol``), and for internally tagged tables (`[[agents]]`, `kind = ...`)
//! it loses the field: the error points at `agents[1]`. This module rewrites such a message
//! into the key and rule form of every other configuration problem: the full key (found in the
//! TOML tree the error came from), the rule in words ("must be an integer between 0 and
//! 4294967295"), the allowed values of an unknown variant, and the value that was given.

use crate::overrides::split_path;
use cascade_core::ConfigIssue;
use toml::{Table, Value};

/// The issue for serde error `msg` at serde path `path`, read from `tree`.
pub fn serde_issue(path: &str, msg: &str, tree: &Table) -> ConfigIssue {
    let msg = last_line(msg);
    let path = if path == "." { "" } else { path };
    let join = |field: &str| -> String {
        if path.is_empty() {
            field.to_string()
        } else if path == field || path.ends_with(&format!(".{field}")) {
            // serde_path_to_error already ends the path with the unknown field.
            path.to_string()
        } else {
            format!("{path}.{field}")
        }
    };
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        // Inside an internally tagged table serde loses the path below it: find the nested
        // table that holds the field.
        let parent = path
            .strip_suffix(field)
            .and_then(|p| p.strip_suffix('.'))
            .unwrap_or(path);
        let key = match lookup(tree, parent) {
            Some(Value::Table(t)) if !t.contains_key(field) => {
                locate_key(tree, parent, field).unwrap_or_else(|| join(field))
            }
            _ => join(field),
        };
        return ConfigIssue {
            key,
            rule: format!("is not a known key ({})", allowed(expected)),
        };
    }
    if let Some(rest) = msg.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        return ConfigIssue {
            key: join(field),
            rule: "is required but missing".to_string(),
        };
    }
    if let Some(rest) = msg.strip_prefix("unknown variant `")
        && let Some((variant, expected)) = rest.split_once('`')
    {
        // An internally tagged table names its variant in `kind`.
        let here = lookup(tree, path);
        let key = match here.and_then(|v| v.get("kind")).and_then(|k| k.as_str()) {
            Some(k) if k == variant => join("kind"),
            _ => locate(tree, path, &format!("string \"{variant}\""))
                .unwrap_or_else(|| display_key(path)),
        };
        return ConfigIssue {
            key,
            rule: format!(
                "\"{variant}\" is not one of the allowed values: {}",
                allowed(expected)
                    .trim_start_matches("expected one of ")
                    .trim_start_matches("expected ")
            ),
        };
    }
    if let Some((got, expected)) = split_invalid(&msg) {
        let key = locate(tree, path, &got).unwrap_or_else(|| display_key(path));
        return ConfigIssue {
            key,
            rule: format!("must be {} (got {})", words(&expected), got_words(&got)),
        };
    }
    if let Some(rest) = msg.strip_prefix("invalid length ")
        && let Some((n, expected)) = rest.split_once(", expected ")
    {
        return ConfigIssue {
            key: display_key(path),
            rule: format!("must be {} (got {n} values)", words(expected)),
        };
    }
    ConfigIssue {
        key: display_key(path),
        rule: msg,
    }
}

fn display_key(path: &str) -> String {
    if path.is_empty() {
        "(top level)".to_string()
    } else {
        path.to_string()
    }
}

/// The toml crate prefixes messages with a location block; keep the message line.
fn last_line(msg: &str) -> String {
    msg.lines()
        .rev()
        .find(|l| {
            let l = l.trim_start();
            !l.trim().is_empty() && !l.starts_with('|') && !l.starts_with("in `")
        })
        .unwrap_or("")
        .trim()
        .to_string()
}

/// "expected one of `a`, `b`" as "expected one of a, b"; "there are no fields" kept.
fn allowed(expected: &str) -> String {
    expected.trim_start_matches(',').trim().replace('`', "")
}

/// `invalid type: X, expected Y` or `invalid value: X, expected Y` as (X, Y).
fn split_invalid(msg: &str) -> Option<(String, String)> {
    let rest = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))?;
    let (got, expected) = rest.rsplit_once(", expected ")?;
    Some((got.to_string(), expected.to_string()))
}

/// serde's name of an expected type, in words.
fn words(expected: &str) -> String {
    let e = expected.trim();
    let int = |lo: &str, hi: &str| format!("an integer between {lo} and {hi}");
    match e {
        "f64" | "f32" => "a number".into(),
        "u8" => int("0", "255"),
        "u16" => int("0", "65535"),
        "u32" => int("0", "4294967295"),
        "u64" | "usize" => "a whole number (0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" | "an integer" => "an integer".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a string" | "a borrowed string" | "a character" | "char" => "a string".into(),
        "a sequence" | "sequence" => "a list".into(),
        "a map" | "map" => "a table".into(),
        _ if e.starts_with("struct ") || e.starts_with("internally tagged enum") => {
            "a table".into()
        }
        _ if e.starts_with("enum ") => "one of the allowed names".into(),
        _ if e.starts_with("an array of length ") => {
            format!("a list of {} values", &e["an array of length ".len()..])
        }
        _ if e.starts_with("a tuple of size ") => {
            format!("a list of {} values", &e["a tuple of size ".len()..])
        }
        _ => e.replace('`', ""),
    }
}

/// serde's description of the value it got, in words.
fn got_words(got: &str) -> String {
    let inner = |p: &str| got.strip_prefix(p).map(|s| s.trim_matches('`').to_string());
    if let Some(v) = inner("floating point ")
        .or_else(|| inner("integer "))
        .or_else(|| inner("boolean "))
    {
        return v;
    }
    if let Some(s) = got.strip_prefix("string ") {
        return format!("the string {s}");
    }
    match got {
        "sequence" => "a list".into(),
        "map" => "a table".into(),
        other => other.replace('`', ""),
    }
}

/// The TOML value at a serde path (`agents[1].count`), if the tree has it.
fn lookup<'a>(tree: &'a Table, path: &str) -> Option<&'a Value> {
    let segs = split_path(path);
    let mut cur: Option<&Value> = None;
    for s in &segs {
        let next = match cur {
            None => tree.get(s.as_str()),
            Some(Value::Table(t)) => t.get(s.as_str()),
            Some(Value::Array(a)) => s.parse::<usize>().ok().and_then(|i| a.get(i)),
            Some(_) => None,
        };
        cur = Some(next?);
    }
    match cur {
        None if segs.is_empty() => None,
        c => c,
    }
}

/// The full key of the value serde complained about: when serde stopped at a table (an
/// internally tagged one loses the path), the first key below it holding that value.
fn locate(tree: &Table, path: &str, got: &str) -> Option<String> {
    let here: &Table = if path.is_empty() {
        tree
    } else {
        match lookup(tree, path)? {
            Value::Table(t) => t,
            _ => return Some(path.to_string()),
        }
    };
    let want = parse_got(got)?;
    breadth_first(here, path, |k, v| same(v, &want).then(|| k.to_string()))
}

/// The full key of the first table below `path` (breadth first) that holds `field`.
fn locate_key(tree: &Table, path: &str, field: &str) -> Option<String> {
    let Value::Table(here) = lookup(tree, path)? else {
        return None;
    };
    breadth_first(here, path, |k, v| match v {
        Value::Table(t) if t.contains_key(field) => Some(join_key(k, field)),
        _ => None,
    })
}

/// Visit the values below table `here` (at key `path`) breadth first, at most 10,001 of
/// them, and return the first answer `hit` gives for a (full key, value).
fn breadth_first(
    here: &Table,
    path: &str,
    hit: impl Fn(&str, &Value) -> Option<String>,
) -> Option<String> {
    let mut queue: Vec<(String, &Value)> =
        here.iter().map(|(k, v)| (join_key(path, k), v)).collect();
    let mut i = 0;
    while i < queue.len() && i <= 10_000 {
        let (k, v) = (queue[i].0.clone(), queue[i].1);
        if let Some(found) = hit(&k, v) {
            return Some(found);
        }
        match v {
            Value::Table(t) => queue.extend(t.iter().map(|(c, x)| (join_key(&k, c), x))),
            Value::Array(a) => {
                queue.extend(a.iter().enumerate().map(|(n, x)| (format!("{k}[{n}]"), x)))
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn join_key(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

/// A value serde described, for matching against the tree.
enum Got {
    Num(f64),
    Bool(bool),
    Str(String),
}

fn parse_got(got: &str) -> Option<Got> {
    let tick = |p: &str| got.strip_prefix(p).map(|s| s.trim_matches('`').to_string());
    if let Some(v) = tick("floating point ").or_else(|| tick("integer ")) {
        return v.parse::<f64>().ok().map(Got::Num);
    }
    if let Some(v) = tick("boolean ") {
        return v.parse::<bool>().ok().map(Got::Bool);
    }
    if let Some(s) = got.strip_prefix("string ") {
        return Some(Got::Str(s.trim_matches('"').to_string()));
    }
    None
}

fn same(v: &Value, want: &Got) -> bool {
    match (v, want) {
        (Value::Float(f), Got::Num(x)) => f == x || (f.is_nan() && x.is_nan()),
        (Value::Integer(i), Got::Num(x)) => (*i as f64) == *x,
        (Value::Boolean(b), Got::Bool(x)) => b == x,
        (Value::String(s), Got::Str(x)) => s == x,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(s: &str) -> Table {
        s.parse().unwrap()
    }

    #[test]
    fn unknown_field_is_named_once() {
        let t = tree("[chain]\nbogus = 1\n");
        let i = serde_issue(
            "chain.bogus",
            "unknown field `bogus`, expected one of `a`, `b`",
            &t,
        );
        assert_eq!(i.key, "chain.bogus");
        assert_eq!(i.rule, "is not a known key (expected one of a, b)");
        let i = serde_issue("chain", "unknown field `bogus`, expected `a`", &t);
        assert_eq!(i.key, "chain.bogus");
    }

    #[test]
    fn types_are_words_and_the_field_is_found() {
        let t =
            tree("[[agents]]\nkind = \"x\"\ncount = 1\n[[agents]]\nkind = \"y\"\ncount = 2.5\n");
        let i = serde_issue(
            "agents[1]",
            "invalid type: floating point `2.5`, expected u32",
            &t,
        );
        assert_eq!(i.key, "agents[1].count");
        assert_eq!(
            i.rule,
            "must be an integer between 0 and 4294967295 (got 2.5)"
        );
        let i = serde_issue(
            "agents[0].count",
            "invalid type: string \"a\", expected f64",
            &t,
        );
        assert_eq!(i.rule, "must be a number (got the string \"a\")");
    }

    #[test]
    fn unknown_variants_list_the_allowed_values() {
        let t = tree("sampling = \"sobol\"\n");
        let i = serde_issue(
            "sampling",
            "unknown variant `sobol`, expected one of `grid`, `random`, `latin_hypercube`",
            &t,
        );
        assert_eq!(i.key, "sampling");
        assert_eq!(
            i.rule,
            "\"sobol\" is not one of the allowed values: grid, random, latin_hypercube"
        );
        let t = tree("[[agents]]\nkind = \"foo\"\n");
        let i = serde_issue(
            "agents[0]",
            "unknown variant `foo`, expected `a` or `b`",
            &t,
        );
        assert_eq!(i.key, "agents[0].kind");
        assert!(i.rule.contains("a or b"), "{}", i.rule);
    }
}
