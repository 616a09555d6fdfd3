//! `--set key=value` and sweep axes: change any key of a scenario before it is read.
//!
//! Overrides act on the TOML tree, before deserialization, so every key of every table can be
//! overridden or swept without the code knowing about it, and a misspelt key is rejected by the
//! same unknown-key check as in the file. Paths are dotted: `gas.congestion_beta`,
//! `assets.0.process.sigma` or `assets[0].process.sigma`; an element of an array of tables may
//! also be addressed by its `name` (`venues.amm.fee`, `assets.ETH.process.sigma`). The value is
//! read as a TOML value (`0.5`, `true`, `"text"`, `[1, 2]`, `{ kind = "gbm", ... }`); a bare word
//! that is not valid TOML is taken as a string.

use toml::{Table, Value};

/// A parsed `key=value` override.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    pub key: String,
    pub value: Value,
}

/// Why an override could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OverrideError {
    #[error("`{0}` is not of the form key=value")]
    Syntax(String),
    #[error("key `{key}`: {rule}")]
    Path { key: String, rule: String },
}

/// Split path segments: `a.b[0].c` and `a.b.0.c` both give `["a", "b", "0", "c"]`.
pub fn split_path(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in key.split('.') {
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            if open > 0 {
                out.push(rest[..open].to_string());
            }
            match rest[open..].find(']') {
                Some(close) => {
                    out.push(rest[open + 1..open + close].to_string());
                    rest = &rest[open + close + 1..];
                }
                None => {
                    out.push(rest[open..].to_string());
                    rest = "";
                }
            }
        }
        if !rest.is_empty() {
            out.push(rest.to_string());
        }
    }
    out
}

/// Parse `value` as a TOML value, or take it as a string.
pub fn parse_value(value: &str) -> Value {
    let src = format!("v = {value}");
    match src.parse::<Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| Value::String(value.to_string())),
        Err(_) => Value::String(value.to_string()),
    }
}

impl Override {
    /// Parse `key=value`.
    pub fn parse(s: &str) -> Result<Override, OverrideError> {
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| OverrideError::Syntax(s.to_string()))?;
        let key = k.trim();
        if key.is_empty() {
            return Err(OverrideError::Syntax(s.to_string()));
        }
        Ok(Override {
            key: key.to_string(),
            value: parse_value(v.trim()),
        })
    }
}

/// Set `key` to `value` in `root`, creating missing tables on the way (the unknown-key check
/// of deserialization catches misspellings).
pub fn apply(root: &mut Table, key: &str, value: Value) -> Result<(), OverrideError> {
    let segs = split_path(key);
    if segs.is_empty() {
        return Err(OverrideError::Syntax(key.to_string()));
    }
    let err = |at: usize, rule: String| OverrideError::Path {
        key: segs[..=at].join("."),
        rule,
    };
    let mut cur: &mut Value = root
        .entry(segs[0].clone())
        .or_insert_with(|| Value::Table(Table::new()));
    if segs.len() == 1 {
        *cur = value;
        return Ok(());
    }
    for (i, seg) in segs.iter().enumerate().skip(1) {
        let last = i + 1 == segs.len();
        cur = match cur {
            Value::Table(t) => {
                if last {
                    t.insert(seg.clone(), value);
                    return Ok(());
                }
                t.entry(seg.clone())
                    .or_insert_with(|| Value::Table(Table::new()))
            }
            Value::Array(a) => {
                let idx = match seg.parse::<usize>() {
                    Ok(n) => {
                        if n >= a.len() {
                            return Err(err(
                                i,
                                format!(
                                    "index {n} is out of range (the array has {} elements)",
                                    a.len()
                                ),
                            ));
                        }
                        n
                    }
                    Err(_) => {
                        let names: Vec<String> = a
                            .iter()
                            .filter_map(|e| {
                                e.get("name").and_then(|n| n.as_str()).map(String::from)
                            })
                            .collect();
                        match a
                            .iter()
                            .position(|e| e.get("name").and_then(|n| n.as_str()) == Some(seg))
                        {
                            Some(p) => p,
                            None => {
                                return Err(err(
                                    i,
                                    if names.is_empty() {
                                        "is not an index of this array".to_string()
                                    } else {
                                        format!(
                                            "no element is named \"{seg}\" (names: {})",
                                            names.join(", ")
                                        )
                                    },
                                ));
                            }
                        }
                    }
                };
                if last {
                    a[idx] = value;
                    return Ok(());
                }
                &mut a[idx]
            }
            other => {
                return Err(err(
                    i - 1,
                    format!(
                        "is a {}, not a table: `{}` cannot be set inside it",
                        other.type_str(),
                        seg
                    ),
                ));
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> Table {
        r#"
        name = "x"
        [gas]
        gas_limit = 30000000
        [[assets]]
        name = "ETH"
        process = { kind = "gbm", mu = 0.0, sigma = 0.5 }
        [[venues]]
        name = "amm"
        fee = 0.003
        "#
        .parse()
        .unwrap()
    }

    #[test]
    fn paths_by_index_bracket_and_name() {
        assert_eq!(split_path("a.b[0].c"), vec!["a", "b", "0", "c"]);
        let mut t = tree();
        apply(&mut t, "assets.0.process.sigma", Value::Float(0.8)).unwrap();
        apply(&mut t, "assets[0].price", Value::Float(2.0)).unwrap();
        apply(&mut t, "venues.amm.fee", Value::Float(0.01)).unwrap();
        apply(&mut t, "gas.congestion_beta", Value::Float(0.2)).unwrap();
        apply(&mut t, "chain.block_time_s", Value::Float(2.0)).unwrap();
        assert_eq!(t["assets"][0]["process"]["sigma"].as_float(), Some(0.8));
        assert_eq!(t["assets"][0]["price"].as_float(), Some(2.0));
        assert_eq!(t["venues"][0]["fee"].as_float(), Some(0.01));
        assert_eq!(t["gas"]["congestion_beta"].as_float(), Some(0.2));
        assert_eq!(t["chain"]["block_time_s"].as_float(), Some(2.0));
    }

    #[test]
    fn errors_name_the_key() {
        let mut t = tree();
        let e = apply(&mut t, "venues.book.fee", Value::Float(0.0)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "key `venues.book`: no element is named \"book\" (names: amm)"
        );
        let e = apply(&mut t, "assets.3.price", Value::Float(0.0)).unwrap_err();
        assert!(e.to_string().contains("out of range"));
        let e = apply(&mut t, "name.x", Value::Float(0.0)).unwrap_err();
        assert!(e.to_string().contains("not a table"), "{e}");
    }

    #[test]
    fn values_parse_as_toml_or_string() {
        assert_eq!(parse_value("0.5"), Value::Float(0.5));
        assert_eq!(parse_value("3"), Value::Integer(3));
        assert_eq!(parse_value("true"), Value::Boolean(true));
        assert_eq!(
            parse_value("exponential"),
            Value::String("exponential".into())
        );
        assert_eq!(parse_value("\"a b\""), Value::String("a b".into()));
        assert!(matches!(parse_value("[1, 2]"), Value::Array(_)));
        assert!(Override::parse("novalue").is_err());
        assert_eq!(Override::parse(" a.b = 1 ").unwrap().key, "a.b");
    }
}
