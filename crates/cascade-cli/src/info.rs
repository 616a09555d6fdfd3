//! `cascade info STORE`: what a result directory holds and how it came about, read from its
//! manifest alone (nothing is written, no lock is taken), so it works on a running sweep.

use crate::Failure;
use crate::run_manifest::{self, Results};
use std::path::Path;

pub(crate) fn cmd_info(dir: &Path) -> Result<(), Failure> {
    if !dir.is_dir() {
        return Err(Failure::Usage(format!(
            "{}: is not a directory",
            dir.display()
        )));
    }
    let size = run_manifest::human_size(run_manifest::size_of(dir));
    match run_manifest::read(dir).map_err(Failure::Usage)? {
        Results::Run(m) => {
            println!("{}: results of `cascade run`", dir.display());
            println!("  scenario   \"{}\" ({})", m.name, m.scenario_file);
            println!("  status     {}", m.status);
            println!("  runs       {} from seed {}", m.runs, m.seed);
            println!("  overrides  {}", list_or_none(&m.set));
            println!(
                "  version    cascade {} (git {})",
                m.cascade_version, m.git_commit
            );
            println!("  command    {}", m.command_line.join(" "));
            println!("  started    {}, finished {}", m.started, m.finished);
            println!("  files      {} ({size})", m.files.join(", "));
        }
        Results::Sweep(m) => {
            let status = run_manifest::status(dir, &m.status);
            let done = run_manifest::points_done(dir, &m);
            let kind = match m.shard {
                Some(s) => format!(
                    "shard {}/{} of a sweep (pairs {}..{})",
                    s.index, s.count, s.first_pair, s.end_pair
                ),
                None => "sweep store".to_string(),
            };
            println!("{}: {kind} \"{}\"", dir.display(), m.name);
            if !m.description.is_empty() {
                println!("  about      {}", m.description);
            }
            println!("  status     {status}{}", progress(status, &done, &m, dir));
            println!("  sweep file {}", m.sweep_file);
            for s in &m.scenarios {
                println!("  scenario   {} ({})", s.name, s.file);
            }
            println!(
                "  points     {} x {} run(s), {} sampling, seed {}",
                m.points.len(),
                m.runs,
                serde_json::to_value(m.sampling)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                m.seed
            );
            for (i, k) in m.axes.iter().enumerate() {
                let vals: Vec<String> = axis_values(&m, i);
                println!("  axis       {k}: {}", vals.join(", "));
            }
            let sets: Vec<String> = m
                .sweep
                .get("set")
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            println!("  overrides  {}", list_or_none(&sets));
            if let Some(b) = m.sweep.get("baseline") {
                println!("  baseline   {b}");
            }
            println!(
                "  version    cascade {} (git {})",
                m.cascade_version, m.git_commit
            );
            println!("  ids        config {} store {}", m.config_hash, m.store_id);
            println!("  command    {}", m.command_line.join(" "));
            println!(
                "  started    {}{}{}",
                m.started,
                m.finished
                    .as_ref()
                    .map(|f| format!(", finished {f}"))
                    .unwrap_or_default(),
                if m.resumed > 0 {
                    format!(", resumed {} time(s)", m.resumed)
                } else {
                    String::new()
                }
            );
            println!("  files      {} listed, {size} in all", m.files.len());
        }
    }
    Ok(())
}

fn list_or_none(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// How far a sweep that is not complete got, and what finishes it.
fn progress(status: &str, done: &[u64], m: &cascade_sim::store::Manifest, dir: &Path) -> String {
    match status {
        "complete" => String::new(),
        "running" => format!(
            ": {} of {} point(s) finished so far",
            done.len(),
            m.points.len()
        ),
        _ => format!(
            ": {} of {} point(s) finished; finish it with `cascade sweep {} --resume --out {}`, or read what is there with --partial",
            done.len(),
            m.points.len(),
            m.sweep_file,
            dir.display()
        ),
    }
}

/// The distinct values of axis `i` over the points, in order of first appearance, with the
/// sweep file's label where it gives one.
pub(crate) fn axis_values(m: &cascade_sim::store::Manifest, i: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in 0..m.points.len() as u64 {
        if let Some(v) = m.point_params(p).and_then(|ps| ps.get(i).cloned()) {
            let l = v.label();
            if !out.contains(&l) {
                out.push(l);
            }
        }
        if out.len() > 12 {
            out.push("...".into());
            break;
        }
    }
    out
}
