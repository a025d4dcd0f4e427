//! BERT's uncased WordPiece tokenizer, as `tokenizers`' `BertNormalizer` + `BertPreTokenizer` +
//! `WordPiece` + the `[CLS] … [SEP]` template define it for all-MiniLM-L6-v2: clean the text
//! (drop NUL, U+FFFD and characters of the Unicode "other" categories; whitespace becomes a
//! space), put spaces around CJK ideographs, strip accents (NFD, drop non-spacing marks),
//! lower-case; split on whitespace and isolate punctuation; greedy longest-match WordPiece with
//! `##` continuations, `[UNK]` for a word longer than 100 characters or with no match.
//!
//! A hand-written tokenizer (≈150 lines) instead of the `tokenizers` crate keeps the wasm
//! module small; `tests/it/embed.rs` checks it token for token against the reference
//! tokenizer's ids stored in the oracle fixture.

use std::collections::HashMap;

use unicode_categories::UnicodeCategories;
use unicode_normalization::UnicodeNormalization;

use crate::Error;

/// Longest word WordPiece splits; a longer one is `[UNK]`.
const MAX_INPUT_CHARS_PER_WORD: usize = 100;

/// One tokenized text: ids with `[CLS]`/`[SEP]`, truncated to the model's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    pub ids: Vec<u32>,
    /// Tokens the text had before truncation (with the two special tokens).
    pub untruncated_len: usize,
}

/// A WordPiece vocabulary (`vocab.txt`: one token per line, the line number is its id).
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    cls: u32,
    sep: u32,
    unk: u32,
}

impl WordPiece {
    pub fn from_vocab_txt(text: &str) -> Result<Self, Error> {
        let vocab: HashMap<String, u32> = text
            .lines()
            .enumerate()
            .map(|(i, t)| (t.to_owned(), i as u32))
            .collect();
        let id = |t: &str| {
            vocab.get(t).copied().ok_or_else(|| Error::Weights {
                reason: format!("vocab.txt has no {t}"),
            })
        };
        Ok(Self {
            cls: id("[CLS]")?,
            sep: id("[SEP]")?,
            unk: id("[UNK]")?,
            vocab,
        })
    }

    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The ids of `text` with `[CLS]` and `[SEP]`, at most `max_len` of them (the words'
    /// tokens are cut, the special tokens kept, as `truncation=True` does).
    pub fn encode(&self, text: &str, max_len: usize) -> Encoding {
        let mut ids = vec![self.cls];
        self.word_ids(&normalize(text), &mut ids);
        ids.push(self.sep);
        let untruncated_len = ids.len();
        if ids.len() > max_len {
            ids.truncate(max_len.saturating_sub(1).max(1));
            ids.push(self.sep);
        }
        Encoding {
            ids,
            untruncated_len,
        }
    }

    /// The word-piece ids of a normalized text, without special tokens.
    pub fn word_ids(&self, normalized: &str, out: &mut Vec<u32>) {
        for word in normalized.split(char::is_whitespace) {
            let mut start = 0;
            for (i, c) in word.char_indices() {
                if is_bert_punctuation(c) {
                    self.word_pieces(&word[start..i], out);
                    self.word_pieces(&word[i..i + c.len_utf8()], out);
                    start = i + c.len_utf8();
                }
            }
            self.word_pieces(&word[start..], out);
        }
    }

    fn word_pieces(&self, word: &str, out: &mut Vec<u32>) {
        if word.is_empty() {
            return;
        }
        if word.chars().count() > MAX_INPUT_CHARS_PER_WORD {
            out.push(self.unk);
            return;
        }
        let first = out.len();
        let mut piece = String::new();
        let mut start = 0;
        while start < word.len() {
            let mut end = word.len();
            let mut found = None;
            while start < end {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[start..end]);
                if let Some(&id) = self.vocab.get(&piece) {
                    found = Some(id);
                    break;
                }
                end -= word[..end].chars().next_back().map_or(1, char::len_utf8);
            }
            match found {
                Some(id) => out.push(id),
                None => {
                    out.truncate(first);
                    out.push(self.unk);
                    return;
                }
            }
            start = end;
        }
    }
}

/// `BertNormalizer { clean_text, handle_chinese_chars, strip_accents: None, lowercase: true }`.
pub fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_chinese_char(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else if is_whitespace(c) {
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    let mut out = String::with_capacity(cleaned.len());
    for c in cleaned.nfd().filter(|c| !c.is_mark_nonspacing()) {
        out.extend(c.to_lowercase());
    }
    out
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || c.is_whitespace()
}

fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r') && c.is_other()
}

fn is_bert_punctuation(c: char) -> bool {
    c.is_ascii_punctuation() || c.is_punctuation()
}

fn is_chinese_char(c: char) -> bool {
    matches!(
        c as u32,
        0x4E00..=0x9FFF
            | 0x3400..=0x4DBF
            | 0x20000..=0x2A6DF
            | 0x2A700..=0x2B73F
            | 0x2B740..=0x2B81F
            | 0x2B920..=0x2CEAF
            | 0xF900..=0xFAFF
            | 0x2F800..=0x2FA1F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> WordPiece {
        WordPiece::from_vocab_txt("[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n!\nun\n##aff\n##able\ncafe\n")
            .unwrap()
    }

    #[test]
    fn splits_punctuation_and_continuations() {
        let e = tiny().encode("Hello! unaffable CAFÉ zzz", 512);
        assert_eq!(e.ids, vec![2, 4, 5, 6, 7, 8, 9, 1, 3]);
    }

    #[test]
    fn truncation_keeps_the_special_tokens() {
        let e = tiny().encode("hello hello hello hello", 4);
        assert_eq!(e.ids, vec![2, 4, 4, 3]);
        assert_eq!(e.untruncated_len, 6);
    }
}
