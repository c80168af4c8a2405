//! From demonstrations to padded batches: the chat template, token ids, and which
//! positions the loss counts.

use crate::loss::loss_mask;
use anyhow::{Result, ensure};
use candle_core::{Device, Tensor};
use ch01_tokenizer::library::encode;
use ch01_tokenizer::tokenizers::Tokenizer;
use world::demos::Demonstration;

/// One tokenized demonstration: the prompt in the chat template
/// (`<|user|>{question}\n<|assistant|>`) and the response written after it (ending with
/// `<|end|>`).
#[derive(Clone, Debug, PartialEq)]
pub struct Example {
    pub prompt: Vec<u32>,
    pub response: Vec<u32>,
    /// Which demonstration it came from (its index in the list given to [`examples`]).
    pub demo: usize,
}

impl Example {
    pub fn len(&self) -> usize {
        self.prompt.len() + self.response.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Tokenize demonstrations, keeping those that fit in `context` tokens; returns the
/// examples and how many were too long. The prompt and the response are encoded apart:
/// `<|assistant|>` is a special token, so no merge crosses the boundary and the ids are
/// the same as encoding the whole text.
pub fn examples(
    tok: &Tokenizer,
    demos: &[Demonstration],
    context: usize,
) -> Result<(Vec<Example>, usize)> {
    let mut out = Vec::with_capacity(demos.len());
    let mut too_long = 0;
    for (demo, d) in demos.iter().enumerate() {
        let e = Example {
            prompt: encode(tok, &d.prompt.chat())?,
            response: encode(tok, &d.response)?,
            demo,
        };
        ensure!(
            !e.prompt.is_empty() && !e.response.is_empty(),
            "demonstration for `{}` encodes to nothing",
            d.prompt.text
        );
        if e.len() <= context {
            out.push(e);
        } else {
            too_long += 1;
        }
    }
    Ok((out, too_long))
}

/// A right-padded batch for next-token training, all (B, W − 1) where W is the longest
/// example: `inputs` are tokens 0..W−1 of each sequence, `targets` tokens 1..W, the
/// `attention_mask` 1 on real input tokens, and `weights` 1 where the target is a response
/// token (the `<|end|>` included), 0 on prompt and padding.
pub struct Batch {
    pub inputs: Tensor,
    pub targets: Tensor,
    pub attention_mask: Tensor,
    pub weights: Tensor,
}

/// Collate `examples` into a [`Batch`]; padding uses [`world::chat::PAD_ID`], which the
/// mask hides.
pub fn collate(examples: &[&Example], dev: &Device) -> Result<Batch> {
    ensure!(!examples.is_empty(), "cannot collate an empty batch");
    let w = examples.iter().map(|e| e.len()).max().unwrap();
    ensure!(w >= 2, "examples must have at least two tokens");
    let (mut inputs, mut targets, mut mask, mut weights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for e in examples {
        let mut ids = [e.prompt.as_slice(), e.response.as_slice()].concat();
        let real = ids.len();
        ids.resize(w, world::chat::PAD_ID);
        inputs.extend_from_slice(&ids[..w - 1]);
        targets.extend_from_slice(&ids[1..]);
        mask.extend((0..w - 1).map(|i| u32::from(i < real)));
        weights.extend(loss_mask(e.prompt.len(), e.response.len(), w - 1));
    }
    let shape = (examples.len(), w - 1);
    Ok(Batch {
        inputs: Tensor::from_vec(inputs, shape, dev)?,
        targets: Tensor::from_vec(targets, shape, dev)?,
        attention_mask: Tensor::from_vec(mask, shape, dev)?,
        weights: Tensor::from_vec(weights, shape, dev)?,
    })
}
