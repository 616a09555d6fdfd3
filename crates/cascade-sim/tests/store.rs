//! The store's promises under bad inputs and faults: data files are bound to their store
//! (a file copied from another sweep is refused by every reader, recomputed by `--resume`,
//! refused by `merge`), one writer at a time (the lock names its holder), `merge` never writes
//! into one of its inputs, and files the store did not write are never overwritten or removed.

mod common;

use cascade_sim::experiment::{SweepError, SweepOptions, lock_for_sweep, merge_shards, run_sweep};
use cascade_sim::export::{Format, export};
use cascade_sim::lock::{LOCK_FILE, LockError, StoreLock};
use cascade_sim::store::{
    Invocation, Store, points_path, read_manifest, runs_path, write_manifest,
};
use cascade_sim::sweep::{Sweep, load_sweep};
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("cascade-store-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A small sweep of the gen1 engine (one hour, 3 points x 2 runs) with the given seed.
fn sweep(dir: &Path, seed: u64) -> Sweep {
    let scenario = common::repo().join("configs/scenarios/gen1.toml");
    let text = format!(
        r#"
name = "small"
scenario = "{}"
runs = 2
seed = {seed}
set = ["chain.duration_s=3600", "agents.2.count=40"]
[[axis]]
key = "engine.liquidation.bonus"
values = [0.03, 0.06, 0.09]
"#,
        scenario.display()
    );
    let p = dir.join(format!("small-{seed}.toml"));
    std::fs::write(&p, text).unwrap();
    load_sweep(&p).unwrap()
}

fn inv() -> Invocation {
    Invocation {
        command_line: vec!["cascade".into(), "test".into()],
        git_commit: "test".into(),
        threads: 2,
    }
}

fn opts() -> SweepOptions {
    SweepOptions {
        threads: 2,
        ..Default::default()
    }
}

/// Every file under `dir` but the lock file, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.ends_with(LOCK_FILE) {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn bins(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![(
        "points.bin".to_string(),
        std::fs::read(points_path(dir)).unwrap(),
    )];
    for p in 0..3 {
        out.push((format!("{p}"), std::fs::read(runs_path(dir, p)).unwrap()));
    }
    out
}

