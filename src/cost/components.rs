//! Energy, latency or area split by component, and the footprint unit the layout counts in;
//! shared by the subarray's circuits ([`super::subarray`]) and the chip ([`super::model`]).

use serde::Serialize;

/// Footprint of a minimum transistor with its contacts in F^2: half the 4F x 12F 1T1R cell,
/// which is one access transistor and its via.
pub(super) const TRANSISTOR_F2: f64 = 24.0;

/// Energy (J), latency (s) or area (m^2) by component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Components {
    /// The memory cells.
    pub array: f64,
    /// Word-line drivers and input DACs.
    pub drivers: f64,
    /// ADCs.
    pub adc: f64,
    /// Shift-add of conversions and the adder trees of partial sums.
    pub accumulation: f64,
    /// Activation buffers.
    pub buffer: f64,
    /// Global bus; in area also the H-trees that join subarrays into tiles and tiles into
    /// the chip.
    pub interconnect: f64,
    /// Layout space left empty where a subarray's periphery strips of different lengths
    /// meet (its enclosing rectangle less its circuits).
    pub spacing: f64,
}

impl Components {
    /// Sum of all components.
    pub fn total(&self) -> f64 {
        self.array
            + self.drivers
            + self.adc
            + self.accumulation
            + self.buffer
            + self.interconnect
            + self.spacing
    }

    /// Every component times `factor`.
    pub(super) fn scaled(&self, factor: f64) -> Components {
        Components {
            array: self.array * factor,
            drivers: self.drivers * factor,
            adc: self.adc * factor,
            accumulation: self.accumulation * factor,
            buffer: self.buffer * factor,
            interconnect: self.interconnect * factor,
            spacing: self.spacing * factor,
        }
    }

    pub(super) fn add(&mut self, other: &Components) {
        self.array += other.array;
        self.drivers += other.drivers;
        self.adc += other.adc;
        self.accumulation += other.accumulation;
        self.buffer += other.buffer;
        self.interconnect += other.interconnect;
        self.spacing += other.spacing;
    }
}
