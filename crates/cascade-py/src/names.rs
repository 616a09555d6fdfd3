//! Column names a DataFrame user can type: `df.query("engine_liquidation_bonus > 0.05")`.
//!
//! Axis keys are dotted paths (`engine.liquidation.bonus`, `agents[0].count`), which break
//! `df.query` and attribute access; a column gets the key with every character other than a
//! letter, digit or `_` replaced by `_` (runs of them by one), and the frame keeps the key as
//! the column's `source`. Metric names and statistics are already clean and stay as they are.

/// The clean form of `key`: `[A-Za-z0-9_]` only, no leading digit, never empty.
pub fn clean(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut gap = false;
    for c in key.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    if out.is_empty() {
        out.push_str("axis");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// `name`, or with `_2`, `_3`, ... appended until it is not in `taken`.
pub fn unique(name: String, taken: &[String]) -> String {
    if !taken.contains(&name) {
        return name;
    }
    (2..)
        .map(|i| format!("{name}_{i}"))
        .find(|n| !taken.contains(n))
        .expect("an unused suffix exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_identifiers() {
        assert_eq!(
            clean("engine.liquidation.bonus"),
            "engine_liquidation_bonus"
        );
        assert_eq!(clean("assets.ETH.impact.kappa"), "assets_ETH_impact_kappa");
        assert_eq!(clean("agents[0].count"), "agents_0_count");
        assert_eq!(clean("scenario"), "scenario");
        assert_eq!(clean("0.x"), "_0_x");
        assert_eq!(clean("..."), "axis");
    }

    #[test]
    fn clashes_get_a_suffix() {
        let taken = vec!["run".to_string(), "run_2".to_string()];
        assert_eq!(unique("run".into(), &taken), "run_3");
        assert_eq!(unique("bonus".into(), &taken), "bonus");
    }
}
