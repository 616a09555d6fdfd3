//! `cascade export`: a store as tables (CSV, JSON or Parquet) for pandas, R, polars or DuckDB.

use crate::{ExportFormat, Failure, open_results_for, print_wrote};
use std::path::{Path, PathBuf};

pub(crate) fn cmd_export(
    dir: &Path,
    format: ExportFormat,
    out: Option<PathBuf>,
    partial: bool,
) -> Result<(), Failure> {
    use cascade_sim::export::{Format, export, export_paths};
    let out = out.unwrap_or_else(|| dir.join("export"));
    let format = match format {
        ExportFormat::Csv => Format::Csv,
        ExportFormat::Json => Format::Json,
        ExportFormat::Parquet => Format::Parquet,
    };
    let store = open_results_for(dir, &export_paths(&out, format), partial)?;
    let files = export(&store, &out, format).map_err(|e| Failure::Usage(e.to_string()))?;
    print_wrote(&files);
    Ok(())
}
