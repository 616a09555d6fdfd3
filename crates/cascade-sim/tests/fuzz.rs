//! Fuzzing with proptest: scenario TOML, `--set` strings and the store codec never panic.
//!
//! Every input here is what a user (or a damaged disk) could hand cascade: a shipped scenario
//! with keys deleted and values replaced by random types and magnitudes, TOML text with random
//! characters spliced in, random `--set key=value` strings, and a valid `.bin` file truncated,
//! bit-flipped, replaced by random bytes, or given a random payload under a valid header and
//! checksum. Each must give `Ok` or a clean `Err`, never a panic or an allocator abort; a
//! mutated scenario that loads is also built and stepped for a few blocks. The
//! runners are seeded (the same cases every run) and sized so that the whole file takes well
//! under a minute under the ci profile on two cores.

mod common;

use cascade_sim::codec::{self, FileKind, HEADER_LEN, Identity};
use cascade_sim::load::{apply_overrides, load_scenario, read_tree, scenario_from_tree};
use cascade_sim::metrics::{METRICS, MetricRow, schema_hash};
use cascade_sim::store::{PointRecord, PointsFile, RunsFile};
use cascade_sim::sweep::Param;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestRunner};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

fn runner(cases: u32, seed: u64) -> TestRunner {
    TestRunner::new(Config {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..Config::default()
    })
}

/// The shipped scenario files.
fn shipped() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::repo().join("configs/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    v.sort();
    assert!(v.len() >= 5, "the shipped scenarios are found");
    v
}

/// Every key path of a tree (tables and array elements), parents before children.
fn paths(v: &Value, here: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match v {
        Value::Table(t) => {
            for (k, x) in t {
                here.push(k.clone());
                out.push(here.clone());
                paths(x, here, out);
                here.pop();
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                here.push(i.to_string());
                out.push(here.clone());
                paths(x, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

/// A random TOML value: any type, magnitudes from tiny to huge, non-finite floats.
fn any_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Integer),
        prop_oneof![
            Just(0i64),
            Just(-1),
            Just(1_000_000_000),
            Just(1_000_000_000_000),
            Just(i64::MAX)
        ]
        .prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Float),
        prop_oneof![
            Just(1e308),
            Just(-1e308),
            Just(f64::INFINITY),
            Just(f64::NAN),
            Just(1e-300),
            Just(0.0),
            Just(-0.5),
            Just(2.5)
        ]
        .prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
        ".{0,12}".prop_map(Value::String),
        Just(Value::Array(vec![])),
        Just(Value::Table(Table::new())),
        prop::collection::vec(any::<f64>().prop_map(Value::Float), 0..4).prop_map(Value::Array),
    ]
}

/// One edit of a tree: delete the key at a path, or replace its value.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize),
    Replace(usize, Value),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), any_value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
    ]
}

fn apply(tree: &mut Table, m: &Mutation) {
    let mut all = Vec::new();
    paths(&Value::Table(tree.clone()), &mut Vec::new(), &mut all);
    if all.is_empty() {
        return;
    }
    let (i, new) = match m {
        Mutation::Delete(i) => (*i, None),
        Mutation::Replace(i, v) => (*i, Some(v.clone())),
    };
    let path = &all[i % all.len()];
    let (last, parents) = path.split_last().expect("non-empty path");
    let mut cur: &mut Value = match tree.get_mut(&parents.first().cloned().unwrap_or_default()) {
        Some(v) if !parents.is_empty() => v,
        _ => {
            match new {
                Some(v) => {
                    tree.insert(last.clone(), v);
                }
                None => {
                    tree.remove(last);
                }
            }
            return;
        }
    };
    for seg in &parents[1..] {
        cur = match cur {
            Value::Table(t) => t.get_mut(seg).expect("path exists"),
            Value::Array(a) => &mut a[seg.parse::<usize>().expect("index")],
            _ => return,
        };
    }
    match cur {
        Value::Table(t) => match new {
            Some(v) => {
                t.insert(last.clone(), v);
            }
            None => {
                t.remove(last);
            }
        },
        Value::Array(a) => {
            let k: usize = last.parse().expect("index");
            match new {
                Some(v) => a[k] = v,
                None => {
                    a.remove(k);
                }
            }
        }
        _ => {}
    }
}

