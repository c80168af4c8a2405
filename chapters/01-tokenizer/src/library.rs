//! The same algorithm with Hugging Face `tokenizers`: a byte-level BPE as GPT-2 uses,
//! with the chat template's special tokens as single ids, saved as `tokenizer.json`.
//!
//! Byte-level means the base alphabet is the 256 bytes (shown as printable characters:
//! a space is `Ġ`), so any text — any language, any typo — can be encoded, and
//! `decode(encode(x)) == x` for every x.

use anyhow::{Context, Result, anyhow, ensure};
use std::path::Path;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer, TokenizerBuilder, TokenizerImpl};
use tokenizers::{
    DecoderWrapper, ModelWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
};
use world::chat::SPECIAL_TOKENS;

/// Number of byte tokens every byte-level vocabulary starts with.
pub const BYTE_ALPHABET: usize = 256;

/// The smallest vocabulary that holds the byte alphabet and the special tokens.
pub const MIN_VOCAB: usize = BYTE_ALPHABET + SPECIAL_TOKENS.len();

/// Train a byte-level BPE with `vocab_size` tokens (special tokens and bytes included) on
/// `documents`. The special tokens of [`world::chat`] get ids 0, 1, 2, 3.
pub fn train(documents: &[&str], vocab_size: usize) -> Result<Tokenizer> {
    ensure!(
        vocab_size >= MIN_VOCAB,
        "vocabulary size {vocab_size} is too small: expected at least {MIN_VOCAB} \
         ({BYTE_ALPHABET} bytes + {} special tokens)",
        SPECIAL_TOKENS.len()
    );
    ensure!(
        !documents.is_empty(),
        "cannot train a tokenizer on an empty corpus"
    );
    // ANCHOR: library_train
    let specials = SPECIAL_TOKENS
        .iter()
        .map(|t| AddedToken::from(t.to_string(), true))
        .collect();
    let mut trainer = BpeTrainerBuilder::new()
        .show_progress(false)
        .vocab_size(vocab_size)
        .min_frequency(0)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    // As GPT-2: no prefix space (so decoding gives back the text exactly), GPT-2's regex.
    let byte_level = ByteLevel::new(false, false, true);
    let mut tok: TokenizerImpl<BPE, NormalizerWrapper, ByteLevel, ByteLevel, ByteLevel> =
        TokenizerBuilder::new()
            .with_model(BPE::default())
            .with_normalizer(None)
            .with_pre_tokenizer(Some(byte_level))
            .with_post_processor(Some(byte_level))
            .with_decoder(Some(byte_level))
            .build()
            .map_err(|e| anyhow!("cannot build tokenizer: {e}"))?;
    tok.train(&mut trainer, documents.iter())
        .map_err(|e| anyhow!("tokenizer training failed: {e}"))?;
    // ANCHOR_END: library_train
    // Re-read through the general `Tokenizer` type that `from_file` also gives.
    let json = tok
        .to_string(false)
        .map_err(|e| anyhow!("cannot serialise tokenizer: {e}"))?;
    from_json(&json, "trained tokenizer")
}

/// Parse a `tokenizer.json`; `what` names the input in errors.
fn from_json(json: &str, what: &str) -> Result<Tokenizer> {
    let tok: TokenizerImpl<
        ModelWrapper,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    > = serde_json::from_str(json)
        .map_err(|e| anyhow!("{what} is not a valid tokenizer.json: {e}"))?;
    Ok(Tokenizer::from(tok))
}

/// Token ids of `documents`, each followed by `<|endoftext|>` ([`world::chat::ENDOFTEXT_ID`]):
/// the stream the language models pretrain on.
pub fn encode_documents<S: AsRef<str>>(tok: &Tokenizer, documents: &[S]) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    for d in documents {
        ids.extend(encode(tok, d.as_ref())?);
        ids.push(world::chat::ENDOFTEXT_ID);
    }
    Ok(ids)
}

/// Save as `tokenizer.json` (the Hugging Face format), atomically.
pub fn save(tok: &Tokenizer, path: &Path) -> Result<()> {
    let json = tok
        .to_string(true)
        .map_err(|e| anyhow!("cannot serialise tokenizer: {e}"))?;
    files::write_string_atomic(path, &json)
}

/// Save into a model directory as Hugging Face tools expect it: `tokenizer.json` and
/// `tokenizer_config.json` (the tokenizer class, the special tokens and the chat template of
/// [`world::chat::CHAT_TEMPLATE`]), so that `AutoTokenizer.from_pretrained(dir)` loads it
/// and `apply_chat_template` gives the ids chapter 4 trains on.
pub fn save_in_model_dir(tok: &Tokenizer, dir: &Path) -> Result<()> {
    save(tok, &dir.join("tokenizer.json"))?;
    files::write_string_atomic(
        &dir.join("tokenizer_config.json"),
        &serde_json::to_string_pretty(&world::chat::tokenizer_config())?,
    )
}

/// Load a `tokenizer.json`, with an error that names the file.
pub fn load(path: &Path) -> Result<Tokenizer> {
    let json = files::read_string(path, "tokenizer")?;
    from_json(&json, &format!("tokenizer `{}`", path.display()))
}

/// Token ids of `text` (special tokens in the text become their single ids).
pub fn encode(tok: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    Ok(tok
        .encode(text, false)
        .map_err(|e| anyhow!("cannot encode: {e}"))?
        .get_ids()
        .to_vec())
}

/// The text of `ids`, special tokens included.
pub fn decode(tok: &Tokenizer, ids: &[u32]) -> Result<String> {
    tok.decode(ids, false)
        .map_err(|e| anyhow!("cannot decode: {e}"))
}

/// The merges the library learned, in order, as byte strings: the i-th entry says that
/// tokens `a` and `b` (their bytes) were merged i-th.
pub fn merges(tok: &Tokenizer) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let json: serde_json::Value =
        serde_json::from_str(&tok.to_string(false).map_err(|e| anyhow!("{e}"))?)
            .context("tokenizer json")?;
    let list = json["model"]["merges"]
        .as_array()
        .context("tokenizer.json has no model.merges")?;
    list.iter()
        .map(|m| {
            let (a, b) = match m {
                serde_json::Value::String(s) => {
                    s.split_once(' ').context("merge without a space")?
                }
                serde_json::Value::Array(v) => (
                    v.first().and_then(|x| x.as_str()).context("bad merge")?,
                    v.get(1).and_then(|x| x.as_str()).context("bad merge")?,
                ),
                _ => anyhow::bail!("unexpected merge entry {m}"),
            };
            Ok((unbyte(a)?, unbyte(b)?))
        })
        .collect()
}

/// GPT-2's byte → printable character map: printable bytes map to themselves, the others
/// (space, control bytes, ...) to characters from 256 upwards (space → `Ġ`).
pub fn bytes_to_chars() -> [char; 256] {
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut map = ['\0'; 256];
    let mut next = 256;
    for b in 0..256u32 {
        map[b as usize] = if printable(b) {
            char::from_u32(b).unwrap()
        } else {
            next += 1;
            char::from_u32(next - 1).unwrap()
        };
    }
    map
}

/// The bytes behind a byte-level token string.
pub fn unbyte(token: &str) -> Result<Vec<u8>> {
    let map = bytes_to_chars();
    token
        .chars()
        .map(|c| {
            map.iter()
                .position(|&m| m == c)
                .map(|b| b as u8)
                .with_context(|| format!("`{c}` is not a byte-level character"))
        })
        .collect()
}
