//! Where the model runs and in which precision.
//!
//! - [`Compute`]: a device (`cpu`, `cuda`, `cuda:N`) and a [`Precision`]: `f32` (on a GPU
//!   the matrix products then use TF32 tensor cores: 10 mantissa bits instead of 23, f32
//!   range and f32 accumulation), or `bf16` (matrix products in bfloat16, f32 master
//!   weights; see [`ch03_gpt::Gpt::dtype`]).

use anyhow::{Result, bail, ensure};
use candle_core::{DType, Device};
use serde::Serialize;
/// Arithmetic of the matrix products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Precision {
    /// f32 everywhere; on CUDA, matrix products in TF32 unless `tf32` is off.
    F32 { tf32: bool },
    /// bf16 matrix products, f32 master weights, f32 layer norms, softmax and logits.
    Bf16,
}

impl Precision {
    /// `f32` (TF32 matmuls on a GPU), `f32-strict` (no TF32) or `bf16`.
    pub fn parse(name: &str) -> Result<Precision> {
        match name {
            "f32" => Ok(Precision::F32 { tf32: true }),
            "f32-strict" => Ok(Precision::F32 { tf32: false }),
            "bf16" => Ok(Precision::Bf16),
            _ => bail!("precision `{name}`: expected `f32`, `f32-strict` or `bf16`"),
        }
    }

    /// The model's compute type.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 { .. } => DType::F32,
            Precision::Bf16 => DType::BF16,
        }
    }
}

/// A device and a precision.
#[derive(Clone, Debug)]
pub struct Compute {
    pub device: Device,
    pub precision: Precision,
}

impl Compute {
    pub const CPU: Compute = Compute {
        device: Device::Cpu,
        precision: Precision::F32 { tf32: true },
    };

    // ANCHOR: compute
    /// `cpu`, `cuda` or `cuda:N`, with a precision from [`Precision::parse`]. On CUDA this
    /// also sets candle's process-wide switch for TF32 matrix products.
    pub fn new(device: &str, precision: &str) -> Result<Compute> {
        let precision = Precision::parse(precision)?;
        let device = match device {
            "cpu" => Device::Cpu,
            d if d == "cuda" || d.starts_with("cuda:") => {
                let ordinal: usize = match d.strip_prefix("cuda:") {
                    Some(n) => n.parse().map_err(|_| {
                        anyhow::anyhow!("device `{d}`: expected cuda:N with N a number")
                    })?,
                    None => 0,
                };
                ensure!(
                    candle_core::utils::cuda_is_available(),
                    "device `{d}`: this binary was built without CUDA; \
                     build one with scripts/cuda-build.sh"
                );
                let dev = Device::new_cuda(ordinal)
                    .map_err(|e| anyhow::anyhow!("device `{d}`: cannot open the GPU: {e}"))?;
                if let Precision::F32 { tf32 } = precision {
                    candle_core::cuda::set_gemm_reduced_precision_f32(tf32);
                }
                dev
            }
            _ => bail!("device `{device}`: expected `cpu`, `cuda` or `cuda:N`"),
        };
        Ok(Compute { device, precision })
    }
    // ANCHOR_END: compute

    /// A short description: `cpu f32`, `cuda TF32`, `cuda bf16`.
    pub fn describe(&self) -> String {
        let dev = if self.device.is_cpu() { "cpu" } else { "cuda" };
        let p = match self.precision {
            Precision::F32 { tf32: true } if !self.device.is_cpu() => "TF32",
            Precision::F32 { .. } => "f32",
            Precision::Bf16 => "bf16",
        };
        format!("{dev} {p}")
    }
}

/// The first GPU's name, asked of `nvidia-smi` (None without one).
pub fn gpu_name() -> Option<String> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()?;
    let name = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()?
        .trim()
        .to_string();
    (out.status.success() && !name.is_empty()).then_some(name)
}
