//! Hardware-aware training: what the crossbar does to a layer, emulated in the forward pass so
//! that the network learns weights that survive it. Gaussian weight noise (std = eta * max|W| of
//! the layer, redrawn at every step), the DAC's and ADC's quantization with straight-through
//! gradients, weight clipping after each optimizer step, and gain noise: a random error of
//! each layer's output gain, seen through the batch norm that follows it.
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
    /// Std of the relative gain error of a layer feeding a batch norm (0 = off).
    pub gain_noise: f32,
}

impl Hwa {
    /// Weight noise only.
    pub fn noise(eta: f32) -> Hwa {
        Hwa {
            eta,
            dac: Quantizer::new(0, 1.0),
            adc: Quantizer::new(0, 1.0),
            gain_noise: 0.0,
        }
    }

    /// Weight noise and the converters of a hardware configuration.
    pub fn with_converters(eta: f32, hw: &HwConfig) -> Hwa {
        Hwa {
            eta,
            dac: hw.dac,
            adc: hw.adc,
            gain_noise: 0.0,
        }
    }

    /// The same with gain noise of std `gain_noise`.
    pub fn with_gain_noise(self, gain_noise: f32) -> Hwa {
        Hwa { gain_noise, ..self }
    }

    /// Batch-norm output `y` (batch, c, h, w) as it would be if the layer before it had a gain
    /// error (1 + e), e ~ N(0, gain_noise^2) per image, with the norm's running statistics
    /// folded (as at inference): `y + e (y - shift)`, where `shift` is the folded per-channel
    /// offset beta - gamma mean / sqrt(var + eps). On a chip the error comes from drift
    /// compensation estimated through a noisy read-out; batch statistics hide it in training,
    /// so it is injected here. Statistics and noise carry no gradient.
    pub fn gain_error(&self, y: Tensor<4>, norm: &burn::nn::BatchNorm) -> Tensor<4> {
        if self.gain_noise <= 0.0 {
            return y;
        }
        let [batch, channels, _, _] = y.dims();
        let device = y.device();
        let gamma = norm.gamma.val().detach();
        let beta = norm.beta.val().detach();
        let mean = norm.running_mean.value().to_device(&device);
        let var = norm.running_var.value().to_device(&device);
        let shift = beta - gamma * mean / (var + norm.epsilon).sqrt();
        // A weight-sharing subnet uses the leading channels of a wider norm.
        let shift: Tensor<4> = shift
            .narrow(0, 0, channels)
            .reshape([1, channels as i32, 1, 1]);
        let e = Tensor::<4>::random(
            [batch, 1, 1, 1],
            Distribution::Normal(0.0, f64::from(self.gain_noise)),
            &device,
        );
        y.clone() + e * (y - shift)
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::{Param, RunningState};
    use burn::nn::BatchNormConfig;
    use burn::tensor::{Device, TensorData};

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().expect("f32 tensor")
    }

    #[test]
    fn gain_error_scales_each_image_about_the_folded_shift() {
        let device = Device::flex();
        device.seed(3);
        let mut norm = BatchNormConfig::new(2).init(&device);
        norm.beta = Param::from_data(TensorData::new(vec![0.5f32, -1.0], [2]), &device);
        norm.running_mean = RunningState::new(Tensor::from_data(
            TensorData::new(vec![2.0f32, 1.0], [2]),
            &device,
        ));
        norm.running_var = RunningState::new(Tensor::from_data(
            TensorData::new(vec![4.0f32, 1.0], [2]),
            &device,
        ));
        let eps = norm.epsilon as f32;
        // beta - gamma mean / sqrt(var + eps), gamma = 1.
        let shift = [
            0.5 - 2.0 / (4.0 + eps).sqrt(),
            -1.0 - 1.0 / (1.0 + eps).sqrt(),
        ];

        let (images, per_image) = (400, 2 * 3 * 3);
        let y = Tensor::<4>::random([images, 2, 3, 3], Distribution::Normal(0.0, 1.0), &device);
        let off = Hwa::noise(0.0);
        assert_eq!(values(off.gain_error(y.clone(), &norm)), values(y.clone()));

        let sigma = 0.1;
        let noisy = values(off.with_gain_noise(sigma).gain_error(y.clone(), &norm));
        let clean = values(y);
        let mut errors = Vec::with_capacity(images);
        for n in 0..images {
            let range = n * per_image..(n + 1) * per_image;
            let centred = |v: &[f32], i: usize| v[i] - shift[(i % per_image) / 9];
            // The image's gain, read where the value lies farthest from the shift.
            let widest = range
                .clone()
                .max_by(|&a, &b| {
                    centred(&clean, a)
                        .abs()
                        .total_cmp(&centred(&clean, b).abs())
                })
                .expect("values");
            let gain = centred(&noisy, widest) / centred(&clean, widest);
            for i in range {
                let expected = gain * centred(&clean, i);
                assert!(
                    (centred(&noisy, i) - expected).abs() < 1e-4,
                    "one gain per image"
                );
            }
            errors.push(f64::from(gain - 1.0));
        }
        let mean = errors.iter().sum::<f64>() / images as f64;
        let std = (errors.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / images as f64).sqrt();
        // Standard errors over 400 images: mean 0.005, std 0.0035.
        assert!(mean.abs() < 0.02, "mean gain error {mean}");
        assert!(
            (std - f64::from(sigma)).abs() < 0.015,
            "gain error std {std}"
        );
    }
}
