//! A columnar table: typed columns with a clean name, the key they came from and a unit.
//!
//! Why: results go to Python as Arrow columns, and Arrow wants one type per column; f64 columns
//! keep the stored bits (NaN included), so a DataFrame value equals the stored value exactly.

/// A column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    F64(Vec<f64>),
    I64(Vec<i64>),
    U64(Vec<u64>),
    Bool(Vec<bool>),
    Text(Vec<String>),
}

impl Data {
    pub fn len(&self) -> usize {
        match self {
            Data::F64(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::U64(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::Text(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The Arrow type name the Python side builds (`float64`, `int64`, `uint64`, `bool`,
    /// `string`).
    pub fn kind(&self) -> &'static str {
        match self {
            Data::F64(_) => "float64",
            Data::I64(_) => "int64",
            Data::U64(_) => "uint64",
            Data::Bool(_) => "bool",
            Data::Text(_) => "string",
        }
    }

    /// Numeric values as little-endian bytes (Arrow's buffer layout); `None` for bool and text.
    pub fn le_bytes(&self) -> Option<Vec<u8>> {
        fn flat<const N: usize>(it: impl Iterator<Item = [u8; N]>) -> Vec<u8> {
            it.flatten().collect()
        }
        match self {
            Data::F64(v) => Some(flat(v.iter().map(|x| x.to_le_bytes()))),
            Data::I64(v) => Some(flat(v.iter().map(|x| x.to_le_bytes()))),
            Data::U64(v) => Some(flat(v.iter().map(|x| x.to_le_bytes()))),
            Data::Bool(_) | Data::Text(_) => None,
        }
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column name: letters, digits and `_` only (see [`crate::names`]).
    pub name: String,
    /// What it is in cascade's own words: the axis key (`engine.liquidation.bonus`), the
    /// metric, or the statistic (`bad_debt_mean`).
    pub source: String,
    /// The unit (`quote`, `ratio`, `count`, ...), where there is one.
    pub unit: Option<String>,
    pub data: Data,
}

impl Column {
    pub fn new(name: impl Into<String>, data: Data) -> Column {
        let name = name.into();
        Column {
            source: name.clone(),
            name,
            unit: None,
            data,
        }
    }

    pub fn unit(mut self, unit: &str) -> Column {
        self.unit = Some(unit.to_string());
        self
    }

    pub fn source(mut self, source: impl Into<String>) -> Column {
        self.source = source.into();
        self
    }
}

/// A table: columns of equal length.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    pub columns: Vec<Column>,
}

impl Frame {
    /// Rows (the length of the first column; 0 without columns).
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.data.len())
    }

    pub fn push(&mut self, c: Column) {
        debug_assert!(
            self.columns.is_empty() || c.data.len() == self.rows(),
            "column {} has {} rows, the frame {}",
            c.name,
            c.data.len(),
            self.rows()
        );
        self.columns.push(c);
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_bytes_keep_every_bit() {
        let v = vec![0.1, -0.0, f64::NAN, f64::INFINITY, 5e-324];
        let b = Data::F64(v.clone()).le_bytes().unwrap();
        assert_eq!(b.len(), 40);
        for (i, x) in v.iter().enumerate() {
            let back = f64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
            assert_eq!(back.to_bits(), x.to_bits());
        }
    }
}
