//! The reward model's loss: the Bradley–Terry likelihood of the labeler's choices.

use anyhow::Result;
use candle_core::Tensor;

// ANCHOR: pairwise_loss
/// `L = mean( −log σ(r_chosen − r_rejected) )` over a batch of pairs (B,) and (B,).
///
/// The labeler chose with probability σ(u_a − u_b) (up to its temperature); maximising the
/// likelihood of its choices under the same model makes r a utility, up to a constant.
/// Computed stably as `−log σ(x) = max(−x, 0) + log(1 + e^{−|x|})` for `x = r_c − r_r`, no
/// overflow however far apart the scores, with `max(−x, 0)` written `(|x| − x)/2`: then
/// the two kinks at x = 0 cancel in the gradient whatever `|x|`'s derivative at 0 is
/// taken to be (written with `relu`, candle's conventions give −1 instead of −½ there).
pub fn pairwise_loss(r_chosen: &Tensor, r_rejected: &Tensor) -> Result<Tensor> {
    let x = (r_chosen - r_rejected)?;
    let abs = x.abs()?;
    let nll = (((&abs - &x)? * 0.5)? + (abs.neg()?.exp()? + 1.0)?.log()?)?;
    Ok(nll.mean_all()?)
}
// ANCHOR_END: pairwise_loss
