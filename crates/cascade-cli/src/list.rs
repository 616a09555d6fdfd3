//! `cascade list [DIR]`: the result directories under a results root, one line each, read from
//! their manifests alone (nothing is written, no lock is taken).

use crate::Failure;
use crate::run_manifest::{self, Results};
use std::path::{Path, PathBuf};

/// One line of the listing.
struct Entry {
    name: String,
    kind: String,
    status: String,
    size: String,
    shape: String,
    seed: String,
    date: String,
}

pub(crate) fn cmd_list(dir: Option<&Path>) -> Result<(), Failure> {
    let root = dir.map_or_else(|| PathBuf::from("results"), Path::to_path_buf);
    if !root.is_dir() {
        return Err(Failure::Usage(format!(
            "{}: is not a directory (cascade list looks for result directories in it)",
            root.display()
        )));
    }
    let mut dirs = Vec::new();
    find(&root, 0, &mut dirs);
    let mut rows = Vec::new();
    for d in &dirs {
        let name = d
            .strip_prefix(&root)
            .ok()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(d)
            .display()
            .to_string();
        rows.push(entry(d, name));
    }
    if rows.is_empty() {
        println!("{}: no result directories", root.display());
        return Ok(());
    }
    let head = Entry {
        name: "name".into(),
        kind: "kind".into(),
        status: "status".into(),
        shape: "points x runs".into(),
        seed: "seed".into(),
        date: "started".into(),
        size: "size".into(),
    };
    let all: Vec<&Entry> = std::iter::once(&head).chain(&rows).collect();
    let w = |f: fn(&Entry) -> &str| all.iter().map(|e| f(e).chars().count()).max().unwrap_or(0);
    let (wn, wk, ws, wp, wd, wz) = (
        w(|e| &e.name),
        w(|e| &e.kind),
        w(|e| &e.status),
        w(|e| &e.shape),
        w(|e| &e.seed),
        w(|e| &e.date),
    );
    for e in all {
        println!(
            "{:wn$}  {:wk$}  {:ws$}  {:>wp$}  {:>wd$}  {:wz$}  {:>9}",
            e.name, e.kind, e.status, e.shape, e.seed, e.date, e.size
        );
    }
    Ok(())
}

/// Result directories at or below `dir`: a directory with a manifest is one (and is not
/// searched further); others are searched two levels deep (shards live in `<name>.shards/`).
fn find(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join("manifest.json").is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    if depth >= 2 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    subs.sort();
    for s in subs {
        find(&s, depth + 1, out);
    }
}

fn entry(dir: &Path, name: String) -> Entry {
    let size = run_manifest::human_size(run_manifest::size_of(dir));
    let date = |s: &str| s.replacen('T', " ", 1).trim_end_matches('Z').to_string();
    match run_manifest::read(dir) {
        Ok(Results::Run(m)) => Entry {
            name,
            kind: "run".into(),
            status: m.status.clone(),
            shape: format!("1 x {}", m.runs),
            seed: m.seed.to_string(),
            date: date(&m.started),
            size,
        },
        Ok(Results::Sweep(m)) => {
            let status = run_manifest::status(dir, &m.status);
            let status = if status == "complete" {
                status.to_string()
            } else {
                let done = run_manifest::points_done(dir, &m).len();
                format!("{status} ({done}/{} points)", m.points.len())
            };
            Entry {
                name,
                kind: match m.shard {
                    Some(s) => format!("shard {}/{}", s.index, s.count),
                    None => "sweep".into(),
                },
                status,
                shape: format!("{} x {}", m.points.len(), m.runs),
                seed: m.seed.to_string(),
                date: date(&m.started),
                size,
            }
        }
        Err(e) => {
            eprintln!("warning: {e}");
            Entry {
                name,
                kind: "?".into(),
                status: "unreadable".into(),
                shape: String::new(),
                seed: String::new(),
                date: String::new(),
                size,
            }
        }
    }
}
