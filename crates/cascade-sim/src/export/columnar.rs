//! Parquet tables for the export: rows arrive as JSON values (the same cells the CSV and JSON
//! writers get), are kept as typed columns, and are written as one Arrow record batch.
//!
//! A column's type is the narrowest that holds every value it received: unsigned integers
//! (point, run, seed, counts), 64-bit floats (metrics, statistics; an integer column that
//! meets a fraction becomes float), booleans, or text (labels; any column that meets a string
//! becomes text). Missing values (a statistic that does not apply, a NaN) are nulls. Units go
//! in each field's metadata (`unit`) and, as one JSON object, in the schema metadata
//! (`cascade.units`); the store's manifest is the file's key-value metadata
//! (`cascade.manifest`). Snappy compression; the file is written under a temporary name and
//! renamed, like every other output.

use crate::fsutil::AtomicFile;
use crate::store::StoreError;
use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::format::KeyValue;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One column's values so far.
#[derive(Debug, Clone, PartialEq)]
pub enum Col {
    /// Only nulls so far (their count).
    Null(usize),
    U64(Vec<Option<u64>>),
    F64(Vec<Option<f64>>),
    Bool(Vec<Option<bool>>),
    Str(Vec<Option<String>>),
}

impl Col {
    fn to_text(&self) -> Vec<Option<String>> {
        match self {
            Col::Null(n) => vec![None; *n],
            Col::U64(v) => v.iter().map(|x| x.map(|x| x.to_string())).collect(),
            Col::F64(v) => v.iter().map(|x| x.map(|x| x.to_string())).collect(),
            Col::Bool(v) => v.iter().map(|x| x.map(|x| x.to_string())).collect(),
            Col::Str(v) => v.clone(),
        }
    }

    /// Append `v`, widening the column's type when `v` needs it.
    pub fn push(&mut self, v: &serde_json::Value) {
        use serde_json::Value as J;
        match (&mut *self, v) {
            (Col::Null(n), J::Null) => *n += 1,
            (Col::U64(c), J::Null) => c.push(None),
            (Col::F64(c), J::Null) => c.push(None),
            (Col::Bool(c), J::Null) => c.push(None),
            (Col::Str(c), J::Null) => c.push(None),
            (Col::Null(n), J::Number(x)) => {
                let n = *n;
                *self = match x.as_u64() {
                    Some(u) if !x.is_f64() => {
                        let mut c = vec![None; n];
                        c.push(Some(u));
                        Col::U64(c)
                    }
                    _ => {
                        let mut c = vec![None; n];
                        c.push(x.as_f64());
                        Col::F64(c)
                    }
                };
            }
            (Col::U64(c), J::Number(x)) => match x.as_u64() {
                Some(u) if !x.is_f64() => c.push(Some(u)),
                _ => {
                    let mut f: Vec<Option<f64>> = c.iter().map(|u| u.map(|u| u as f64)).collect();
                    f.push(x.as_f64());
                    *self = Col::F64(f);
                }
            },
            (Col::F64(c), J::Number(x)) => c.push(x.as_f64()),
            (Col::Null(n), J::Bool(b)) => {
                let mut c = vec![None; *n];
                c.push(Some(*b));
                *self = Col::Bool(c);
            }
            (Col::Bool(c), J::Bool(b)) => c.push(Some(*b)),
            (Col::Str(c), J::String(s)) => c.push(Some(s.clone())),
            (_, other) => {
                let mut t = self.to_text();
                t.push(Some(match other {
                    J::String(s) => s.clone(),
                    o => o.to_string(),
                }));
                *self = Col::Str(t);
            }
        }
    }

    fn array(&self) -> (DataType, ArrayRef) {
        match self {
            Col::Null(n) => (
                DataType::Float64,
                Arc::new(Float64Array::from(vec![None::<f64>; *n])),
            ),
            Col::U64(v) => (DataType::UInt64, Arc::new(UInt64Array::from(v.clone()))),
            Col::F64(v) => (
                DataType::Float64,
                Arc::new(Float64Array::from(
                    v.iter()
                        .map(|x| x.filter(|x| x.is_finite()))
                        .collect::<Vec<_>>(),
                )),
            ),
            Col::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v.clone()))),
            Col::Str(v) => (
                DataType::Utf8,
                Arc::new(StringArray::from(
                    v.iter().map(|s| s.as_deref()).collect::<Vec<_>>(),
                )),
            ),
        }
    }
}

/// A Parquet table being filled row by row.
pub struct ParquetTable {
    path: PathBuf,
    names: Vec<String>,
    units: Vec<String>,
    cols: Vec<Col>,
}

impl ParquetTable {
    /// A table with these column names and units (`""`: none).
    pub fn new(path: PathBuf, names: Vec<String>, units: Vec<String>) -> ParquetTable {
        let cols = vec![Col::Null(0); names.len()];
        ParquetTable {
            path,
            names,
            units,
            cols,
        }
    }

    pub fn push_row(&mut self, cells: &[serde_json::Value]) {
        debug_assert_eq!(cells.len(), self.cols.len());
        for (c, v) in self.cols.iter_mut().zip(cells) {
            c.push(v);
        }
    }

    /// Write the file (atomically) with `file_meta` as key-value metadata.
    pub fn commit(self, file_meta: &[(&str, String)]) -> Result<PathBuf, StoreError> {
        let err = |p: &Path, e: String| StoreError::new(p, e);
        let mut fields = Vec::with_capacity(self.cols.len());
        let mut arrays = Vec::with_capacity(self.cols.len());
        let mut units = serde_json::Map::new();
        for ((name, unit), col) in self.names.iter().zip(&self.units).zip(&self.cols) {
            let (dt, arr) = col.array();
            let mut f = Field::new(name, dt, true);
            if !unit.is_empty() {
                f = f.with_metadata(HashMap::from([("unit".to_string(), unit.clone())]));
                units.insert(name.clone(), serde_json::json!(unit));
            }
            fields.push(f);
            arrays.push(arr);
        }
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            HashMap::from([(
                "cascade.units".to_string(),
                serde_json::Value::Object(units).to_string(),
            )]),
        ));
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| err(&self.path, e.to_string()))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(
                file_meta
                    .iter()
                    .map(|(k, v)| KeyValue::new(k.to_string(), v.clone()))
                    .collect(),
            ))
            .build();
        let out = AtomicFile::create(&self.path).map_err(|e| err(&self.path, e.to_string()))?;
        let mut w = ArrowWriter::try_new(out, schema, Some(props))
            .map_err(|e| err(&self.path, e.to_string()))?;
        w.write(&batch)
            .map_err(|e| err(&self.path, e.to_string()))?;
        let out = w.into_inner().map_err(|e| err(&self.path, e.to_string()))?;
        out.commit().map_err(|e| err(&self.path, e.to_string()))?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn columns_widen_to_what_they_hold() {
        let mut c = Col::Null(0);
        for v in [json!(null), json!(3), json!(4)] {
            c.push(&v);
        }
        assert_eq!(c, Col::U64(vec![None, Some(3), Some(4)]));
        c.push(&json!(0.5));
        assert_eq!(c, Col::F64(vec![None, Some(3.0), Some(4.0), Some(0.5)]));
        c.push(&json!("x"));
        assert_eq!(
            c,
            Col::Str(vec![
                None,
                Some("3".into()),
                Some("4".into()),
                Some("0.5".into()),
                Some("x".into())
            ])
        );
    }
}
