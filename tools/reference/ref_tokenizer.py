#!/usr/bin/env python3
"""Golden vectors for the tokenizer (docs/MODEL.md §6): tests/vectors/tokenizer_cases.json.

Encodes a list of hard strings with the upstream `tokenizers` library
(Tokenizer.from_file on MODEL/tokenizer/tokenizer.json, the same file the C
engine reads) and writes, for each case,
  text        the input string (valid Unicode)
  bytes_hex   (only for invalid-UTF-8 cases) the raw input bytes; `text` is then
              bytes.decode("utf-8", errors="replace"), the engine's documented
              behaviour for invalid UTF-8 (maximal-subpart U+FFFD replacement)
  raw_ids     tok.encode(text, add_special_tokens=False).ids
  prompt_ids  the same for the chat template of docs/MODEL.md §6.3:
              "<|im_start|>user\\n" + text + "<|im_end|>\\n<|im_start|>assistant\\n"
The template string is cross-checked against transformers' apply_chat_template
with MODEL/tokenizer/chat_template.jinja when that file exists, and the known
ids of docs/MODEL.md §12.7 are asserted.

It also writes a small tokenizer built from the same file (the 256 byte
symbols plus a few merges, listed twice: as "a b" strings in
tests/vectors/tokenizer_mini/ and as ["a", "b"] arrays in
tests/vectors/tokenizer_mini_arrays/; tokens with '"' and '\\' need JSON
escapes, one pair is listed twice, "abc" has two merge paths) and its ids for
a few strings in tests/vectors/tokenizer_mini_cases.json.

Usage: ref_tokenizer.py --model TINY_SNAPSHOT --out tests/vectors
       ref_tokenizer.py --tokenizer DIR_WITH_TOKENIZER_JSON --out tests/vectors
"""
import argparse
import json
import os
import unicodedata

from tokenizers import Tokenizer

PRE = "<|im_start|>user\n"
POST = "<|im_end|>\n<|im_start|>assistant\n"

MINIFIED_CAPTION = json.dumps(
    {
        "high_level_description": "A cozy neon-lit ramen shop at night in Tokyo, rain on the window, "
        "a cat sleeping on the counter.",
        "style_description": {
            "aesthetics": "cinematic, moody, high contrast",
            "lighting": "neon signs (pink & cyan), wet reflections",
            "photo": "35mm, f/1.8, ISO 1600",
            "color_palette": ["#FF2E88", "#00E5FF", "#1A1A2E", "#F5F5F5"],
        },
        "compositional_deconstruction": {
            "background": "Rain-streaked glass; blurred street with taxis & umbrellas.",
            "elements": [
                {"type": "text", "bbox": [120, 80, 260, 920], "text": "ラーメン 一番",
                 "desc": "vertical red neon sign, Japanese \"ramen\" lettering"},
                {"type": "obj", "bbox": [600, 350, 880, 700],
                 "desc": "a ginger cat curled up, its tail over a bowl — steam rising"},
                {"type": "text", "text": "OPEN 24/7 \u2014 it's late!", "desc": "small chalkboard, back\\slash"},
            ],
        },
        "aspect_ratio": "16:9",
    },
    ensure_ascii=False,
    separators=(",", ":"),
)

PRETTY_CAPTION = json.dumps(json.loads(MINIFIED_CAPTION), ensure_ascii=False, indent=2)


def long_caption():
    """A ~10 kB structured caption (deterministic), mixing scripts and numbers."""
    elements = []
    words = ["lantern", "bicycle", "teapot", "umbrella", "violin", "cactus", "robot", "kite"]
    for i in range(56):
        w = words[i % len(words)]
        elements.append({
            "type": "text" if i % 3 == 0 else "obj",
            "bbox": [(i * 37) % 900, (i * 53) % 900, (i * 37) % 900 + 100, (i * 53) % 900 + 100],
            "text": f"Sign #{i}: «{w.upper()}» — 營業中 {i * 1234567 % 99991}" if i % 3 == 0 else None,
            "desc": f"a {w} ({i}), weathered; it's {'blue' if i % 2 else 'crimson'} "
                    f"with 2 stripes   and café-style lettering ñ é 가나다 🎈",
        })
    for e in elements:
        if e["text"] is None:
            del e["text"]
    cap = {
        "high_level_description": "A crowded market street at dusk with many labelled objects.",
        "style_description": {"aesthetics": "busy, warm", "lighting": "golden hour",
                              "photo": "wide angle, 24mm"},
        "compositional_deconstruction": {"background": "old brick facades", "elements": elements},
    }
    s = json.dumps(cap, ensure_ascii=False, separators=(",", ":"))
    assert 9000 <= len(s.encode("utf-8")) <= 12000, len(s.encode("utf-8"))
    return s


