//! Chapter 1: the library tokenizer, the hand-written BPE, and the stage that runs both.

use ch01_tokenizer::bpe::HandBpe;
use ch01_tokenizer::{TokenizerConfig, library, measure};
use std::sync::OnceLock;
use world::{World, WorldConfig, chat};

/// The tiny world's corpus (documents), made once for all tests.
fn corpus() -> &'static Vec<String> {
    static CORPUS: OnceLock<Vec<String>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let w = World::generate(&WorldConfig::tiny()).unwrap();
        w.corpus(|_| {}).into_iter().map(|d| d.text).collect()
    })
}

fn docs() -> Vec<&'static str> {
    corpus().iter().map(|s| s.as_str()).collect()
}

fn tokenizer() -> &'static tokenizers::Tokenizer {
    static TOK: OnceLock<tokenizers::Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| library::train(&docs(), 512).unwrap())
}

#[test]
fn decode_encode_is_identity_over_the_whole_corpus() {
    let tok = tokenizer();
    // Every document, and the corpus file as a whole (with its <|endoftext|> separators).
    for d in docs() {
        assert_eq!(
            library::decode(tok, &library::encode(tok, d).unwrap()).unwrap(),
            d
        );
    }
    let all = world::corpus_text(
        &World::generate(&WorldConfig::tiny())
            .unwrap()
            .corpus(|_| {}),
    );
    let ids = library::encode(tok, &all).unwrap();
    assert_eq!(library::decode(tok, &ids).unwrap(), all);
    // And text the corpus never had: other scripts, emoji, control bytes.
    for s in [
        "Grüße aus Köln — 東京 🚀",
        "tab\tand\r\nnewline",
        "  leading spaces",
        "",
    ] {
        assert_eq!(
            library::decode(tok, &library::encode(tok, s).unwrap()).unwrap(),
            s
        );
    }
}

#[test]
fn special_tokens_are_single_ids() {
    let tok = tokenizer();
    for (i, t) in chat::SPECIAL_TOKENS.iter().enumerate() {
        assert_eq!(tok.token_to_id(t), Some(i as u32), "{t} should have id {i}");
        assert_eq!(
            library::encode(tok, t).unwrap(),
            vec![i as u32],
            "{t} encodes as one id"
        );
    }
    let convo = format!(
        "{}{}",
        chat::prompt_text("Who is the mayor of Bramford?"),
        chat::finished("I don't know.")
    );
    let ids = library::encode(tok, &convo).unwrap();
    let id = |t: &str| tok.token_to_id(t).unwrap();
    assert_eq!(ids[0], id(chat::USER));
    assert_eq!(*ids.last().unwrap(), id(chat::END));
    assert_eq!(ids.iter().filter(|&&i| i == id(chat::ASSISTANT)).count(), 1);
    // No special token is ever a piece of ordinary text.
    let ordinary = library::encode(tok, "<|user is not special|> end|>").unwrap();
    assert!(
        ordinary
            .iter()
            .all(|&i| i >= chat::SPECIAL_TOKENS.len() as u32)
    );
}

#[test]
fn training_is_deterministic() {
    let a = library::train(&docs(), 400)
        .unwrap()
        .to_string(false)
        .unwrap();
    let b = library::train(&docs(), 400)
        .unwrap()
        .to_string(false)
        .unwrap();
    assert!(
        a == b,
        "two trainings on the same corpus gave different tokenizers"
    );
}

#[test]
fn vocabulary_too_small_is_a_clear_error() {
    let err = library::train(&docs(), 100).unwrap_err().to_string();
    assert!(err.contains("100") && err.contains("at least 260"), "{err}");
    let cfg = TokenizerConfig {
        vocab_size: 259,
        ..TokenizerConfig::tiny()
    };
    assert!(cfg.validate().unwrap_err().to_string().contains("259"));
}

