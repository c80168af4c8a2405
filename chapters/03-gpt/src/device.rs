//! Where the model runs, in which precision, and how much of the hardware it uses.
//!
//! - [`Compute`]: a device (`cpu`, `cuda`, `cuda:N`) and a precision: `f32` (on a GPU
//!   the matrix products then use TF32 tensor cores: 10 mantissa bits instead of 23, f32
//!   range and f32 accumulation), or `bf16` (matrix products in bfloat16, f32 master
//!   weights; see [`crate::Gpt::dtype`]).
//! - [`flops_per_token`] and [`mfu`]: model FLOPs utilisation, the fraction of the GPU's
//!   peak that the model's own arithmetic would need at the measured speed.

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

// ANCHOR: flops
/// Training FLOPs per token, forward and backward: `6N + 12·L·C·T`.
///
/// Each parameter of a matrix product costs 2 FLOPs per token forward (a multiply and an
/// add) and 4 backward (the gradients of its input and of itself): 6N, with N the
/// parameters that take part in products — all but the position embeddings (the token
/// embedding counts: it is the language-model head). Attention adds the two products
/// `QKᵀ` and `PV`, 2·C·T FLOPs each per token and layer forward: ×3 for the backward,
/// 12·L·C·T in all (T the sequence length; the causal mask's skipped half is counted, as
/// PaLM and nanoGPT count it).
pub fn flops_per_token(cfg: &crate::GptConfig, seq_len: usize) -> f64 {
    let n = crate::model::shapes(cfg)
        .iter()
        .filter(|(name, _)| name != "wpe.weight")
        .map(|(_, s)| s.iter().product::<usize>())
        .sum::<usize>() as f64;
    6.0 * n + 12.0 * (cfg.n_layer * cfg.n_embd * seq_len) as f64
}
// ANCHOR_END: flops

/// Peak dense FLOP/s of a GPU, from its name as `nvidia-smi` prints it, for a precision.
/// Known: H100 SXM and H200 (989 TFLOP/s bf16, 495 TF32, 67 f32), H100 PCIe (756, 378, 51),
/// A100 (312, 156, 19.5). `None` for anything else.
pub fn peak_flops(gpu_name: &str, precision: Precision) -> Option<f64> {
    let name = gpu_name.to_uppercase();
    let (bf16, tf32, f32) =
        if name.contains("H200") || (name.contains("H100") && !name.contains("PCIE")) {
            (989.4, 494.7, 66.9)
        } else if name.contains("H100") {
            (756.0, 378.0, 51.2)
        } else if name.contains("A100") {
            (312.0, 156.0, 19.5)
        } else {
            return None;
        };
    let t = match precision {
        Precision::Bf16 => bf16,
        Precision::F32 { tf32: true } => tf32,
        Precision::F32 { tf32: false } => f32,
    };
    Some(t * 1e12)
}

/// Model FLOPs utilisation: `flops_per_token × tokens/s ÷ peak`.
pub fn mfu(flops_per_token: f64, tokens_per_s: f64, peak: f64) -> f64 {
    flops_per_token * tokens_per_s / peak
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

/// Speed of one stage: tokens per second, and MFU where the GPU's peak is known.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Throughput {
    pub tokens_per_s: f64,
    /// FLOPs per token the MFU counts ([`flops_per_token`]).
    pub flops_per_token: f64,
    pub mfu: Option<f64>,
}

impl Throughput {
    /// `tokens_per_s` of training `cfg` on sequences of `seq_len`, on `compute`.
    pub fn training(
        cfg: &crate::GptConfig,
        seq_len: usize,
        tokens_per_s: f64,
        compute: &Compute,
    ) -> Throughput {
        let f = flops_per_token(cfg, seq_len);
        let peak = if compute.device.is_cpu() {
            None
        } else {
            gpu_name().and_then(|n| peak_flops(&n, compute.precision))
        };
        Throughput {
            tokens_per_s,
            flops_per_token: f,
            mfu: peak.map(|p| mfu(f, tokens_per_s, p)),
        }
    }

    /// `12,345 tokens/s` or `123,456 tokens/s, MFU 31.2%`.
    pub fn describe(&self) -> String {
        let mut s = format!("{:.0} tokens/s", self.tokens_per_s);
        if let Some(m) = self.mfu {
            s += &format!(", MFU {:.1}%", 100.0 * m);
        }
        s
    }
}
