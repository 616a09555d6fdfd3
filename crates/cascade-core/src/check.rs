//! Configuration checks that name the key and the rule.
//!
//! Every configurable part of cascade validates its own settings through a [`Check`], which
//! carries the dotted path of the table being checked (`assets[0].process`) so that each
//! problem is reported as "key `assets[0].process.sigma`: must be >= 0 (got -0.2)". The
//! simulator collects all problems and reports them at once, with the file name.

use std::fmt;

/// One broken rule in a configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigIssue {
    /// Dotted path of the offending key, e.g. `venues[1].fee`.
    pub key: String,
    /// The rule, phrased so that it reads after the key: "must be in [0, 1] (got 1.5)".
    pub rule: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key `{}`: {}", self.key, self.rule)
    }
}

/// A cursor into a configuration tree that records issues under its path.
pub struct Check<'a> {
    issues: &'a mut Vec<ConfigIssue>,
    path: String,
}

impl<'a> Check<'a> {
    pub fn new(issues: &'a mut Vec<ConfigIssue>) -> Check<'a> {
        Check {
            issues,
            path: String::new(),
        }
    }

    /// A check of the sub-table `key` (a field name or an `[i]` index).
    pub fn at(&mut self, key: &str) -> Check<'_> {
        let path = self.join(key);
        Check {
            issues: self.issues,
            path,
        }
    }

    /// The dotted path of `key` under this cursor.
    pub fn join(&self, key: &str) -> String {
        if key.is_empty() {
            self.path.clone()
        } else if self.path.is_empty() {
            key.to_string()
        } else if key.starts_with('[') {
            format!("{}{}", self.path, key)
        } else {
            format!("{}.{}", self.path, key)
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Record that `key` breaks `rule`.
    pub fn fail(&mut self, key: &str, rule: impl Into<String>) {
        let key = self.join(key);
        self.issues.push(ConfigIssue {
            key,
            rule: rule.into(),
        });
    }

    /// `cond` must hold, else record `rule` against `key`.
    pub fn ensure(&mut self, cond: bool, key: &str, rule: impl FnOnce() -> String) {
        if !cond {
            let r = rule();
            self.fail(key, r);
        }
    }

    pub fn finite(&mut self, key: &str, v: f64) -> bool {
        if v.is_finite() {
            true
        } else {
            self.fail(key, format!("must be a finite number (got {v})"));
            false
        }
    }

    pub fn non_negative(&mut self, key: &str, v: f64) {
        if self.finite(key, v) && v < 0.0 {
            self.fail(key, format!("must be >= 0 (got {v})"));
        }
    }

    pub fn positive(&mut self, key: &str, v: f64) {
        if self.finite(key, v) && v <= 0.0 {
            self.fail(key, format!("must be > 0 (got {v})"));
        }
    }

    /// A probability or fraction: in `[0, 1]`.
    pub fn unit_interval(&mut self, key: &str, v: f64) {
        if self.finite(key, v) && !(0.0..=1.0).contains(&v) {
            self.fail(key, format!("must be in [0, 1] (got {v})"));
        }
    }

    /// In `[lo, hi]`.
    pub fn range(&mut self, key: &str, v: f64, lo: f64, hi: f64) {
        if self.finite(key, v) && !(lo..=hi).contains(&v) {
            self.fail(key, format!("must be in [{lo}, {hi}] (got {v})"));
        }
    }

    /// In `[lo, hi)`.
    pub fn range_open_hi(&mut self, key: &str, v: f64, lo: f64, hi: f64) {
        if self.finite(key, v) && !(v >= lo && v < hi) {
            self.fail(key, format!("must be in [{lo}, {hi}) (got {v})"));
        }
    }

    pub fn positive_int(&mut self, key: &str, v: u64) {
        if v == 0 {
            self.fail(key, "must be > 0 (got 0)".to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_compose() {
        let mut issues = Vec::new();
        {
            let mut c = Check::new(&mut issues);
            let mut a = c.at("assets");
            let mut a0 = a.at("[0]");
            let mut p = a0.at("process");
            p.non_negative("sigma", -0.2);
            p.unit_interval("prob", 1.5);
            p.positive("ok", 1.0);
        }
        assert_eq!(issues.len(), 2);
        assert_eq!(issues[0].key, "assets[0].process.sigma");
        assert_eq!(
            issues[0].to_string(),
            "key `assets[0].process.sigma`: must be >= 0 (got -0.2)"
        );
        assert_eq!(issues[1].rule, "must be in [0, 1] (got 1.5)");
    }
}
