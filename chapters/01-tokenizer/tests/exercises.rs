//! The chapter's exercises. Without features these check the reference solutions; with
//! `--features exercises` they check yours (src/exercises.rs). One test per exercise.

use ch01_tokenizer::bpe::{self, Merge};
use ch01_tokenizer::ex;
use world::rand::Rng;
use world::rng;

/// Random words of small token ids, so that pairs repeat.
fn random_words(seed: u64) -> Vec<(Vec<u32>, usize)> {
    let mut r = rng(seed, 0);
    (0..50)
        .map(|_| {
            (
                (0..r.random_range(0..8))
                    .map(|_| r.random_range(0..4))
                    .collect(),
                r.random_range(1..5),
            )
        })
        .collect()
}

#[test]
fn exercise_1_1_count_pairs() {
    // "aaab" twice and "ab" once: (a,a) 2·2 = 4, (a,b) 2·1 + 1 = 3.
    let (a, b) = (u32::from(b'a'), u32::from(b'b'));
    let counts = ex::count_pairs(&[(vec![a, a, a, b], 2), (vec![a, b], 1)]);
    assert_eq!(counts.len(), 2);
    assert_eq!(counts[&(a, a)], 4);
    assert_eq!(counts[&(a, b)], 3);
    assert!(
        ex::count_pairs(&[(vec![a], 7), (vec![], 1)]).is_empty(),
        "one token has no pair"
    );
    for seed in 0..20 {
        let words = random_words(seed);
        assert_eq!(
            ex::count_pairs(&words),
            bpe::count_pairs(&words),
            "words {words:?}"
        );
    }
}

#[test]
fn exercise_1_2_merge() {
    assert_eq!(ex::merge(&[1, 2, 2, 2], (2, 2), 9), vec![1, 9, 2]);
    assert_eq!(ex::merge(&[2, 2, 2, 2], (2, 2), 9), vec![9, 9]);
    assert_eq!(ex::merge(&[1, 2, 3], (3, 1), 9), vec![1, 2, 3]);
    assert_eq!(ex::merge(&[1, 2, 1, 2], (1, 2), 9), vec![9, 9]);
    assert_eq!(ex::merge(&[], (3, 1), 9), Vec::<u32>::new());
    for seed in 0..20 {
        for (ids, _) in random_words(seed) {
            assert_eq!(
                ex::merge(&ids, (1, 2), 7),
                bpe::merge(&ids, (1, 2), 7),
                "ids {ids:?}"
            );
        }
    }
}

#[test]
fn exercise_1_3_encode_word() {
    let (a, b) = (u32::from(b'a'), u32::from(b'b'));
    // Merges are applied in the order learned: (a,a)→256, then (256,b)→257.
    let merges = [
        Merge {
            pair: (a, a),
            id: 256,
        },
        Merge {
            pair: (256, b),
            id: 257,
        },
    ];
    // "aaab": (a,a) merges left to right → [256, a, b]; (256, b) is then nowhere.
    assert_eq!(ex::encode_word(b"aaab", &merges), vec![256, a, b]);
    assert_eq!(ex::encode_word(b"aab", &merges), vec![257]);
    assert_eq!(ex::encode_word(b"ba", &merges), vec![b, a]);
    assert_eq!(ex::encode_word(b"", &merges), Vec::<u32>::new());
    // On a real merge table: the same tokens as the reference, and they decode back.
    let text = "the flag of Bramford is green and the river Sel flows through Bramford";
    let hand = bpe::HandBpe::train(text, 256 + 20, |_, _| {});
    for word in bpe::pretokenize(text) {
        let ids = ex::encode_word(word.as_bytes(), &hand.merges);
        assert_eq!(
            ids,
            bpe::encode_word(word.as_bytes(), &hand.merges),
            "word {word:?}"
        );
        assert_eq!(hand.decode(&ids), word.as_bytes());
    }
}
