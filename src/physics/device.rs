//! Memory-device models: how a target conductance becomes a programmed one, and how it
//! drifts and picks up read noise by the time of inference.
//!
//! PCM follows the statistical model fitted by Joshi et al. (Nature Communications 2020) to
//! measured devices, as used by aihwkit's `PCMLikeNoiseModel`. Twins of the functions of the
//! same names in `shaders/program_conductances.wgsl`.

pub use crate::config::WAN2022_TIMES_S;
use crate::config::{DeviceModel, GenericNoise, HwConfig};
use crate::physics::rng::ln_poly;

/// Conductance at which aihwkit's PCM programming-noise coefficients were fitted (uS).
pub const PCM_G_MAX_REFERENCE_US: f32 = 25.0;
/// Programming-noise polynomial in g-hat = G / g_max, giving uS at g_max = 25 uS.
pub const PCM_PROG_COEFF: [f32; 3] = [0.26348, 1.9650, -1.1731];
/// Drift reference time t0 (s).
pub const PCM_T0_S: f64 = 20.0;
/// Read duration t_read of the 1/f noise integral (s).
pub const PCM_T_READ_S: f64 = 250e-9;
/// Smallest relative conductance fed to logarithms.
const G_HAT_FLOOR: f32 = 1e-7;

/// Model ids as the shaders see them.
pub const MODEL_IDEAL: u32 = 0;
/// See [`MODEL_IDEAL`].
pub const MODEL_PCM: u32 = 1;
/// See [`MODEL_IDEAL`].
pub const MODEL_GENERIC: u32 = 2;
/// See [`MODEL_IDEAL`].
pub const MODEL_RERAM_WAN2022: u32 = 3;

/// Standard deviation (uS) of the Wan et al. 2022 ReRAM conductance at each of
/// [`WAN2022_TIMES_S`]: coefficients of 1, G/g_max, ..., (G/g_max)^4 (aihwkit's fit, used in
/// uS whatever g_max, as aihwkit does).
pub const WAN2022_COEFF: [[f32; 5]; 3] = [
    [0.348, 16.030, -43.853, 45.393, -16.815],
    [0.701, 22.086, -50.773, 47.095, -16.458],
    [0.782, 20.274, -43.507, 37.062, -11.934],
];

/// The Wan et al. 2022 standard deviation (uS) at target `g` after time index `time`.
#[inline]
pub fn wan2022_sigma(g: f32, g_max: f32, time: usize) -> f32 {
    let gh = g / g_max;
    let c = WAN2022_COEFF[time];
    c[0] + gh * (c[1] + gh * (c[2] + gh * (c[3] + gh * c[4])))
}

/// Device parameters of one programming pass, with the time-dependent factors evaluated
/// once on the host (in f64) so that both backends use the same values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceParams {
    /// `MODEL_*`.
    pub model: u32,
    /// g_max (uS).
    pub g_max: f32,
    /// Programming-noise factor.
    pub prog_noise_scale: f32,
    /// Read-noise factor.
    pub read_noise_scale: f32,
    /// Drift-exponent factor.
    pub drift_scale: f32,
    /// 1 when drift and read noise apply (t_inference > 0), else 0.
    pub drifts: u32,
    /// The Wan et al. 2022 ReRAM model's time index into [`WAN2022_TIMES_S`].
    pub reram_time: u32,
    /// ln((t + t0) / t0): the drift factor is exp(-nu * this).
    pub drift_log_time: f32,
    /// sqrt(max(0, ln((t + t_read) / (2 t_read)))): the read-noise time factor.
    pub read_time_factor: f32,
    /// Fraction of devices stuck at g_max.
    pub stuck_on: f32,
    /// Fraction of devices stuck at 0.
    pub stuck_off: f32,
    /// 1 for proportional generic noise, 0 for state-independent.
    pub generic_proportional: u32,
    /// Generic relative sigma.
    pub generic_sigma: f32,
}

impl DeviceParams {
    /// The parameters of a validated configuration.
    pub fn new(hw: &HwConfig) -> Self {
        let d = hw.device();
        let t = d.t_inference_s;
        let drifts = matches!(d.model, DeviceModel::Pcm | DeviceModel::ReramWan2022) && t > 0.0;
        DeviceParams {
            model: match d.model {
                DeviceModel::Ideal => MODEL_IDEAL,
                DeviceModel::Pcm => MODEL_PCM,
                DeviceModel::Generic => MODEL_GENERIC,
                DeviceModel::ReramWan2022 => MODEL_RERAM_WAN2022,
            },
            g_max: d.g_max_us,
            prog_noise_scale: d.prog_noise_scale,
            read_noise_scale: d.read_noise_scale,
            drift_scale: d.drift_scale,
            drifts: u32::from(drifts),
            // The configuration admits only the fitted times.
            reram_time: WAN2022_TIMES_S.iter().position(|&s| s == t).unwrap_or(0) as u32,
            drift_log_time: ((t + PCM_T0_S) / PCM_T0_S).ln() as f32,
            read_time_factor: ((t + PCM_T_READ_S) / (2.0 * PCM_T_READ_S))
                .ln()
                .max(0.0)
                .sqrt() as f32,
            stuck_on: d.stuck_on,
            stuck_off: d.stuck_off,
            generic_proportional: u32::from(d.generic_noise == GenericNoise::Proportional),
            generic_sigma: d.generic_sigma,
        }
    }
}

