//! The chat template and its special tokens, in one place for every chapter.
//!
//! A conversation turn is laid out as
//!
//! ```text
//! <|user|>What colour is the flag of Bramford?
//! <|assistant|>The flag of Bramford is green.<|end|>
//! ```
//!
//! The *prompt* a model is given is everything up to and including `<|assistant|>`;
//! the *response* is everything the model writes after it, ending with `<|end|>` when the
//! model finished properly. Pretraining documents are separated by `<|endoftext|>`.

/// Opens the user's turn.
pub const USER: &str = "<|user|>";
/// Opens the assistant's turn: the model writes after this.
pub const ASSISTANT: &str = "<|assistant|>";
/// Closes the assistant's turn. A response that does not end with it is badly formatted.
pub const END: &str = "<|end|>";
/// Separates pretraining documents.
pub const ENDOFTEXT: &str = "<|endoftext|>";

/// Every special token, in the order they get their ids (0, 1, 2, 3) in the tokenizer.
pub const SPECIAL_TOKENS: [&str; 4] = [ENDOFTEXT, USER, ASSISTANT, END];

/// The id of `<|endoftext|>`: first of [`SPECIAL_TOKENS`].
pub const ENDOFTEXT_ID: u32 = 0;
/// The id batches are padded with: `<|endoftext|>`'s, which the attention mask hides.
pub const PAD_ID: u32 = ENDOFTEXT_ID;

/// The text a model is prompted with for a user's message: `<|user|>{text}\n<|assistant|>`.
pub fn prompt_text(user: &str) -> String {
    format!("{USER}{user}\n{ASSISTANT}")
}

/// A response as a finished model would write it: `{answer}<|end|>`.
pub fn finished(answer: &str) -> String {
    format!("{answer}{END}")
}

// ANCHOR: chat_template
/// The same template as a Jinja chat template, for Hugging Face tokenizers
/// (`tokenizer_config.json`'s `chat_template`): `tokenizer.apply_chat_template(messages,
/// add_generation_prompt=True)` in transformers renders a user message exactly as
/// [`prompt_text`] does, and an assistant message as [`finished`] after `<|assistant|>`.
/// One line, so that Jinja's whitespace settings (transformers uses `trim_blocks` and
/// `lstrip_blocks`) cannot change it; roles other than `user` and `assistant` are an error.
pub const CHAT_TEMPLATE: &str = concat!(
    "{%- for message in messages -%}",
    "{%- if message['role'] == 'user' -%}",
    "{{ '<|user|>' + message['content'] + '\\n' }}",
    "{%- elif message['role'] == 'assistant' -%}",
    "{{ '<|assistant|>' + message['content'] + '<|end|>' }}",
    "{%- else -%}",
    "{{ raise_exception('this chat template knows the roles user and assistant, not '",
    " + message['role']) }}",
    "{%- endif -%}",
    "{%- endfor -%}",
    "{%- if add_generation_prompt -%}{{ '<|assistant|>' }}{%- endif -%}",
);
// ANCHOR_END: chat_template

/// What a Hugging Face tokenizer directory needs beside `tokenizer.json` for
/// `AutoTokenizer.from_pretrained` to load it with this template: the class, the special
/// tokens (a turn ends with `<|end|>`, padding is `<|endoftext|>`) and [`CHAT_TEMPLATE`].
pub fn tokenizer_config() -> serde_json::Value {
    serde_json::json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "eos_token": END,
        "pad_token": ENDOFTEXT,
        "bos_token": null,
        "unk_token": null,
        "additional_special_tokens": [USER, ASSISTANT],
        "clean_up_tokenization_spaces": false,
        "chat_template": CHAT_TEMPLATE,
    })
}

/// The answer inside a response: the text before the first `<|end|>`, or all of it when
/// the model never ended (it hit the length limit).
pub fn answer_part(response: &str) -> &str {
    match response.find(END) {
        Some(i) => &response[..i],
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_round_trip() {
        assert_eq!(prompt_text("Hi?"), "<|user|>Hi?\n<|assistant|>");
        assert_eq!(answer_part(&finished("Hello.")), "Hello.");
        assert_eq!(answer_part("no end"), "no end");
    }
}