/// Load a tree as a scenario and, when it is valid, estimate its size: no panic either way.
fn load_and_estimate(file: &Path, tree: Table) {
    if let Ok(s) = scenario_from_tree(file, tree) {
        let job = cascade_sim::bounds::Job::Run {
            runs: s.config.run.runs,
            runs_key: "run.runs".into(),
            threads: 2,
            trace: true,
        };
        let est = cascade_sim::bounds::estimate(&s.config, &job);
        // A scenario that loads builds and steps without a panic (small ones, a few blocks).
        if est.bytes < (64 << 20)
            && let Ok(mut w) = cascade_sim::World::new(&s, 1, 0)
        {
            for _ in 0..20 {
                if !w.running() || w.step().is_err() {
                    break;
                }
            }
        }
        let _ = cascade_sim::bounds::check(
            file,
            &est,
            &cascade_sim::bounds::Budget {
                bytes: Some(1 << 30),
                source: "test".into(),
            },
        );
    }
}

#[test]
fn mutated_scenarios_give_ok_or_a_clean_error() {
    let files = shipped();
    let trees: Vec<Table> = files.iter().map(|f| read_tree(f).unwrap()).collect();
    let errors = std::cell::Cell::new(0u32);
    let mut r = runner(1500, 16);
    r.run(
        &(0..files.len(), prop::collection::vec(mutation(), 1..4)),
        |(k, muts)| {
            let mut tree = trees[k].clone();
            for m in &muts {
                apply(&mut tree, m);
            }
            if scenario_from_tree(&files[k], tree.clone()).is_err() {
                errors.set(errors.get() + 1);
            }
            load_and_estimate(&files[k], tree);
            Ok(())
        },
    )
    .unwrap();
    // The mutations reach the validation: most of them break a rule.
    let errors = errors.get();
    assert!(
        errors > 300,
        "only {errors} of 1500 mutated scenarios were refused"
    );
}

