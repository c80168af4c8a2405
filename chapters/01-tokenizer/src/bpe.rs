//! Byte-pair encoding by hand.
//!
//! A model reads integers, not text. Byte-level BPE starts from the 256 byte values and
//! repeatedly *merges* the most frequent adjacent pair of tokens into a new token:
//!
//! ```text
//! repeat until the vocabulary has V tokens:
//!     (a, b) = argmax over adjacent pairs of count(a, b)       // count_pairs
//!     new id  n = 256 + number of merges so far
//!     replace every (a, b) by n in the training words            // merge
//! ```
//!
//! Encoding a new text applies the learned merges in the order they were learned
//! (`encode`); decoding concatenates the bytes each token stands for (`decode`).
//! Words are counted once with their frequency, so a merge costs time in the number of
//! *distinct* words, not the corpus length.

use std::collections::BTreeMap;

/// One learned merge: tokens `pair.0` and `pair.1` become token `id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Merge {
    pub pair: (u32, u32),
    pub id: u32,
}

/// A trained hand-written BPE: the merges in the order they were learned, and the bytes
/// each token id stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct HandBpe {
    pub merges: Vec<Merge>,
    /// `vocab[id]` = the bytes of token `id` (ids 0..256 are the single bytes).
    pub vocab: Vec<Vec<u8>>,
}

/// Split text into "words" before BPE, as GPT-2 does, so merges never cross a word
/// boundary: a word is an optional leading space followed by a run of letters, a run of
/// digits, or a run of other symbols; English contractions ('s, 't, 're, 've, 'm, 'll, 'd)
/// stand alone; whitespace not followed by a word stays by itself.
pub fn pretokenize(text: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Letter,
        Digit,
        Space,
        Other,
    }
    let class = |c: char| {
        if c.is_alphabetic() {
            Class::Letter
        } else if c.is_numeric() {
            Class::Digit
        } else if c.is_whitespace() {
            Class::Space
        } else {
            Class::Other
        }
    };
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let end_of = |i: usize| chars.get(i).map_or(text.len(), |c| c.0);
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let start = chars[i].0;
        // Contractions.
        if chars[i].1 == '\'' {
            let rest = &text[start..];
            if let Some(c) = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
                .iter()
                .find(|c| rest.starts_with(**c))
            {
                out.push(&rest[..c.len()]);
                i += c.chars().count();
                continue;
            }
        }
        let mut j = i;
        if class(chars[i].1) == Class::Space {
            while j < chars.len() && class(chars[j].1) == Class::Space {
                j += 1;
            }
            // A single ' ' before a word belongs to that word.
            if j < chars.len() && chars[j - 1].1 == ' ' {
                if j - 1 > i {
                    out.push(&text[start..end_of(j - 1)]);
                }
                i = j - 1;
                let c = class(chars[j].1);
                j += 1;
                while j < chars.len()
                    && class(chars[j].1) == c
                    && !(c == Class::Other && chars[j].1 == '\'')
                {
                    j += 1;
                }
                out.push(&text[chars[i].0..end_of(j)]);
                i = j;
                continue;
            }
            out.push(&text[start..end_of(j)]);
            i = j;
            continue;
        }
        let c = class(chars[i].1);
        j += 1;
        while j < chars.len()
            && class(chars[j].1) == c
            && !(c == Class::Other && chars[j].1 == '\'')
        {
            j += 1;
        }
        out.push(&text[start..end_of(j)]);
        i = j;
    }
    out
}

// ANCHOR: count_pairs
/// Count adjacent token pairs over `words`, each word weighted by its frequency:
/// `count(a, b) = Σ_words freq(word) · #{i : word[i] = a, word[i+1] = b}`.
pub fn count_pairs(words: &[(Vec<u32>, usize)]) -> BTreeMap<(u32, u32), usize> {
    let mut counts = BTreeMap::new();
    for (ids, freq) in words {
        for w in ids.windows(2) {
            *counts.entry((w[0], w[1])).or_insert(0) += freq;
        }
    }
    counts
}
// ANCHOR_END: count_pairs

