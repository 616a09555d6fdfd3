//! Magnitude rules: the prices and amounts a scenario may give, so that the ledger never
//! overflows.
//!
//! Every token amount is an `i128` of base units with 9 decimals (cascade-core `Amount`), so
//! the ledger holds at most about 1.7e29 whole tokens, and the engine forms values as
//! `amount * price`. A price of `1e308` or an inventory of `1e40` would deserialize as a fine
//! `f64` and then saturate or wrap inside the run (a dead market with exit 0). These rules keep
//! every product the engine forms far below the limit:
//!
//! - a price (`assets[i].price`, the prices of a scripted path, and the price a pool's
//!   reserves imply) lies between [`MIN_PRICE`] and [`MAX_PRICE`] quote per whole unit;
//! - an amount key (`capital`, `inventory`, reserves, book sizes, funds; [`AMOUNT_KEYS`]) is at
//!   most [`MAX_AMOUNT`] whole tokens;
//! - a population's total (`count * capital`, `count * inventory`) is at most [`MAX_TOTAL`].
//!
//! Then a value is at most `MAX_TOTAL * MAX_PRICE` = 1e27 whole quote = 1e36 base units, a
//! hundredth of `i128::MAX`. The rules read the TOML tree (after overrides), so every table is
//! covered by name, and each problem names the key, the value and the allowed range.

use cascade_core::ConfigIssue;
use toml::{Table, Value};

/// The smallest price, quote per whole unit.
pub const MIN_PRICE: f64 = 1e-6;
/// The largest price, quote per whole unit.
pub const MAX_PRICE: f64 = 1e9;
/// The largest amount one key may give, whole tokens.
pub const MAX_AMOUNT: f64 = 1e15;
/// The largest total of a population (`count` times a per-agent amount), whole tokens.
pub const MAX_TOTAL: f64 = 1e18;

/// Keys that hold token amounts (whole tokens), wherever they appear.
pub const AMOUNT_KEYS: &[&str] = &[
    "capital",
    "inventory",
    "reserve_base",
    "reserve_quote",
    "level_size",
    "insurance_fund",
    "pool_liquidity",
    "depth",
    "size_mean",
    "quote_size",
    "min_profit",
    "inventory_limit",
    "hedge_band",
    "tip",
];

/// Every broken magnitude rule of a scenario tree.
pub fn check_tree(tree: &Table) -> Vec<ConfigIssue> {
    let mut out = Vec::new();
    walk_table(tree, "", &mut out);
    out
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

fn key(path: &str, k: &str) -> String {
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

fn price_rule(key: String, p: f64, out: &mut Vec<ConfigIssue>) {
    // Non-finite and non-positive prices are the `positive` rule's (reported elsewhere).
    if p.is_finite() && p > 0.0 && !(MIN_PRICE..=MAX_PRICE).contains(&p) {
        out.push(ConfigIssue {
            key,
            rule: format!(
                "must be between {MIN_PRICE:e} and {MAX_PRICE:e} quote per unit (got {p:e}): the ledger counts value = amount x price in integers with 9 decimals"
            ),
        });
    }
}

fn walk_table(t: &Table, path: &str, out: &mut Vec<ConfigIssue>) {
    for (k, v) in t {
        let here = key(path, k);
        if k == "price"
            && let Some(p) = num(v)
        {
            price_rule(here.clone(), p, out);
        }
        if AMOUNT_KEYS.contains(&k.as_str())
            && let Some(x) = num(v)
            && x.is_finite()
            && x.abs() > MAX_AMOUNT
        {
            out.push(ConfigIssue {
                key: here.clone(),
                rule: format!(
                    "must be at most {MAX_AMOUNT:e} whole tokens in size (got {x:e}), so that amounts and values fit the ledger's integers"
                ),
            });
        }
        match v {
            Value::Table(sub) => walk_table(sub, &here, out),
            Value::Array(a) => {
                for (i, e) in a.iter().enumerate() {
                    if let Value::Table(sub) = e {
                        walk_table(sub, &format!("{here}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }
    // A scripted path's prices.
    if t.get("kind").and_then(|k| k.as_str()) == Some("scripted")
        && let Some(Value::Array(points)) = t.get("points")
    {
        for (i, p) in points.iter().enumerate() {
            if let Some(price) = p.as_array().and_then(|a| a.get(1)).and_then(num) {
                price_rule(format!("{}[{i}]", key(path, "points")), price, out);
            }
        }
    }
    // The price a pool's reserves imply.
    if let (Some(b), Some(q)) = (
        t.get("reserve_base").and_then(num),
        t.get("reserve_quote").and_then(num),
    ) && b > 0.0
        && q > 0.0
    {
        let p = q / b;
        if p.is_finite() && !(MIN_PRICE..=MAX_PRICE).contains(&p) {
            out.push(ConfigIssue {
                key: key(path, "reserve_quote"),
                rule: format!(
                    "reserve_quote / reserve_base is the pool's price and must be between {MIN_PRICE:e} and {MAX_PRICE:e} (got {p:e})"
                ),
            });
        }
    }
    // A population's totals.
    if let Some(n) = t.get("count").and_then(num) {
        for k in ["capital", "inventory"] {
            if let Some(x) = t.get(k).and_then(num)
                && x.is_finite()
                && x.abs() <= MAX_AMOUNT
                && n * x.abs() > MAX_TOTAL
            {
                out.push(ConfigIssue {
                    key: key(path, "count"),
                    rule: format!(
                        "count x {k} = {n} x {x} = {:e} whole tokens; a population may hold at most {MAX_TOTAL:e} in total",
                        n * x.abs()
                    ),
                });
            }
        }
    }
}

/// The magnitude rule for a replay series' prices (`assets[i].process.path` rows).
pub fn check_replay_prices(key: &str, prices: &[f64]) -> Option<ConfigIssue> {
    let (row, p) = prices
        .iter()
        .enumerate()
        .find(|(_, p)| p.is_finite() && **p > 0.0 && !(MIN_PRICE..=MAX_PRICE).contains(*p))?;
    Some(ConfigIssue {
        key: key.to_string(),
        rule: format!(
            "data row {} has price {p:e}; prices must be between {MIN_PRICE:e} and {MAX_PRICE:e} quote per unit",
            row + 1
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_key_value_and_range() {
        let t: Table = "[[assets]]\nprice = 1e308\n[[agents]]\ncount = 1000\ncapital = 1e16\n[[agents]]\ncount = 1000000\ncapital = 1e13\n[[venues]]\nreserve_base = 1.0\nreserve_quote = 1e12\n"
            .parse()
            .unwrap();
        let v = check_tree(&t);
        let mut keys: Vec<&str> = v.iter().map(|i| i.key.as_str()).collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "agents[0].capital",
                "agents[1].count",
                "assets[0].price",
                "venues[0].reserve_quote"
            ],
            "{v:?}"
        );
        let p = v.iter().find(|i| i.key == "assets[0].price").unwrap();
        assert!(p.rule.contains("between 1e-6 and 1e9"), "{}", p.rule);
        assert!(p.rule.contains("1e308"), "{}", p.rule);
        let ok: Table = "[[assets]]\nprice = 2000.0\n[[agents]]\ncount = 2000\ncapital = 5e6\n"
            .parse()
            .unwrap();
        assert!(check_tree(&ok).is_empty());
    }
}
