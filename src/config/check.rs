//! The one validator of every configuration: range checks that name the file, the key, the
//! value and what would be accepted, as [`Error::ConfigValue`].

use crate::error::{Error, Result};
use std::fmt::Display;

/// Checks the values of one configuration, naming `origin` (its file or preset) in errors.
#[derive(Clone, Copy, Debug)]
pub struct Checker<'a> {
    /// The file, preset or command the values come from.
    pub origin: &'a str,
}

impl<'a> Checker<'a> {
    /// A checker of values from `origin`.
    pub fn new(origin: &'a str) -> Self {
        Checker { origin }
    }

    /// The error for `field` holding `value` where `expected` would do.
    pub fn fail(&self, field: &str, value: impl Display, expected: &str) -> Error {
        Error::ConfigValue {
            origin: self.origin.to_string(),
            field: field.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        }
    }

    /// `v` within `lo..=hi` (integers).
    ///
    /// # Errors
    /// A value out of range.
    pub fn range<T: PartialOrd + Display + Copy>(
        &self,
        field: &str,
        v: T,
        lo: T,
        hi: T,
    ) -> Result<T> {
        if v >= lo && v <= hi {
            Ok(v)
        } else {
            Err(self.fail(field, v, &format!("expected {lo}..={hi}")))
        }
    }

    /// `v` finite and within `lo..=hi`.
    ///
    /// # Errors
    /// A value out of range or not finite.
    pub fn range_f(&self, field: &str, v: f64, lo: f64, hi: f64) -> Result<()> {
        if v.is_finite() && v >= lo && v <= hi {
            Ok(())
        } else {
            Err(self.fail(field, v, &format!("expected {lo}..={hi}")))
        }
    }

    /// `v` finite and > 0.
    ///
    /// # Errors
    /// A value <= 0 or not finite.
    pub fn positive(&self, field: &str, v: f64) -> Result<()> {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(self.fail(field, v, "expected a finite value > 0"))
        }
    }

    /// `v` finite and >= 0.
    ///
    /// # Errors
    /// A negative value or one not finite.
    pub fn non_negative(&self, field: &str, v: f64) -> Result<()> {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(self.fail(field, v, "expected a finite value >= 0"))
        }
    }

    /// A converter resolution: 0 (ideal) or 2..=24 bits.
    ///
    /// # Errors
    /// Any other value.
    pub fn bits(&self, field: &str, v: u32) -> Result<()> {
        if v == 0 || (2..=24).contains(&v) {
            Ok(())
        } else {
            Err(self.fail(field, v, "expected 0 (ideal) or 2..=24"))
        }
    }

    /// A list of options: at least one, each within `lo..=hi`.
    ///
    /// # Errors
    /// An empty list or an option out of range.
    pub fn options<T: PartialOrd + Display + Copy>(
        &self,
        field: &str,
        values: &[T],
        lo: T,
        hi: T,
    ) -> Result<()> {
        if values.is_empty() {
            return Err(self.fail(field, "[]", "expected at least one option"));
        }
        for &v in values {
            self.range(field, v, lo, hi)?;
        }
        Ok(())
    }

    /// A list that is not empty.
    ///
    /// # Errors
    /// An empty list.
    pub fn not_empty<T>(&self, field: &str, values: &[T]) -> Result<()> {
        if values.is_empty() {
            Err(self.fail(field, "[]", "expected at least one"))
        } else {
            Ok(())
        }
    }
}