#[test]
fn foreign_data_files_are_refused_and_resume_recomputes_them() {
    let d = tmp("foreign");
    let s7 = sweep(&d, 7);
    let s8 = sweep(&d, 8);
    let a = d.join("a");
    let b = d.join("b");
    run_sweep(&s7, &a, &inv(), opts(), |_| {}).unwrap();
    run_sweep(&s8, &b, &inv(), opts(), |_| {}).unwrap();
    let reference = bins(&a);
    // The two stores have the same shape, and different identities.
    let (sa, sb) = (Store::open(&a).unwrap(), Store::open(&b).unwrap());
    assert_ne!(sa.identity, sb.identity);
    assert_ne!(sa.manifest.store_id, sb.manifest.store_id);

    // A runs file of the seed-8 store in the seed-7 store: every reader refuses it by name.
    std::fs::copy(runs_path(&b, 1), runs_path(&a, 1)).unwrap();
    let e = sa.runs(1).unwrap_err().to_string();
    assert!(
        e.contains("runs/1.bin") && e.contains("belongs to another store"),
        "{e}"
    );
    let e = export(&sa, &d.join("exp"), Format::Csv)
        .unwrap_err()
        .to_string();
    assert!(e.contains("runs/1.bin"), "{e}");
    assert!(!d.join("exp/runs.csv").exists(), "half an export");
    assert!(sa.row(1, 0).is_err(), "replay reads a foreign row");

    // points.bin likewise (read by a store opened afterwards: an opened store loads its
    // results once).
    std::fs::copy(points_path(&b), points_path(&a)).unwrap();
    let e = Store::open(&a)
        .unwrap()
        .points_file()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("points.bin") && e.contains("belongs to another store"),
        "{e}"
    );

    // --resume recomputes both and ends byte-identical to the store it was.
    let r = run_sweep(
        &s7,
        &a,
        &inv(),
        SweepOptions {
            resume: true,
            ..opts()
        },
        |_| {},
    )
    .unwrap();
    assert_eq!((r.points_kept, r.runs_computed), (2, 2), "{r:?}");
    assert_eq!(r.discarded.len(), 1, "{r:?}");
    assert!(r.discarded[0].contains("runs/1.bin"), "{r:?}");
    assert_eq!(bins(&a), reference);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn merge_refuses_foreign_shard_files_and_its_own_inputs() {
    let d = tmp("merge");
    let s7 = sweep(&d, 7);
    let s8 = sweep(&d, 8);
    let whole = d.join("whole");
    run_sweep(&s7, &whole, &inv(), opts(), |_| {}).unwrap();
    let shard = |s: &Sweep, i: u64, dir: &Path| {
        run_sweep(
            s,
            dir,
            &inv(),
            SweepOptions {
                shard: Some((i, 3)),
                ..opts()
            },
            |_| {},
        )
        .unwrap();
    };
    let dirs: Vec<PathBuf> = (0..3).map(|i| d.join(format!("s{i}"))).collect();
    for (i, dir) in dirs.iter().enumerate() {
        shard(&s7, i as u64, dir);
    }
    // Shards of one sweep have distinct ids; the merged store has the unsharded one.
    let ids: Vec<String> = dirs
        .iter()
        .map(|p| read_manifest(p).unwrap().store_id)
        .collect();
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
    let before: Vec<_> = dirs.iter().map(|p| files(p)).collect();

    // The output is, contains, or lies inside an input: refused, and every input untouched.
    for out in [dirs[0].clone(), d.clone(), dirs[1].join("merged")] {
        let e = merge_shards(&dirs, &out, &inv(), true).unwrap_err();
        assert!(
            matches!(&e, SweepError::Usage(m) if m.contains("one of the merge's inputs")),
            "{}: {e}",
            out.display()
        );
    }
    assert!(!dirs[1].join("merged").exists());
    for (p, b) in dirs.iter().zip(&before) {
        assert_eq!(&files(p), b, "{} changed", p.display());
    }

    // A runs file of the same shard of the seed-8 sweep, copied into shard 1: refused by name,
    // before the output is created.
    let other = d.join("o1");
    shard(&s8, 1, &other);
    let sh = read_manifest(&dirs[1]).unwrap().shard.unwrap();
    let p = sh.first_pair / 2;
    std::fs::copy(runs_path(&other, p), runs_path(&dirs[1], p)).unwrap();
    let out = d.join("merged");
    let e = merge_shards(&dirs, &out, &inv(), false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&format!("runs/{p}.bin")) && e.contains("belongs to another store"),
        "{e}"
    );
    assert!(!out.exists(), "a refused merge created its output");

    // Resumed, the shard is whole again, and the merge equals the unsharded sweep.
    run_sweep(
        &s7,
        &dirs[1],
        &inv(),
        SweepOptions {
            shard: Some((1, 3)),
            resume: true,
            ..opts()
        },
        |_| {},
    )
    .unwrap();
    merge_shards(&dirs, &out, &inv(), false).unwrap();
    assert_eq!(bins(&whole), bins(&out));
    assert_eq!(
        read_manifest(&whole).unwrap().store_id,
        read_manifest(&out).unwrap().store_id
    );
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn one_writer_at_a_time_and_the_lock_names_its_holder() {
    let d = tmp("lock");
    let s7 = sweep(&d, 7);
    let a = d.join("a");
    let held = lock_for_sweep(&a, &inv()).unwrap();
    let text = std::fs::read_to_string(a.join(LOCK_FILE)).unwrap();
    assert!(
        text.contains(&format!("pid={}", std::process::id())),
        "{text}"
    );
    assert!(text.contains("command=cascade test"), "{text}");
    // A second sweep, a --force sweep, and a locked open are refused, naming the holder.
    for force in [false, true] {
        let e = run_sweep(&s7, &a, &inv(), SweepOptions { force, ..opts() }, |_| {}).unwrap_err();
        let m = e.to_string();
        assert!(
            matches!(e, SweepError::Usage(_))
                && m.contains("is in use by another cascade process")
                && m.contains(&format!("pid {}", std::process::id())),
            "{m}"
        );
    }
    assert!(!a.join("manifest.json").exists());
    drop(held);
    // Released (as when its process ends): the lock file stays, empty.
    run_sweep(&s7, &a, &inv(), opts(), |_| {}).unwrap();
    assert_eq!(std::fs::read_to_string(a.join(LOCK_FILE)).unwrap(), "");
    let w = Store::open_locked(&a, "cascade report").unwrap();
    let e = Store::open_locked(&a, "cascade plot")
        .unwrap_err()
        .to_string();
    assert!(e.contains("running `cascade report`"), "{e}");
    let e = run_sweep(
        &s7,
        &a,
        &inv(),
        SweepOptions {
            resume: true,
            ..opts()
        },
        |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("in use by"), "{e}");
    drop(w);
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn files_the_store_did_not_write_are_never_touched() {
    let d = tmp("user-files");
    let s7 = sweep(&d, 7);
    // A directory of the user's: refused, even with --force, and left as it was.
    let mine = d.join("mine");
    std::fs::create_dir_all(mine.join("charts")).unwrap();
    std::fs::write(mine.join("report.html"), "my report").unwrap();
    std::fs::write(mine.join("charts/ccdf.png"), "my chart").unwrap();
    for force in [false, true] {
        let e =
            run_sweep(&s7, &mine, &inv(), SweepOptions { force, ..opts() }, |_| {}).unwrap_err();
        assert!(
            matches!(&e, SweepError::Usage(m) if m.contains("holds no cascade store")),
            "{e}"
        );
    }
    assert!(matches!(
        StoreLock::acquire(&mine, "t", true),
        Err(LockError::NotAStore(_))
    ));
    let names: Vec<_> = std::fs::read_dir(&mine).unwrap().flatten().collect();
    assert_eq!(
        names.len(),
        2,
        "something was added to the user's directory"
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("report.html")).unwrap(),
        "my report"
    );
    // A file where the directory should be.
    std::fs::write(d.join("file"), "x").unwrap();
    let e = run_sweep(&s7, &d.join("file"), &inv(), opts(), |_| {}).unwrap_err();
    assert!(e.to_string().contains("not a directory"), "{e}");

    // A store with the user's files beside its own.
    let a = d.join("a");
    run_sweep(&s7, &a, &inv(), opts(), |_| {}).unwrap();
    let store = Store::open_locked(&a, "test").unwrap();
    let exp = export(&store, &a.join("export"), Format::Csv).unwrap();
    assert_eq!(exp.len(), 4); // the tables and, since the units sidecar, units.csv
    std::fs::write(a.join("export/analysis.py"), "mine").unwrap();
    std::fs::create_dir_all(a.join("charts")).unwrap();
    std::fs::write(a.join("charts/x.png"), "mine").unwrap();
    std::fs::write(a.join("notes.tmp"), "mine").unwrap();
    std::fs::write(a.join("runs/2.bin.cascade-999999.tmp"), "a dead writer's").unwrap();
    // Writing over a file the store did not write is refused; its own files may be rewritten.
    let e = store
        .claim(&[a.join("charts/x.png")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("charts/x.png") && e.contains("not one of this store's files"),
        "{e}"
    );
    store.claim(&[a.join("export/runs.csv")]).unwrap();
    // The data files are not outputs.
    let e = store
        .claim(&[a.join("runs/0.bin")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("data files"), "{e}");
    // Read-only stores write nothing inside; outside, the path is the user's choice.
    let ro = Store::open(&a).unwrap();
    assert!(ro.claim(&[a.join("export/points.json")]).is_err());
    ro.claim(&[d.join("elsewhere.csv")]).unwrap();
    // An edited manifest that lists a path outside the store: --force does not follow it.
    std::fs::write(d.join("outside.txt"), "keep").unwrap();
    drop(store);
    let mut m = read_manifest(&a).unwrap();
    m.files.push("../outside.txt".into());
    m.files.sort();
    write_manifest(&a, &m).unwrap();
    // --force removes exactly the listed files, the manifest and the directories left empty.
    run_sweep(
        &s7,
        &a,
        &inv(),
        SweepOptions {
            force: true,
            ..opts()
        },
        |_| {},
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(d.join("outside.txt")).unwrap(),
        "keep"
    );
    assert_eq!(
        std::fs::read_to_string(a.join("export/analysis.py")).unwrap(),
        "mine"
    );
    assert!(!a.join("export/runs.csv").exists());
    assert_eq!(
        std::fs::read_to_string(a.join("charts/x.png")).unwrap(),
        "mine"
    );
    assert_eq!(
        std::fs::read_to_string(a.join("notes.tmp")).unwrap(),
        "mine"
    );
    assert!(!a.join("runs/2.bin.cascade-999999.tmp").exists());
    let m = read_manifest(&a).unwrap();
    assert_eq!(m.files.len(), 4, "{:?}", m.files);
    assert!(Store::open(&a).unwrap().points_file().is_ok());
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn an_edited_manifest_is_refused() {
    let d = tmp("edited");
    let s7 = sweep(&d, 7);
    let a = d.join("a");
    run_sweep(&s7, &a, &inv(), opts(), |_| {}).unwrap();
    let mut m = read_manifest(&a).unwrap();
    m.seed = 8;
    write_manifest(&a, &m).unwrap();
    let e = Store::open(&a).unwrap_err().to_string();
    assert!(
        e.contains("manifest.json") && e.contains("was edited"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