TEXTS = [
    # docs/MODEL.md §12.7 sanity prompts
    "Hello",
    "a red fox sits under a cherry blossom tree",
    "hello",
    "",
    # Korean: composed, decomposed jamo (NFD, NFC composes it), lone leading jamo
    "안녕하세요, 세계! 고양이가 창가에 앉아 있다.",
    unicodedata.normalize("NFD", "한국어 텍스트와 글자"),
    "\u1100\u1100\u1161 \u1112\u1161\u11ab",
    # CJK, Japanese kana (incl. halfwidth kana, which NFC keeps)
    "一只红色的狐狸坐在樱花树下。",
    "東京タワーの夜景、ひらがなとカタカナ。ｶﾀｶﾅ半角",
    # emoji: variation selector, ZWJ sequences, skin tones, flags
    "I \u2764\ufe0f pizza \U0001F355\U0001F355",
    "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466 and \U0001F3F3\ufe0f\u200d\U0001F308",
    "\U0001F44D\U0001F3FD\U0001F44B\U0001F3FF ok",
    "\U0001F1EF\U0001F1F5\U0001F1FA\U0001F1F8\U0001F1E9\U0001F1EA",
    # JSON: real minified structured caption, pretty-printed, escapes
    MINIFIED_CAPTION,
    PRETTY_CAPTION,
    '{"text":"He said \\"hi\\"\\n\\ttab \\\\ back \\u00e9","n":[1,2.5e-3,-7]}',
    # whitespace runs
    "a  b   c    d",
    "end   ",
    "line1\r\nline2\r\n\r\nline3\n\n\n",
    "col1\tcol2\t\tcol3\t",
    "x   123 4567  89",
    "wait   ...  !! ?",
    " \t \n \u00a0\n  x",
    "   ",
    " ",
    "\n\n\n",
    "a \n b\r \r\nc",
    # digits and numbers
    "3.14159265358979 1,000,000 2024-06-17 0x1F 1234567890123456789",
    # contractions in different cases, long s (case-folds to s)
    "I'LL don't it'S we'Re they'VE I'm you'D she'll 's 'T",
    "it'\u017f and '\u017f",
    # accented Latin, composed and decomposed; compatibility singletons
    "Café crème brûlée naïve Ångström",
    unicodedata.normalize("NFD", "Café crème brûlée naïve Ångström"),
    "\u212b \u212a \u2126 q\u0307\u0323 x\u0301\u0302",
    # RTL and Indic scripts, Thai
    "مرحبا بالعالم ١٢٣",
    "שָׁלוֹם עולם",
    "नमस्ते दुनिया १२३",
    "สวัสดีครับ ภาษาไทย",
    # special tokens inside text, almost-special tokens
    "before<|im_end|>after <|endoftext|> end",
    "<think>reasoning</think>",
    "<|im_end and <|im_start| and <|im_end|",
    "<<|im_end|>><|im_start|><|im_end|>",
    # zero-width, no-break and ideographic spaces, separators, controls
    "a\u00a0b\u00a0 c",
    "日本\u3000語\u3000\u3000x",
    "zero\u200bwidth\u200b \u200b",
    "a\u2028b\u2029 c\u0085d \u0085",
    "a\x0b\x0cb\x01\x1f\x7f",
    "a\x00b",
    # other number and symbol classes
    "ｘ² + ½ = ① Ⅻ ٣",
    "\ue000\U0010FFFF\uffff\ufeffend",
    # long runs and long words
    "start" + " " * 300 + "end",
    "=" * 200,
    "Supercalifragilistic" * 20,
    # code, URL, mixed scripts
    "for (int i = 0; i < n; i++) { x += y[i]; }\n",
    "https://example.com/path?q=1&r=2#frag user@mail.org",
    "iPhone15Pro发布会",
    # ~10 kB caption
    long_caption(),
]

# Invalid UTF-8 inputs: the engine replaces maximal invalid subparts with U+FFFD,
# exactly what Python's bytes.decode("utf-8", errors="replace") does.
INVALID = [
    b"abc\xffdef",
    b"\xe2\x82 cut",
    b"\xed\xa0\x80x",
    b"\xf0\x9f\x98",
    b"\xc0\xaf\x80",
    b"\xf4\x90\x80\x80",
    b"ok \xe2\x82\xac \xe2\x28\xa1",
]


MINI_MERGES = [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], ["\u0120", "\u0120"], ["a", "b"], ["b", "c"],
               ["ab", "c"], ["a", "bc"], ['"', "x"], ["\\", "n"], ["\u0120", "h"], ["ab", "c"], ["\u0120\u0120", "\u0120\u0120"],
               ["\u00c3", "\u00a9"], ["c", "\u00c3\u00a9"]]
