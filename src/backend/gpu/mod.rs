//! GPU backend (wgpu).
use super::params::{MvmParams, ProgramParams, ReadoutParams};
use super::{Backend, Conductances, WeightState};
use crate::error::{Error, Result};
use crate::mapping::TileGrid;
pub struct GpuBackend;
impl GpuBackend {
    pub fn new(_allow_software: bool) -> Result<Self> {
        Err(Error::Gpu("not yet".into()))
    }
}
impl Backend for GpuBackend {
    type Layer = ();
    fn describe(&self) -> String {
        String::new()
    }
    fn program(&self, _: &TileGrid, _: &[f32], _: &[f32], _: &ProgramParams) -> Result<()> {
        todo!()
    }
    fn readout(&self, _: &(), _: WeightState, _: &ReadoutParams) -> Result<Vec<f32>> {
        todo!()
    }
    fn set_gains(&self, _: &mut (), _: &[f32]) -> Result<()> {
        todo!()
    }
    fn mvm(&self, _: &(), _: &[f32], _: &MvmParams) -> Result<Vec<f32>> {
        todo!()
    }
    fn conductances(&self, _: &()) -> Result<Conductances> {
        todo!()
    }
}
