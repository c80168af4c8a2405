//! How much of the hardware the model uses: [`flops_per_token`], a GPU's [`peak_flops`],
//! and [`mfu`], model FLOPs utilisation — the fraction of the GPU's peak that the model's own
//! arithmetic would need at the measured speed.

use crate::precision::{Compute, Precision, gpu_name};
use ch03_gpt::GptConfig;
use serde::Serialize;

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
pub fn flops_per_token(cfg: &GptConfig, seq_len: usize) -> f64 {
    let n = ch03_gpt::model::shapes(cfg)
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
        cfg: &GptConfig,
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