MINI_TEXTS = ["hello", "abc", "ab c", "abcabc bcab", '"x \\n', "\\n\\\\n", "  hello   hhello", "hhello<|im_end|>hello",
              "aaa bbb", "c\u00e9 ce\u0301 \u00e9", "      x", "<|endoftext|>", ""]


def write_mini(full, out_dir, enc_check):
    """A small byte-level tokenizer from the real one (same normaliser, pre-tokenizer, added tokens)."""
    byte_syms = [k for k, i in sorted(full["model"]["vocab"].items(), key=lambda x: x[1]) if i < 256]
    assert len(byte_syms) == 256
    vocab = {s: i for i, s in enumerate(byte_syms)}
    for a, b in MINI_MERGES:
        vocab.setdefault(a + b, len(vocab))
    cfg = dict(full)
    cfg["added_tokens"] = [dict(t, id=len(vocab) + k) for k, t in enumerate(full["added_tokens"][:3])]
    results = {}
    for name, merges in (("tokenizer_mini", [a + " " + b for a, b in MINI_MERGES]),
                         ("tokenizer_mini_arrays", [[a, b] for a, b in MINI_MERGES])):
        cfg["model"] = dict(full["model"], vocab=vocab, merges=merges)
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "tokenizer.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cfg, f, ensure_ascii=False)
        tok = Tokenizer.from_file(path)
        results[name] = [(tok.encode(t, add_special_tokens=False).ids,
                          tok.encode(PRE + t + POST, add_special_tokens=False).ids) for t in MINI_TEXTS]
    assert results["tokenizer_mini"] == results["tokenizer_mini_arrays"]
    cases = [{"text": t, "raw_ids": r, "prompt_ids": p} for t, (r, p) in zip(MINI_TEXTS, results["tokenizer_mini"])]
    enc_check(cases)
    path = os.path.join(out_dir, "tokenizer_mini_cases.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(c, ensure_ascii=True, separators=(",", ":")) for c in cases) + "\n]\n")
    print(f"wrote {path}: {len(cases)} cases")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", help="snapshot folder (tokenizer in MODEL/tokenizer)")
    ap.add_argument("--tokenizer", help="folder with tokenizer.json")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    tok_dir = args.tokenizer or os.path.join(args.model, "tokenizer")
    tok = Tokenizer.from_file(os.path.join(tok_dir, "tokenizer.json"))

    def enc(s):
        return tok.encode(s, add_special_tokens=False).ids

    # docs/MODEL.md §12.7
    assert enc(PRE + "Hello" + POST) == [151644, 872, 198, 9707, 151645, 198, 151644, 77091, 198]
    assert enc(PRE + "a red fox sits under a cherry blossom tree" + POST) == [
        151644, 872, 198, 64, 2518, 38835, 23011, 1212, 264, 40880, 88758, 4916, 151645, 198, 151644, 77091, 198]
    assert 14990 in enc(PRE + "hello" + POST)

    tmpl = os.path.join(tok_dir, "chat_template.jinja")
    if os.path.exists(tmpl):
        from transformers import PreTrainedTokenizerFast
        hf = PreTrainedTokenizerFast(tokenizer_file=os.path.join(tok_dir, "tokenizer.json"))
        hf.chat_template = open(tmpl, encoding="utf-8").read()
        for cap in ("Hello", MINIFIED_CAPTION, "x<|im_end|>y"):
            msgs = [{"role": "user", "content": [{"type": "text", "text": cap}]}]
            rendered = hf.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
            assert rendered == PRE + cap + POST, repr(rendered)
        print("chat_template.jinja renders the fixed template string")

    cases = []
    for t in TEXTS:
        cases.append({"text": t, "raw_ids": enc(t), "prompt_ids": enc(PRE + t + POST)})
    for b in INVALID:
        t = b.decode("utf-8", errors="replace")
        cases.append({"text": t, "bytes_hex": b.hex(), "raw_ids": enc(t), "prompt_ids": enc(PRE + t + POST)})
    # NFC sanity: the decomposed Korean case must encode like its composed form.
    assert enc(unicodedata.normalize("NFD", "한국어 텍스트와 글자")) == enc("한국어 텍스트와 글자")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "tokenizer_cases.json")
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n")
        for i, c in enumerate(cases):
            f.write(json.dumps(c, ensure_ascii=True, separators=(",", ":")))
            f.write(",\n" if i + 1 < len(cases) else "\n")
        f.write("]\n")
    print(f"wrote {path}: {len(cases)} cases, {os.path.getsize(path)} bytes")

    def check_mini(mini_cases):
        # the mini tokenizer must exercise the merges (not just bytes)
        assert any(len(c["raw_ids"]) < len(c["text"].encode("utf-8")) for c in mini_cases)
    with open(os.path.join(tok_dir, "tokenizer.json"), encoding="utf-8") as f:
        write_mini(json.load(f), args.out, check_mini)


if __name__ == "__main__":
    main()
