//! The one TOML loader of every configuration file: hardware descriptions, experiments.
//!
//! A text is parsed, the `--set section.key=value` overrides are applied to it, and the result
//! is deserialised into its schema. Every failure names where the bad value came from: the
//! file and line for a value written in a file, the `--set` assignment for an override, and in
//! both cases the key (`tile.rows`), so that a user can find it without reading the schema.

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use std::path::Path;

/// A configuration text and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// The file, preset or embedded default, as messages name it.
    pub origin: String,
    /// The TOML text.
    pub text: String,
}

impl Source {
    /// The text of the file at `path`.
    ///
    /// # Errors
    /// An unreadable file.
    pub fn file(path: &Path) -> Result<Source> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Ok(Source {
            origin: path.display().to_string(),
            text,
        })
    }

    /// An embedded text named `origin`.
    pub fn embedded(origin: impl Into<String>, text: &str) -> Source {
        Source {
            origin: origin.into(),
            text: text.to_string(),
        }
    }

    /// Deserialises the text, with `overrides` (`section.key=value`) applied, into `T`.
    ///
    /// # Errors
    /// [`Error::Config`] for TOML syntax, a malformed override, an unknown key or a value of
    /// the wrong type, naming the key and the file line or the `--set` it came from.
    pub fn parse<T: DeserializeOwned>(&self, overrides: &[String]) -> Result<T> {
        let syntax = |error: toml::de::Error| Error::Config {
            origin: self.origin.clone(),
            message: format!(
                "{}{}",
                line_of(&self.text, error.span()).map_or(String::new(), |l| format!("line {l}: ")),
                one_line(error.message())
            ),
        };
        let mut table: toml::Table = toml::from_str(&self.text).map_err(syntax)?;
        let mut set = Vec::with_capacity(overrides.len());
        for assignment in overrides {
            set.push((apply_override(&mut table, assignment)?, assignment.as_str()));
        }
        serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|error| {
            let key = error.path().to_string();
            let message = one_line(error.inner().message());
            // The override that wrote the key (the last one wins, as it does in the table) or
            // the line of the file.
            let segments = key_segments(&key);
            let origin = match set
                .iter()
                .rev()
                .find(|(path, _)| segments.starts_with(path) || path.starts_with(&segments))
            {
                Some((_, assignment)) => format!("--set {assignment}"),
                None => match line_of_key(&self.text, &segments) {
                    Some(line) => format!("{} line {line}", self.origin),
                    None => self.origin.clone(),
                },
            };
            Error::Config {
                origin,
                message: if key.is_empty() || key == "." {
                    message
                } else {
                    format!("{key}: {message}")
                },
            }
        })
    }
}

/// A message of the TOML or serde layer on one line.
fn one_line(message: &str) -> String {
    message.trim().replace('\n', " ")
}

/// The 1-based line of byte `span.start` in `text`.
fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> Option<usize> {
    let start = span?.start.min(text.len());
    Some(text[..start].matches('\n').count() + 1)
}

/// The table keys of a serde path such as `hardware.tile_sizes[1]`: `hardware`, `tile_sizes`.
fn key_segments(path: &str) -> Vec<String> {
    path.split('.')
        .map(|s| s.split('[').next().unwrap_or(s).to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The line where the key `segments` is written in `text`, if it is.
fn line_of_key(text: &str, segments: &[String]) -> Option<usize> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut span = None;
    for (i, segment) in segments.iter().enumerate() {
        let (key, value) = table.get_key_value(segment.as_str())?;
        span = Some(key.span());
        if i + 1 < segments.len() {
            table = value.get_ref().as_table()?;
        }
    }
    line_of(text, span)
}

/// Sets `section.key` of `table` to `value`, read as a TOML value when it parses as one
/// (numbers, booleans, quoted strings, arrays) and as a bare string otherwise (`model=pcm`);
/// returns the key's path.
///
/// # Errors
/// An assignment that is not `section.key=value`, or whose section is not a table.
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<Vec<String>> {
    let bad = |message: String| Error::Config {
        origin: format!("--set {assignment}"),
        message,
    };
    let (key, value) = assignment
        .split_once('=')
        .ok_or_else(|| bad("expected section.key=value".to_string()))?;
    let path: Vec<&str> = key.trim().split('.').collect();
    if path.len() != 2 || path.iter().any(|p| p.is_empty()) {
        return Err(bad(format!(
            "`{}` is not of the form section.key",
            key.trim()
        )));
    }
    let value = value.trim();
    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let section = table
        .entry(path[0].to_string())
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    match section {
        toml::Value::Table(section) => {
            section.insert(path[1].to_string(), parsed);
            Ok(path.iter().map(|s| s.to_string()).collect())
        }
        _ => Err(bad(format!("`{}` is not a section", path[0]))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Tile {
        rows: u32,
        cols: u32,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Schema {
        tile: Tile,
        bits: Vec<u32>,
    }

    fn error(text: &str, overrides: &[&str]) -> String {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Source::embedded("test.toml", text)
            .parse::<Schema>(&overrides)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn values_and_overrides_load() {
        let source = Source::embedded("test.toml", "bits = [1, 2]\n[tile]\nrows = 4\n");
        let schema: Schema = source.parse(&["tile.cols=8".into()]).unwrap();
        assert_eq!(schema.tile, Tile { rows: 4, cols: 8 });
        assert_eq!(schema.bits, vec![1, 2]);
    }

    #[test]
    fn errors_name_the_key_and_where_it_was_written() {
        let e = error("bits = []\n\n[tile]\nrows = \"512\"\n", &[]);
        assert!(
            e.contains("test.toml line 4") && e.contains("tile.rows") && e.contains("string"),
            "{e}"
        );
        let e = error("[tile]\nrowz = 5\n", &[]);
        assert!(e.contains("line 2") && e.contains("tile.rowz"), "{e}");
        let e = error("bits = [1, -2]\n", &[]);
        assert!(e.contains("line 1") && e.contains("bits[1]"), "{e}");
        let e = error("[tile]\nrows = 4\n", &["tile.rows=-1"]);
        assert!(
            e.contains("--set tile.rows=-1") && e.contains("tile.rows") && e.contains("-1"),
            "{e}"
        );
        let e = error("", &["tile.cols=7.5"]);
        assert!(
            e.contains("--set tile.cols=7.5") && e.contains("tile.cols"),
            "{e}"
        );
        let e = error("[tile\n", &[]);
        assert!(e.contains("test.toml") && e.contains("line 1"), "{e}");
        let e = error("", &["tile.rows"]);
        assert!(e.contains("section.key=value"), "{e}");
    }
}
