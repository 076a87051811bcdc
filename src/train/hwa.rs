//! Hardware-aware training: what the crossbar does to a layer, emulated in the forward pass so
//! that the network learns weights that survive it. Gaussian weight noise (std = eta * max|W| of
//! the layer, redrawn at every step), the DAC's and ADC's quantization with straight-through
//! gradients, and weight clipping after each optimizer step.
//!
//! The fake quantizers scale like the tile: inputs by their absolute maximum (noise management
//! `abs_max`, here per image rather than per im2col patch, which keeps training cheap), outputs by
//! that input scale times max|W| (the weight that maps onto the largest conductance).

use crate::config::{HwConfig, Quantizer};
use burn::tensor::{Distribution, Tensor};

/// Hardware-aware training settings.
#[derive(Clone, Debug, PartialEq)]
pub struct Hwa {
    /// Relative weight noise; 0 disables it.
    pub eta: f32,
    /// Input quantizer emulated (ideal = none).
    pub dac: Quantizer,
    /// Output quantizer emulated (ideal = none).
    pub adc: Quantizer,
}

impl Hwa {
    /// Weight noise only.
    pub fn noise(eta: f32) -> Hwa {
        Hwa {
            eta,
            dac: Quantizer::new(0, 1.0),
            adc: Quantizer::new(0, 1.0),
        }
    }

    /// Weight noise and the converters of a hardware configuration.
    pub fn with_converters(eta: f32, hw: &HwConfig) -> Hwa {
        Hwa {
            eta,
            dac: hw.dac,
            adc: hw.adc,
        }
    }

    /// Per-image absolute maximum of `x` (batch, 1, 1, 1), outside the gradient.
    pub fn input_scale(&self, x: &Tensor<4>) -> Tensor<4> {
        let batch = x.dims()[0];
        let flat: Tensor<2> = x.clone().detach().abs().reshape([batch as i32, -1]);
        let amax: Tensor<2> = flat.max_dim(1);
        amax.clamp_min(1e-12).reshape([batch as i32, 1, 1, 1])
    }

    /// The DAC: inputs scaled to [-1, 1], clipped to the bound, rounded to the step.
    pub fn quantize_input(&self, x: Tensor<4>, scale: Tensor<4>) -> Tensor<4> {
        fake_quantize(x, scale, self.dac)
    }

    /// The ADC: outputs in units of (input scale x max|W|), clipped and rounded.
    pub fn quantize_output(
        &self,
        y: Tensor<4>,
        input_scale: Tensor<4>,
        w_max: Tensor<1>,
    ) -> Tensor<4> {
        let scale = input_scale * w_max.reshape([1, 1, 1, 1]);
        fake_quantize(y, scale, self.adc)
    }

    /// `w` plus fresh N(0, (eta max|W|)^2) noise that carries no gradient.
    pub fn noisy_weight<const D: usize>(&self, w: Tensor<D>) -> Tensor<D> {
        if self.eta <= 0.0 {
            return w;
        }
        let std = w.clone().detach().abs().max() * self.eta;
        let noise = Tensor::<D>::random(w.shape(), Distribution::Normal(0.0, 1.0), &w.device());
        let std: Tensor<D> = std.reshape([1; D]);
        w + noise * std
    }
}

/// Rounds `x / scale` to the quantizer's grid within its bound, with the identity gradient.
fn fake_quantize(x: Tensor<4>, scale: Tensor<4>, q: Quantizer) -> Tensor<4> {
    if q.step == 0.0 {
        return x;
    }
    let detached = x.clone().detach();
    let levels = (detached.clone() / scale.clone())
        .clamp(-q.bound, q.bound)
        .div_scalar(q.step)
        .round()
        .mul_scalar(q.step);
    let quantized = levels * scale;
    // Straight-through: the forward value is quantized, the gradient that of the identity.
    x.clone() + (quantized - detached)
}
