//! JSON Schemas (draft-07, the newest draft Taplo's validator reads) of the scenario and sweep
//! files, for TOML editors: Taplo and
//! Even Better TOML complete keys, show each key's documentation and flag unknown keys from
//! them (`cascade schema scenario|sweep`, docs/schema.md).
//!
//! The schemas are derived from the configuration types themselves (`schemars::JsonSchema`
//! beside `serde::Deserialize`, which honours the serde attributes: defaults, renames,
//! `kind`-tagged policies, `deny_unknown_fields`), with the types' doc comments as
//! descriptions, so a new key appears in the schema as soon as its type derives both (a new
//! config type nested in one of them must derive `schemars::JsonSchema` too, or the build
//! says so). Axis values and a sweep's `baseline` are any TOML value.

use crate::config::ScenarioConfig;
use crate::sweep::SweepFile;

/// Which file a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// A scenario file (`configs/scenarios/*.toml`).
    Scenario,
    /// A sweep file (`configs/sweeps/*.toml`).
    Sweep,
}

/// The JSON Schema of a file of `kind`, with a title and description.
pub fn schema(kind: SchemaKind) -> serde_json::Value {
    let generator = || schemars::generate::SchemaSettings::draft07().into_generator();
    let (schema, title, what) = match kind {
        SchemaKind::Scenario => (
            generator().into_root_schema_for::<ScenarioConfig>(),
            "cascade scenario",
            "A cascade scenario file: chain, assets, gas, oracles, venues, agents, engine.",
        ),
        SchemaKind::Sweep => (
            generator().into_root_schema_for::<SweepFile>(),
            "cascade sweep",
            "A cascade sweep file: a base scenario, overrides and axes of values to run.",
        ),
    };
    let mut v = serde_json::to_value(schema).expect("a schema is plain JSON");
    if let Some(o) = v.as_object_mut() {
        o.insert("title".into(), title.into());
        o.entry("description").or_insert_with(|| what.into());
    }
    v
}
