//! A tabular benchmark's accuracies: a CSV with a header row and one row per cell
//! architecture, keyed by its `op_indices` (six digits 0-4, AnalogNAS-Bench's encoding of
//! a NAS-Bench-201 cell), one chosen column of accuracies in percent.
//!
//! The reader takes nothing on trust: the file is read up to a bound, every row must have
//! the header's fields, every key six digits 0-4 and once only, every accuracy a finite
//! number in [0, 100]; the first fault is named with its line.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The key column.
pub const KEY_COLUMN: &str = "op_indices";
/// Largest table read (bytes): the 15,625-row benchmark is 3.8 MB.
const MAX_BYTES: u64 = 256 << 20;

/// One column of accuracies by cell.
#[derive(Clone, Debug, PartialEq)]
pub struct AccuracyTable {
    /// The column read.
    pub column: String,
    /// Accuracy as a fraction in [0, 1], by `op_indices`.
    accuracies: HashMap<String, f64>,
}

impl AccuracyTable {
    /// Reads `column` of the CSV at `path`.
    ///
    /// # Errors
    /// An unreadable or oversized file, a missing key or value column (the known ones
    /// listed), a row of another field count, a bad or repeated key, a value that is no
    /// accuracy in percent, an empty table; each names the file and line.
    pub fn load(path: &Path, column: &str) -> Result<AccuracyTable> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, e))?;
        if bytes.len() as u64 > MAX_BYTES {
            return Err(Error::data(
                path.display(),
                format!("larger than {MAX_BYTES} bytes: not a benchmark table"),
            ));
        }
        AccuracyTable::parse(&bytes, column, &path.display().to_string())
    }

    /// As [`AccuracyTable::load`], from the file's bytes; `origin` names it in errors.
    ///
    /// # Errors
    /// As [`AccuracyTable::load`].
    pub fn parse(bytes: &[u8], column: &str, origin: &str) -> Result<AccuracyTable> {
        let bad = |line: u64, message: String| Error::data(format!("{origin}:{line}"), message);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes);
        let headers = reader
            .headers()
            .map_err(|e| bad(1, format!("unreadable header: {e}")))?
            .clone();
        let find = |name: &str| {
            headers.iter().position(|h| h == name).ok_or_else(|| {
                let known: Vec<&str> = headers.iter().collect();
                bad(
                    1,
                    format!("no column {name:?} (columns: {})", known.join(", ")),
                )
            })
        };
        let (key_at, value_at) = (find(KEY_COLUMN)?, find(column)?);
        let mut accuracies = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                bad(line, format!("not a row of the header's fields: {e}"))
            })?;
            let line = record.position().map_or(0, |p| p.line());
            let key = &record[key_at];
            if key.len() != 6 || !key.bytes().all(|b| (b'0'..=b'4').contains(&b)) {
                return Err(bad(
                    line,
                    format!("{KEY_COLUMN} {key:?} is not six digits 0-4"),
                ));
            }
            let text = &record[value_at];
            let value: f64 = text
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| (0.0..=100.0).contains(v))
                .ok_or_else(|| {
                    bad(
                        line,
                        format!("{column} = {text:?} is not an accuracy in percent (0..=100)"),
                    )
                })?;
            if accuracies.insert(key.to_string(), value / 100.0).is_some() {
                return Err(bad(line, format!("{KEY_COLUMN} {key} is listed twice")));
            }
        }
        if accuracies.is_empty() {
            return Err(bad(1, "the table has no rows".into()));
        }
        Ok(AccuracyTable {
            column: column.to_string(),
            accuracies,
        })
    }

    /// The accuracy (fraction) of the cell whose `op_indices` are `key`.
    pub fn accuracy(&self, key: &str) -> Option<f64> {
        self.accuracies.get(key).copied()
    }

    /// Rows in the table.
    pub fn len(&self) -> usize {
        self.accuracies.len()
    }

    /// Whether the table is empty (never, once loaded).
    pub fn is_empty(&self) -> bool {
        self.accuracies.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "op_indices,arch_str,acc\n000000,a,57.5\n012340,b,80\n";

    #[test]
    fn a_column_is_read_in_fractions() {
        let t = AccuracyTable::parse(GOOD.as_bytes(), "acc", "t.csv").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.accuracy("000000"), Some(0.575));
        assert_eq!(t.accuracy("012340"), Some(0.8));
        assert_eq!(t.accuracy("111111"), None);
    }

    #[test]
    fn malformed_tables_are_refused_in_one_line() {
        let refused = |text: &str, column: &str| {
            let e = AccuracyTable::parse(text.as_bytes(), column, "t.csv")
                .unwrap_err()
                .to_string();
            assert!(!e.contains('\n'), "{e}");
            e
        };
        let e = refused(GOOD, "nope");
        assert!(
            e.contains("t.csv:1: no column \"nope\" (columns: op_indices, arch_str, acc)"),
            "{e}"
        );
        let header = "op_indices,acc\n";
        for (body, says) in [
            ("000000,1,2\n", "t.csv:2: not a row"),
            ("00000,1\n", "t.csv:2: op_indices \"00000\""),
            ("000005,1\n", "is not six digits"),
            ("000000,x\n", "acc = \"x\" is not an accuracy"),
            ("000000,NaN\n", "is not an accuracy"),
            ("000000,101\n", "is not an accuracy"),
            (
                "000000,1\n000000,2\n",
                "t.csv:3: op_indices 000000 is listed twice",
            ),
            ("", "has no rows"),
        ] {
            let e = refused(&format!("{header}{body}"), "acc");
            assert!(e.contains(says), "{e}");
        }
        let e = refused("arch,acc\n0,1\n", "acc");
        assert!(e.contains("no column \"op_indices\""), "{e}");
    }
}
