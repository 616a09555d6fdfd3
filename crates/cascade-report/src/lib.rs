//! cascade-report: the charts researchers read a sweep through, and one self-contained HTML
//! page that holds them all.
//!
//! It reads result stores written by `cascade sweep` (cascade-sim's `store`), picks the
//! quantities a request names ([`select`]), draws them with plotters into PNG and SVG
//! ([`render`], text set in the bundled DejaVu Sans, [`font`], so no system font library is
//! needed at build or run time) and writes `report.html` ([`report`]). Chart kinds live in
//! [`charts`]: interval lines, heatmaps, CCDFs of per-run losses, single-run paths replayed in
//! memory, and the side-by-side comparison of engine generations on the same shocks.
//!
//! A request that cannot be drawn (an unknown metric or axis, a heatmap over a one-axis sweep)
//! is a [`ReportError::Invalid`] that lists what exists; nothing here panics on user input.

pub mod charts;
pub mod font;
pub mod render;
pub mod report;
pub mod scaled;
pub mod select;

pub use charts::{AnyFigure, PlotKind, PlotRequest, build_figure};
pub use render::{Figure, Formats, write_figure};
pub use report::{ReportOutput, write_default_charts, write_report, write_report_in};

use std::fmt;
use std::path::PathBuf;

/// Why a chart or the report could not be made.
#[derive(Debug)]
pub enum ReportError {
    /// The request names something the results do not have, or asks for a chart the data
    /// cannot support; the message lists what exists.
    Invalid(String),
    /// The result store is missing, incomplete or damaged.
    Store(cascade_sim::store::StoreError),
    /// A scenario (for a replay or a generation comparison) does not load.
    Config(cascade_sim::ConfigError),
    /// A simulation failed while replaying or comparing.
    Sim(String),
    /// Drawing failed (a backend error).
    Draw(String),
    /// Writing an output file failed.
    Io(PathBuf, std::io::Error),
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Invalid(m) => write!(f, "{m}"),
            ReportError::Store(e) => write!(f, "{e}"),
            ReportError::Config(e) => write!(f, "{e}"),
            ReportError::Sim(m) => write!(f, "simulation failed: {m}"),
            ReportError::Draw(m) => write!(f, "cannot draw the chart: {m}"),
            ReportError::Io(p, e) => write!(f, "cannot write {}: {e}", p.display()),
        }
    }
}

impl std::error::Error for ReportError {}

impl From<cascade_sim::store::StoreError> for ReportError {
    fn from(e: cascade_sim::store::StoreError) -> Self {
        ReportError::Store(e)
    }
}

impl From<cascade_sim::ConfigError> for ReportError {
    fn from(e: cascade_sim::ConfigError) -> Self {
        ReportError::Config(e)
    }
}

/// Shorthand for an invalid request.
pub(crate) fn invalid(msg: impl Into<String>) -> ReportError {
    ReportError::Invalid(msg.into())
}