#[test]
fn scenario_text_with_random_characters_gives_a_clean_error() {
    let files = shipped();
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let dir = std::env::temp_dir().join(format!("cascade-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("fuzz.toml");
    let mut r = runner(600, 17);
    r.run(
        &(0..files.len(), any::<usize>(), "\\PC{0,8}", any::<usize>()),
        |(k, at, insert, cut)| {
            let t = &texts[k];
            // Splice at a character boundary, and sometimes cut the text short.
            let mut at = at % (t.len() + 1);
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            let mut text = format!("{}{insert}{}", &t[..at], &t[at..]);
            if cut % 3 == 0 {
                let mut c = cut % (text.len() + 1);
                while !text.is_char_boundary(c) {
                    c -= 1;
                }
                text.truncate(c);
            }
            std::fs::write(&f, &text).unwrap();
            let _ = load_scenario(&f, &[]);
            Ok(())
        },
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn random_set_strings_give_a_clean_error() {
    let file = common::repo().join("configs/scenarios/quickstart.toml");
    let base = read_tree(&file).unwrap();
    let key = prop_oneof![
        Just("assets.0.price".to_string()),
        Just("agents.1.count".to_string()),
        Just("venues.book.levels".to_string()),
        Just("chain".to_string()),
        Just("agents[9].kind".to_string()),
        Just("run.runs".to_string()),
        "[a-z_.\\[\\]0-9]{0,16}",
        "\\PC{0,10}",
    ];
    let value = prop_oneof![
        Just("1e308".to_string()),
        Just("-1".to_string()),
        Just("nan".to_string()),
        Just("[1, \"a\"]".to_string()),
        Just("{ kind = \"x\" }".to_string()),
        "\\PC{0,12}",
    ];
    let mut r = runner(1500, 18);
    r.run(&(key, value, any::<bool>()), |(k, v, with_eq)| {
        let s = if with_eq { format!("{k}={v}") } else { k };
        let mut tree = base.clone();
        if apply_overrides(&file, &mut tree, &[s]).is_ok() {
            load_and_estimate(&file, tree);
        }
        Ok(())
    })
    .unwrap();
}

/// A valid runs file and points file, encoded.
fn valid_files() -> Vec<(FileKind, Vec<u8>)> {
    let id = Identity {
        config_hash: 7,
        store_id: 9,
    };
    let rows: Vec<Vec<f64>> = (0..3)
        .map(|r| (0..METRICS.len()).map(|m| (r * m) as f64 * 0.5).collect())
        .collect();
    let runs = RunsFile {
        point: 1,
        first_run: 0,
        rows: rows.clone(),
    };
    let agg = cascade_sim::aggregate::aggregate(
        &rows.iter().cloned().map(MetricRow).collect::<Vec<_>>(),
        1,
        0,
    );
    let points = PointsFile {
        axes: vec!["gas.congestion_beta".into()],
        metrics: METRICS.iter().map(|m| m.name.to_string()).collect(),
        baseline: vec![],
        points: vec![PointRecord {
            index: 0,
            params: vec![Param::Float(0.3)],
            agg,
        }],
    };
    vec![
        (
            FileKind::Runs,
            codec::encode(FileKind::Runs, schema_hash(), id, &runs),
        ),
        (
            FileKind::Points,
            codec::encode(FileKind::Points, schema_hash(), id, &points),
        ),
    ]
}

fn decode_any(kind: FileKind, bytes: &[u8]) -> bool {
    let id = Identity {
        config_hash: 7,
        store_id: 9,
    };
    match kind {
        FileKind::Runs => codec::decode::<RunsFile>(kind, schema_hash(), id, bytes).is_ok(),
        _ => codec::decode::<PointsFile>(kind, schema_hash(), id, bytes).is_ok(),
    }
}

/// `payload` under a valid header (kind, schema, identity, length, checksum).
fn with_header(valid: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = valid[..HEADER_LEN].to_vec();
    out[40..48].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    out[48..56].copy_from_slice(&codec::fnv1a64(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn damaged_store_files_give_a_clean_error() {
    let files = valid_files();
    for (kind, b) in &files {
        assert!(decode_any(*kind, b), "the valid file decodes");
    }
    let mut r = runner(4000, 19);
    r.run(
        &(
            0..files.len(),
            0u8..4,
            any::<usize>(),
            any::<u8>(),
            prop::collection::vec(any::<u8>(), 0..200),
        ),
        |(k, how, at, bit, random)| {
            let (kind, valid) = &files[k];
            let bytes = match how {
                // Truncated.
                0 => valid[..at % valid.len()].to_vec(),
                // One bit flipped: anything but the valid file must be refused.
                1 => {
                    let mut b = valid.clone();
                    b[at % valid.len()] ^= 1 << (bit % 8);
                    prop_assert!(!decode_any(*kind, &b), "a flipped bit was accepted");
                    b
                }
                // Random bytes.
                2 => random.clone(),
                // A random payload (or the valid one, damaged) under a valid header and checksum:
                // the decoder itself meets garbage, including huge announced lengths.
                _ => {
                    let mut p = valid[HEADER_LEN..].to_vec();
                    if random.len() > 8 {
                        p = random.clone();
                    } else if !p.is_empty() {
                        let i = at % p.len();
                        p[i] = bit;
                        p.truncate(i + 1 + (at / 7) % (p.len() - i));
                    }
                    with_header(valid, &p)
                }
            };
            let _ = decode_any(*kind, &bytes);
            Ok(())
        },
    )
    .unwrap();
}