/// PCM programming-noise standard deviation (uS) at target `g` (Joshi et al. 2020).
#[inline]
pub fn pcm_prog_sigma(g: f32, g_max: f32) -> f32 {
    let gh = g / g_max;
    (PCM_PROG_COEFF[0] + PCM_PROG_COEFF[1] * gh + PCM_PROG_COEFF[2] * gh * gh)
        * (g_max / PCM_G_MAX_REFERENCE_US)
}

/// Mean and standard deviation of the PCM drift exponent at target `g`, before |.|.
#[inline]
pub fn pcm_drift_mu_sigma(g: f32, g_max: f32) -> (f32, f32) {
    let ln_gh = ln_poly((g / g_max).max(G_HAT_FLOOR));
    let mu = (-0.0155 * ln_gh + 0.0244).clamp(0.049, 0.1);
    let sigma = (-0.0125 * ln_gh - 0.0059).clamp(0.008, 0.045);
    (mu, sigma)
}

/// Relative 1/f read-noise amplitude Q of a device programmed to `g_prog`.
#[inline]
pub fn pcm_read_noise_q(g_prog: f32, g_max: f32) -> f32 {
    let gh = g_prog / g_max;
    let power = if gh > 0.0 {
        (0.65 * ln_poly(gh)).exp()
    } else {
        0.0
    };
    (0.0088 / power.max(1e-3)).min(0.2)
}

/// Programmed conductance of one device: target plus programming noise `z` ~ N(0,1),
/// floored at 0 (a device cannot hold a negative conductance).
#[inline]
pub fn program_device(p: &DeviceParams, target: f32, z: f32) -> f32 {
    let sigma = match p.model {
        MODEL_PCM => pcm_prog_sigma(target, p.g_max),
        MODEL_GENERIC if p.generic_proportional == 1 => p.generic_sigma * target,
        MODEL_GENERIC => p.generic_sigma * p.g_max,
        MODEL_RERAM_WAN2022 => wan2022_sigma(target, p.g_max, 0),
        _ => return target,
    };
    (target + p.prog_noise_scale * sigma * z).max(0.0)
}

/// Conductance at inference time: PCM drift with exponent |mu + sigma z_nu| and accumulated
/// read noise `z_read`; the Wan et al. 2022 ReRAM spread at that time around the target
/// (`z_nu` its draw); unchanged for other models or at t = 0.
#[inline]
pub fn drift_device(p: &DeviceParams, target: f32, g_prog: f32, z_nu: f32, z_read: f32) -> f32 {
    if p.drifts == 0 {
        return g_prog;
    }
    if p.model == MODEL_RERAM_WAN2022 {
        // The measured spread at that time around the target, drawn afresh.
        let sigma = wan2022_sigma(target, p.g_max, p.reram_time as usize);
        return (target + p.prog_noise_scale * sigma * z_nu).max(0.0);
    }
    if p.model != MODEL_PCM {
        return g_prog;
    }
    let (mu, sigma) = pcm_drift_mu_sigma(target, p.g_max);
    let nu = (mu + sigma * z_nu).abs() * p.drift_scale;
    let g_drift = g_prog * (-nu * p.drift_log_time).exp();
    let q = pcm_read_noise_q(g_prog, p.g_max);
    (g_drift + g_drift.abs() * q * p.read_time_factor * p.read_noise_scale * z_read).max(0.0)
}

/// Applies a stuck-at fault drawn as uniform `u`: below `stuck_off` the device reads 0,
/// below `stuck_off + stuck_on` it reads g_max, otherwise `g`.
#[inline]
pub fn apply_stuck(p: &DeviceParams, g: f32, u: f32) -> f32 {
    if u < p.stuck_off {
        0.0
    } else if u < p.stuck_off + p.stuck_on {
        p.g_max
    } else {
        g
    }
}

/// Quantizes a target conductance to `levels` evenly spaced levels in [0, g_max]
/// (0 = continuous).
#[inline]
pub fn quantize_conductance(g: f32, g_max: f32, levels: u32) -> f32 {
    if levels < 2 {
        return g;
    }
    let step = g_max / (levels - 1) as f32;
    (g / step).round_ties_even() * step
}
