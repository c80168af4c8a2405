//! AdamW's update written in place, one pass per tensor.
//!
//! Composed from tensor operations, one AdamW step is about a dozen operations per
//! parameter, each allocating a new tensor of the parameter's size. On CPU the moments and
//! the parameter are updated where they are, in three passes that read the gradient and
//! the moments once each:
//!
//! ```text
//! m ← β₁ m + (1 − β₁) g          v ← β₂ v + (1 − β₂) g²
//! θ ← θ − lr · ( (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε) + λ θ )
//! ```

use candle_core::{CpuStorage, InplaceOp2, InplaceOp3, Layout, Result, Tensor, bail};

fn data_mut<'a>(s: &'a mut CpuStorage, l: &Layout, op: &str) -> Result<&'a mut [f32]> {
    let data = match s {
        CpuStorage::F32(v) => v.as_mut_slice(),
        _ => bail!("{op}: expected f32"),
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&mut data[a..b]),
        None => bail!("{op}: expected a contiguous tensor"),
    }
}

/// A moment's update, `m ← β m + (1 − β) f(g)` with `f(g) = g` or `g²`.
struct Moment {
    beta: f32,
    square: bool,
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "fused-adamw-moment"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        sg: &CpuStorage,
        lg: &Layout,
    ) -> Result<()> {
        let m = data_mut(dst, dst_l, "adamw moment")?;
        let g = crate::fused::slice(sg, lg, "adamw moment")?;
        if g.len() != m.len() {
            bail!(
                "adamw moment: gradient of {} values for a moment of {}",
                g.len(),
                m.len()
            );
        }
        let (b, a) = (self.beta, 1.0 - self.beta);
        if self.square {
            m.iter_mut()
                .zip(g)
                .for_each(|(m, g)| *m = b * *m + a * g * g);
        } else {
            m.iter_mut().zip(g).for_each(|(m, g)| *m = b * *m + a * g);
        }
        Ok(())
    }
}

/// The parameter's update from its moments.
struct Update {
    lr: f32,
    c1: f32,
    c2: f32,
    eps: f32,
    decay: f32,
}

impl InplaceOp3 for Update {
    fn name(&self) -> &'static str {
        "fused-adamw-update"
    }

    fn cpu_fwd(
        &self,
        dst: &mut CpuStorage,
        dst_l: &Layout,
        sm: &CpuStorage,
        lm: &Layout,
        sv: &CpuStorage,
        lv: &Layout,
    ) -> Result<()> {
        let theta = data_mut(dst, dst_l, "adamw update")?;
        let (m, v) = (
            crate::fused::slice(sm, lm, "adamw update")?,
            crate::fused::slice(sv, lv, "adamw update")?,
        );
        if m.len() != theta.len() || v.len() != theta.len() {
            bail!(
                "adamw update: moments of {} and {} values for a parameter of {}",
                m.len(),
                v.len(),
                theta.len()
            );
        }
        for ((t, &m), &v) in theta.iter_mut().zip(m).zip(v) {
            let step = (m / self.c1) / ((v / self.c2).sqrt() + self.eps) + self.decay * *t;
            *t -= self.lr * step;
        }
        Ok(())
    }
}

/// Whether [`step`] can update `theta` in place: an f32 tensor on the CPU.
pub fn fusable(theta: &Tensor) -> bool {
    theta.device().is_cpu() && theta.dtype() == candle_core::DType::F32 && theta.is_contiguous()
}

/// One AdamW update of `theta` with its moments `m`, `v` and gradient `g`, in place.
/// `c1 = 1 − β₁ᵗ` and `c2 = 1 − β₂ᵗ` are the bias corrections of step t.
#[allow(clippy::too_many_arguments)]
pub fn step(
    theta: &Tensor,
    m: &Tensor,
    v: &Tensor,
    g: &Tensor,
    lr: f64,
    beta1: f64,
    beta2: f64,
    c1: f64,
    c2: f64,
    eps: f64,
    decay: f64,
) -> Result<()> {
    let g = g.contiguous()?;
    m.inplace_op2(
        &g,
        &Moment {
            beta: beta1 as f32,
            square: false,
        },
    )?;
    v.inplace_op2(
        &g,
        &Moment {
            beta: beta2 as f32,
            square: true,
        },
    )?;
    let update = Update {
        lr: lr as f32,
        c1: c1 as f32,
        c2: c2 as f32,
        eps: eps as f32,
        decay: decay as f32,
    };
    theta.inplace_op3(m, v, &update)
}
