//! cascade-sim: from a scenario file to measured runs.
//!
//! It reads and checks scenarios (`config`, `load`, `overrides`), builds the World and runs its
//! block pipeline (`world`), measures each run (`metrics`), and writes what the user asked for
//! (`trace`, `summary`, with atomic writes from `fsutil`). Experiments: sweep files (`sweep`),
//! the parallel runner (`runner`, `experiment`), aggregates (`aggregate`), the result store
//! (`store`, with all binary encoding in `codec`), event traces for replay (`events`) and
//! exports (`export`). It is the only crate below the command line that touches the file
//! system.

pub mod aggregate;
pub mod bounds;
pub mod codec;
pub mod config;
pub mod events;
pub mod experiment;
pub mod export;
pub mod fsutil;
pub mod load;
pub mod lock;
pub mod magnitude;
pub mod messages;
pub mod metrics;
pub mod overrides;
pub mod replay;
pub mod results;
pub mod runner;
pub mod schema;
pub mod spiral;
pub mod stats;
pub mod store;
pub mod summary;
pub mod sweep;
pub mod trace;
pub mod world;

pub use config::ScenarioConfig;
pub use load::{ConfigError, Scenario, load_scenario};
pub use metrics::{METRICS, MetricRow};
pub use world::World;