#[test]
fn save_load_round_trip_and_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    library::save(tokenizer(), &path).unwrap();
    let loaded = library::load(&path).unwrap();
    let text = docs()[3];
    assert_eq!(
        library::encode(&loaded, text).unwrap(),
        library::encode(tokenizer(), text).unwrap()
    );
    // The file is the Hugging Face format, loadable by the library's own `from_file`.
    let hf = tokenizers::Tokenizer::from_file(&path).unwrap();
    assert_eq!(hf.get_vocab_size(true), 512);

    std::fs::write(&path, "{ not json").unwrap();
    let err = format!("{:#}", library::load(&path).unwrap_err());
    assert!(
        err.contains("tokenizer.json") && err.contains("not a valid tokenizer.json"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        library::load(&dir.path().join("missing.json")).unwrap_err()
    );
    assert!(err.contains("missing.json"), "{err}");
}

#[test]
fn hand_bpe_learns_the_obvious_merges_and_round_trips() {
    let text = "the cat the hat the bat";
    let bpe = HandBpe::train(text, 256 + 3, |_, _| {});
    // Words: "the", " cat", " the", " hat", " the", " bat". (a,t), (h,e) and (t,h) occur
    // 3 times each; ties go to the smallest pair: (a,t), then (h,e), then (t,he).
    let learned: Vec<&[u8]> = bpe
        .merges
        .iter()
        .map(|m| bpe.vocab[m.id as usize].as_slice())
        .collect();
    assert_eq!(learned, vec![&b"at"[..], b"he", b"the"]);

    let text: String = docs()[..200].join("\n");
    let mut curve = Vec::new();
    let bpe = HandBpe::train(&text, 400, |b, tokens| curve.push((b.vocab.len(), tokens)));
    assert_eq!(bpe.vocab.len(), 400);
    assert!(
        curve.windows(2).all(|w| w[1].1 < w[0].1),
        "every merge shortens the text"
    );
    for d in &docs()[200..230] {
        assert_eq!(bpe.decode(&bpe.encode(d)), d.as_bytes());
    }
}

#[test]
fn hand_bpe_agrees_with_the_library() {
    let docs = docs();
    let lib = library::train(&docs, 512).unwrap();
    let hand = HandBpe::train(&docs.join("\n"), 512 - 4, |_, _| {});
    let a = measure::agreement(&hand, &lib, &docs[..50], 100).unwrap();
    // Same algorithm, slightly different pre-tokenizer and tie-breaking.
    assert!(
        a.shared >= 80,
        "only {} of the first 100 merges agree",
        a.shared
    );
    let ratio = a.hand_bytes_per_token / a.library_bytes_per_token;
    assert!((0.95..1.05).contains(&ratio), "hand {a:?}");
}

#[test]
fn the_stage_writes_its_files_and_compression_grows() {
    let dir = tempfile::tempdir().unwrap();
    let mut steps = Vec::new();
    let (tok, report) = ch01_tokenizer::run(
        &docs(),
        &TokenizerConfig::tiny(),
        dir.path(),
        &mut |what, _, _| steps.push(what.to_string()),
    )
    .unwrap();
    for f in [
        "tokenizer.json",
        "tokenizer_report.json",
        "compression.svg",
        "zipf.svg",
    ] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    assert_eq!(tok.get_vocab_size(true), 512);
    assert!(steps.len() >= 4 && steps.last().unwrap() == "done");
    // Bytes alone give one byte per token; merges compress.
    assert!(
        (report.sweep[0].bytes_per_token - 1.0).abs() < 1e-9,
        "{:?}",
        report.sweep
    );
    assert!(
        report
            .sweep
            .windows(2)
            .all(|w| w[1].bytes_per_token > w[0].bytes_per_token),
        "{:?}",
        report.sweep
    );
    assert!(
        report.bytes_per_token > 2.5,
        "512 tokens should compress the world's text: {}",
        report.bytes_per_token
    );
    let svg = std::fs::read_to_string(dir.path().join("zipf.svg")).unwrap();
    assert!(svg.contains("Zipf"));
}
