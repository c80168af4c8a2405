//! # Your turn: the three functions at the heart of BPE
//!
//! Fill in each `todo!()`, then check your work with
//!
//! ```sh
//! cargo test -p ch01-tokenizer --features exercises --test exercises
//! ```
//!
//! The tests are the very ones that check the reference solutions in [`crate::bpe`]
//! (without the feature they run on those). Stuck? `chapters/01-tokenizer/HINTS.md` has a
//! hint per exercise; the solutions are in `src/bpe.rs`, between the `ANCHOR` lines.
#![allow(unused_variables)]

use std::collections::BTreeMap;

pub use crate::bpe::Merge;

/// Exercise 1.1 — count adjacent token pairs over `words`, each word weighted by its
/// frequency: `count(a, b) = Σ_words freq(word) · #{i : word[i] = a, word[i+1] = b}`.
///
/// `count_pairs(&[(vec![97, 97, 98], 2)])` is `{(97, 97): 2, (97, 98): 2}`.
pub fn count_pairs(words: &[(Vec<u32>, usize)]) -> BTreeMap<(u32, u32), usize> {
    // TODO: walk each word's adjacent pairs (hint: `windows(2)`) and add the word's frequency.
    todo!("exercise 1.1: count_pairs")
}

/// Exercise 1.2 — replace every occurrence of `pair` in `ids`, left to right and without
/// overlap, by `new_id`: `merge(&[1, 2, 2, 2], (2, 2), 9)` is `[1, 9, 2]`.
pub fn merge(ids: &[u32], pair: (u32, u32), new_id: u32) -> Vec<u32> {
    // TODO: scan with an index; on a match push `new_id` and skip two, else copy one.
    todo!("exercise 1.2: merge")
}

/// Exercise 1.3 — encode one word's bytes with a merge table: start from the bytes
/// (as `u32`) and apply every merge, in the order the merges were learned.
pub fn encode_word(bytes: &[u8], merges: &[Merge]) -> Vec<u32> {
    // TODO: you have `merge` (yours, from exercise 1.2) to apply one merge.
    todo!("exercise 1.3: encode_word")
}