// ANCHOR: merge
/// Replace every occurrence of `pair` in `ids`, left to right and without overlap, by
/// `new_id`: `merge([1, 2, 2, 2], (2, 2), 9) == [1, 9, 2]`.
pub fn merge(ids: &[u32], pair: (u32, u32), new_id: u32) -> Vec<u32> {
    let mut out = Vec::with_capacity(ids.len());
    let mut i = 0;
    while i < ids.len() {
        if i + 1 < ids.len() && (ids[i], ids[i + 1]) == pair {
            out.push(new_id);
            i += 2;
        } else {
            out.push(ids[i]);
            i += 1;
        }
    }
    out
}
// ANCHOR_END: merge

/// The most frequent pair; ties go to the smallest pair, so training is deterministic.
fn best_pair(counts: &BTreeMap<(u32, u32), usize>) -> Option<((u32, u32), usize)> {
    counts.iter().fold(None, |best, (&p, &n)| match best {
        Some((_, m)) if m >= n => best,
        _ => Some((p, n)),
    })
}

impl HandBpe {
    /// Learn merges from `text` until the vocabulary has `vocab_size` tokens (or no pair
    /// occurs twice). After each merge, `on_merge(bpe, tokens)` is told the number of
    /// tokens the training text now takes: the compression curve.
    pub fn train(
        text: &str,
        vocab_size: usize,
        mut on_merge: impl FnMut(&HandBpe, usize),
    ) -> HandBpe {
        let mut freq: BTreeMap<&str, usize> = BTreeMap::new();
        for w in pretokenize(text) {
            *freq.entry(w).or_insert(0) += 1;
        }
        let mut words: Vec<(Vec<u32>, usize)> = freq
            .into_iter()
            .map(|(w, n)| (w.bytes().map(u32::from).collect(), n))
            .collect();
        let mut bpe = HandBpe {
            merges: Vec::new(),
            vocab: (0..=255u8).map(|b| vec![b]).collect(),
        };
        // ANCHOR: train_loop
        while bpe.vocab.len() < vocab_size {
            let Some((pair, n)) = best_pair(&count_pairs(&words)) else {
                break;
            };
            if n < 2 {
                break;
            }
            let id = bpe.vocab.len() as u32;
            for (ids, _) in words.iter_mut() {
                if ids.len() > 1 {
                    *ids = merge(ids, pair, id);
                }
            }
            let mut bytes = bpe.vocab[pair.0 as usize].clone();
            bytes.extend_from_slice(&bpe.vocab[pair.1 as usize]);
            bpe.vocab.push(bytes);
            bpe.merges.push(Merge { pair, id });
            on_merge(&bpe, words.iter().map(|(ids, n)| ids.len() * n).sum());
        }
        // ANCHOR_END: train_loop
        bpe
    }

    /// Encode `text`: pre-tokenize, then encode each word with the merge table (each
    /// distinct word once).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut cache: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
        let mut out = Vec::new();
        for w in pretokenize(text) {
            out.extend_from_slice(
                cache
                    .entry(w)
                    .or_insert_with(|| encode_word(w.as_bytes(), &self.merges)),
            );
        }
        out
    }

    /// The bytes the tokens stand for.
    pub fn decode(&self, ids: &[u32]) -> Vec<u8> {
        ids.iter()
            .flat_map(|&i| self.vocab[i as usize].iter().copied())
            .collect()
    }
}

// ANCHOR: encode_word
/// Encode one word's bytes with a merge table: start from the bytes and apply every merge,
/// in the order the merges were learned — exactly what training did to the word.
pub fn encode_word(bytes: &[u8], merges: &[Merge]) -> Vec<u32> {
    let mut ids: Vec<u32> = bytes.iter().map(|&b| u32::from(b)).collect();
    for m in merges {
        if ids.len() < 2 {
            break;
        }
        ids = merge(&ids, m.pair, m.id);
    }
    ids
}
// ANCHOR_END: encode_word

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretokenize_keeps_every_byte_and_splits_like_gpt2() {
        let text = "Hello world, it's 2026!\n\n  Bye  now";
        let words = pretokenize(text);
        assert_eq!(words.concat(), text);
        assert_eq!(
            words,
            vec![
                "Hello", " world", ",", " it", "'s", " 2026", "!", "\n\n ", " Bye", " ", " now"
            ]
        );
    }
}
