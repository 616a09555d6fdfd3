//! Reading a scenario from disk: TOML, `--set` overrides, replay CSVs, validation.
//!
//! This is the one place where the simulator touches the file system for inputs. Every problem
//! becomes a [`ConfigError`] naming the file, the key and the rule, so the command line can
//! print it and exit with code 2 before anything is written.

use crate::config::ScenarioConfig;
use crate::messages::serde_issue;
use crate::overrides::{self, Override};
use cascade_core::ConfigIssue;
use cascade_market::price::{ProcessConfig, ReplayData};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// A configuration that cannot be used: the file and every problem found in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub issues: Vec<ConfigIssue>,
}

impl ConfigError {
    pub fn one(file: &Path, key: impl Into<String>, rule: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            issues: vec![ConfigIssue {
                key: key.into(),
                rule: rule.into(),
            }],
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.issues.len();
        writeln!(
            f,
            "{}: {} problem{}:",
            self.file.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for i in &self.issues {
            writeln!(f, "  {i}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A scenario ready to build Worlds from: the resolved configuration and the data it refers to.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub config: ScenarioConfig,
    /// Replay data per asset (Some for `replay` processes).
    pub replay: Vec<Option<ReplayData>>,
    /// The file it came from.
    pub source: PathBuf,
}

/// Read the TOML tree of a file.
pub fn read_tree(path: &Path) -> Result<Table, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::one(path, "(file)", format!("cannot be read: {e}")))?;
    text.parse::<Table>().map_err(|e| {
        let msg = e.message().to_string();
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        ConfigError::one(path, "(syntax)", format!("is not valid TOML{at}: {msg}"))
    })
}

/// Apply `key=value` overrides to a tree.
pub fn apply_overrides(path: &Path, tree: &mut Table, sets: &[String]) -> Result<(), ConfigError> {
    let mut issues = Vec::new();
    for s in sets {
        match Override::parse(s) {
            Ok(o) => {
                if let Err(e) = overrides::apply(tree, &o.key, o.value) {
                    issues.push(ConfigIssue {
                        key: format!("--set {s}"),
                        rule: e.to_string(),
                    });
                }
            }
            Err(e) => issues.push(ConfigIssue {
                key: format!("--set {s}"),
                rule: e.to_string(),
            }),
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ConfigError {
            file: path.to_path_buf(),
            issues,
        })
    }
}

/// Deserialize a scenario from a tree; `name` is used when the file has none.
pub fn from_tree(path: &Path, tree: Table) -> Result<ScenarioConfig, ConfigError> {
    let raw = tree.clone();
    let value = Value::Table(tree);
    let mut cfg: ScenarioConfig = serde_path_to_error::deserialize(value).map_err(|e| {
        let p = e.path().to_string();
        ConfigError {
            file: path.to_path_buf(),
            issues: vec![serde_issue(&p, &e.inner().to_string(), &raw)],
        }
    })?;
    if cfg.name.trim().is_empty() {
        cfg.name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".into());
    }
    Ok(cfg)
}

/// Load replay CSVs referenced by the scenario, relative to `base_dir`.
pub fn load_replay(
    path: &Path,
    cfg: &ScenarioConfig,
    base_dir: &Path,
) -> Result<Vec<Option<ReplayData>>, ConfigError> {
    let mut out = Vec::with_capacity(cfg.assets.len());
    let mut issues = Vec::new();
    for (i, a) in cfg.assets.iter().enumerate() {
        if let ProcessConfig::Replay {
            path: file,
            column,
            time_column,
        } = &a.process
        {
            let key = format!("assets[{i}].process.path");
            let full = base_dir.join(file);
            match read_replay_csv(&full, time_column, column) {
                Ok(d) => match d.validate().and_then(|()| {
                    match crate::magnitude::check_replay_prices(&key, &d.price) {
                        Some(i) => Err(i.rule),
                        None => Ok(()),
                    }
                }) {
                    Ok(()) => out.push(Some(d)),
                    Err(e) => {
                        issues.push(ConfigIssue {
                            key,
                            rule: format!("file {}: {e}", full.display()),
                        });
                        out.push(None);
                    }
                },
                Err(e) => {
                    issues.push(ConfigIssue {
                        key,
                        rule: format!("file {}: {e}", full.display()),
                    });
                    out.push(None);
                }
            }
        } else {
            out.push(None);
        }
    }
    if issues.is_empty() {
        Ok(out)
    } else {
        Err(ConfigError {
            file: path.to_path_buf(),
            issues,
        })
    }
}

/// Read a two-column series from a CSV with a header row.
pub fn read_replay_csv(path: &Path, time_col: &str, col: &str) -> Result<ReplayData, String> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| format!("cannot be read: {e}"))?;
    let headers = rdr
        .headers()
        .map_err(|e| format!("has no readable header row: {e}"))?
        .clone();
    let find = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| {
                format!(
                    "has no column \"{name}\" (columns: {})",
                    headers.iter().collect::<Vec<_>>().join(", ")
                )
            })
    };
    let ti = find(time_col)?;
    let pi = find(col)?;
    let mut t_s = Vec::new();
    let mut price = Vec::new();
    for (row, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("row {}: {e}", row + 2))?;
        let parse = |i: usize, name: &str| -> Result<f64, String> {
            rec.get(i).unwrap_or("").trim().parse::<f64>().map_err(|_| {
                format!(
                    "row {}: column \"{name}\" is not a number (\"{}\")",
                    row + 2,
                    rec.get(i).unwrap_or("")
                )
            })
        };
        t_s.push(parse(ti, time_col)?);
        price.push(parse(pi, col)?);
    }
    Ok(ReplayData { t_s, price })
}

/// Load, override, resolve and validate a scenario file.
pub fn load_scenario(path: &Path, sets: &[String]) -> Result<Scenario, ConfigError> {
    let mut tree = read_tree(path)?;
    apply_overrides(path, &mut tree, sets)?;
    scenario_from_tree(path, tree)
}

/// Resolve and validate a scenario tree read from `path` (overrides already applied).
pub fn scenario_from_tree(path: &Path, tree: Table) -> Result<Scenario, ConfigError> {
    let magnitudes = crate::magnitude::check_tree(&tree);
    let cfg = from_tree(path, tree)?;
    let mut issues = cfg.validate();
    issues.extend(magnitudes);
    let base = path.parent().unwrap_or(Path::new("."));
    // Report replay-file problems together with the value problems.
    let replay = match load_replay(path, &cfg, base) {
        Ok(r) => Some(r),
        Err(e) => {
            issues.extend(e.issues);
            None
        }
    };
    let replay = match (issues.is_empty(), replay) {
        (true, Some(r)) => r,
        _ => {
            return Err(ConfigError {
                file: path.to_path_buf(),
                issues,
            });
        }
    };
    Ok(Scenario {
        config: cfg,
        replay,
        source: path.to_path_buf(),
    })
}
