//! What a tokenizer does to the corpus, in numbers: compression (bytes per token),
//! how token frequencies fall with rank (Zipf's law), and how the hand-written BPE
//! compares with the library's.

use crate::bpe::HandBpe;
use crate::library;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use tokenizers::Tokenizer;

/// Compression: UTF-8 bytes of `texts` per token the tokenizer makes of them.
/// Higher is better: a model with a context of T tokens then sees more text.
pub fn bytes_per_token(tok: &Tokenizer, texts: &[&str]) -> Result<f64> {
    let (mut bytes, mut tokens) = (0usize, 0usize);
    for t in texts {
        bytes += t.len();
        tokens += library::encode(tok, t)?.len();
    }
    Ok(bytes as f64 / tokens.max(1) as f64)
}

/// How often each token id occurs in `texts`, most frequent first: `(id, count)`.
pub fn token_frequencies(tok: &Tokenizer, texts: &[&str]) -> Result<Vec<(u32, usize)>> {
    let mut counts = vec![0usize; tok.get_vocab_size(true)];
    for t in texts {
        for id in library::encode(tok, t)? {
            counts[id as usize] += 1;
        }
    }
    let mut freq: Vec<(u32, usize)> = counts
        .into_iter()
        .enumerate()
        .filter(|(_, n)| *n > 0)
        .map(|(i, n)| (i as u32, n))
        .collect();
    freq.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(freq)
}

/// How far the hand-written BPE and the library agree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    /// The first `k` merges of each were compared.
    pub k: usize,
    /// How many of the library's first `k` merges (as byte pairs) are among the hand
    /// BPE's first `k`.
    pub shared: usize,
    /// Held-out bytes per token of each, at the same vocabulary size.
    pub hand_bytes_per_token: f64,
    pub library_bytes_per_token: f64,
}

/// Compare the first `k` merges and the held-out compression of both tokenizers.
pub fn agreement(hand: &HandBpe, lib: &Tokenizer, heldout: &[&str], k: usize) -> Result<Agreement> {
    let lib_merges = library::merges(lib)?;
    let hand_merges: Vec<(Vec<u8>, Vec<u8>)> = hand
        .merges
        .iter()
        .map(|m| {
            (
                hand.vocab[m.pair.0 as usize].clone(),
                hand.vocab[m.pair.1 as usize].clone(),
            )
        })
        .collect();
    let k = k.min(lib_merges.len()).min(hand_merges.len());
    let shared = lib_merges[..k]
        .iter()
        .filter(|m| hand_merges[..k].contains(m))
        .count();
    let (mut bytes, mut tokens) = (0usize, 0usize);
    for t in heldout {
        bytes += t.len();
        tokens += hand.encode(t).len();
    }
    Ok(Agreement {
        k,
        shared,
        hand_bytes_per_token: bytes as f64 / tokens.max(1) as f64,
        library_bytes_per_token: bytes_per_token(lib, heldout)?,
    })
}

/// A text cut into its tokens, as strings, to show what the tokenizer sees.
pub fn pieces(tok: &Tokenizer, text: &str) -> Result<Vec<String>> {
    let ids = library::encode(tok, text)?;
    ids.iter().map(|&i| library::decode(tok, &[i])).collect()
}
