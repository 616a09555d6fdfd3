//! How an export shows a point's axis values: the sweep file's `labels` where it gives them,
//! a scenario axis by the scenario file's stem (`gen1`, not `../scenarios/gen1.toml`), any
//! other value as itself. One rule for every table and format, so a column reads the same in
//! CSV, JSON and Parquet.

use crate::store::Manifest;
use crate::sweep::Param;

/// The value of axis `i` of point `p` as the export shows it: a label (text) or the value.
pub fn point_params(m: &Manifest, p: u64) -> Vec<Param> {
    let params = m.point_params(p).unwrap_or_default();
    let axes = m
        .sweep
        .get("axis")
        .and_then(|a| a.as_array())
        .cloned()
        .unwrap_or_default();
    params
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let spec = axes.get(i);
            if let Some(l) = spec.and_then(|a| label_of(a, &v)) {
                return Param::Text(l);
            }
            if m.axes.get(i).map(String::as_str) == Some(crate::sweep::SCENARIO_AXIS)
                && let Param::Text(s) = &v
            {
                return Param::Text(scenario_name(s));
            }
            v
        })
        .collect()
}

/// The sweep file's label of value `v` on axis spec `a`, if it gives labels.
fn label_of(a: &serde_json::Value, v: &Param) -> Option<String> {
    let vals = a.get("values")?.as_array()?;
    let labels = a.get("labels")?.as_array()?;
    vals.iter().zip(labels).find_map(|(x, l)| {
        let tv: toml::Value = serde_json::from_value(x.clone()).ok()?;
        (Param::from_toml(&tv).label() == v.label()).then(|| l.as_str().map(str::to_string))?
    })
}

/// A scenario file's name without directories and the `.toml` extension.
pub fn scenario_name(file: &str) -> String {
    let stem = std::path::Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    if stem.is_empty() {
        file.to_string()
    } else {
        stem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_files_show_their_stem() {
        assert_eq!(scenario_name("../scenarios/gen1.toml"), "gen1");
        assert_eq!(scenario_name("gen2.toml"), "gen2");
    }
}
