"""clip-tokenizer: the C tokenizer (through the clip_tokenize driver) against
reference_tokenizer.py on a few thousand tricky strings, with a small
vocabulary learned here and, when present, OpenAI's real one.

    test_clip_tokenizer.py <clip_tokenize binary>
"""
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    import reference_tokenizer as ref  # noqa: E402
except ImportError as e:  # python3-regex missing: tools/setup.sh --deps installs it
    print("SKIP: %s" % e)
    sys.exit(77)

# OpenAI's vocabulary, when a folder `shared/clip` sits next to the checkout
# (or $CLIP_BPE_VOCAB names the file): optional, the test never needs it.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
REAL_VOCAB = os.environ.get("CLIP_BPE_VOCAB", os.path.join(
    os.path.dirname(ROOT), "shared", "clip", "bpe_simple_vocab_16e6.txt.gz"))

TRICKY = [
    "", " ", "   \t\n  ", "a", "A", "a photo of a cat", "a photo of a dog", "Hello, world!",
    "don't stop 42 times", "a diagram", "café über naïve",
    "!!!???...", "hello!!! world??", "...---...", "a-b_c+d=e", "(parens) [brackets] {braces}",
    "@#$%^&*", "~`|\\/<>", "foo!bar", "e.g. i.e. etc.", "C++ and C#", "http://example.com/a?b=c&d=e",
    "3.14159", "1,000,000", "2024-05-09", "10:30pm", "0x1F", "v1.2.3", "123abc456", "١٢٣ ٤٥٦",
    "Ⅻ ½ ² ³ ①", "don't", "DON'T", "it's", "IT'S", "they're", "THEY'RE", "we've", "WE'VE",
    "i'm", "I'M", "we'll", "WE'LL", "he'd", "HE'D", "'s", "'", "''", "'''s", "rock'n'roll",
    "'tis", "o'clock", "y'all'd've", "!!'s", "x's's", "don’t curly", "‘single’ “double”",
    "ʼokina", "it‛s", "„low“", "It'ſ a ſtrange 'ſ", "<|startoftext|>", "<|endoftext|>",
    "a <|endoftext|> b", "x<|endoftext|>y", "!<|endoftext|>", "<|ENDOFTEXT|>", "<|ſtartoftext|>",
    "<|startoftext|><|endoftext|>", "<|endoftext", "<|", "Crème brûlée", "Ångström", "façade",
    "cafe\u0301", "e\u0301\u0302", "Å vs \u212b", "ﬁnance ﬂow", "Straße", "STRASSE", "ΟΔΟΣ",
    "ΣΑΣ ΣΟΦΟΣ.", "Σ", "ΑΣ\u0301", "ΑΣ'Β", "İstanbul", "İ", "ǅ ǈ ǋ", "ⒶⒷⒸ", "ΌΣΟΣ Ⓐ",
    "ß ẞ", "Ǆemal", "😀", "😀😀😀", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸🇫🇷", "I ❤️ NY", "★☆✓✗",
    "東京タワー", "北京是中国的首都", "日本語のテキスト、句読点。", "中文，标点！", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３",
    "한국어 텍스트", "안녕하세요!", "\u1100\u1161\u11a8", "العربية", "مرحبا بالعالم", "שלום עולם",
    "Привет, мир!", "ПРИВЕТ", "Ελληνικά", "हिन्दी", "ภาษาไทย", "ქართული", "Tiếng Việt",
    "mixed English 中文 العربية 한국어 😀 123", "abc東京def", "1東2京3",
    "&amp;", "&amp", "&lt;b&gt;bold&lt;/b&gt;", "&quot;quoted&quot;", "&#39;", "&#x27;s",
    "&#65;&#x42;&#X43;", "&eacute;t&eacute;", "&eacutex", "&ampxyz;", "&amp;amp;", "&amp;amp;amp;",
    "&nbsp;non&nbsp;breaking", "&copy; 2024", "&hellip;", "&mdash;dash&ndash;", "&euro;5",
    "&notin;", "&notit;", "&NotEqualTilde;", "&#0;", "&#128;", "&#x80;", "&#150;", "&#13;",
    "&#1;", "&#x7f;", "&#xfdd0;", "&#xffff;", "&#x10ffff;", "&#xd800;", "&#x110000;",
    "&#99999999999999999999;", "&#;", "&#x;", "&;", "& ;", "&&", "&#38;amp;", "&unknown;",
    "&rsquo;", "don&rsquo;t", "&#769;", "e&#769;", "&Sigma;&Alpha;", "&Iuml;",
    "&abcdefghijklmnopqrstuvwxyzabcdefgh;", "&amp\u0000x", "tab\there", "new\nline",
    "cr\r\nlf", "multiple     spaces", "\u00a0nbsp\u00a0", "\u3000ideographic\u3000space",
    "\u2028line\u2029para", "\x1cfs\x1dgs\x1ers\x1fus", "\x85nel", "\u200bzero\u200bwidth",
    "\u180emongolian", "\ufeffbom", "\x00nul\x00", "\x07bell\x7f", "soft\u00adhyphen",
    "ａｂｃ", "x" * 300, "word " * 100, "a" * 100 + " b", "1234567890" * 20, "😀" * 80,
    "!" * 200, "the quick brown fox jumps over the lazy dog " * 10,
    "Antidisestablishmentarianism", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "supercalifragilisticexpialidocious!", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\ufffd", "\ue000 private", "\U000e0001 tag", "\U0001d400\U0001d401 math bold",
]

# Broken UTF-8 and other raw bytes, checked against decode("utf-8", "replace").
TRICKY_BYTES = [
    b"\xff", b"\xfe\xff", b"abc\x80def", b"\xc0\x80", b"\xc3", b"\xc3(", b"\xe2\x82",
    b"\xe2\x82(", b"\xe2\x28\xa1", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x9f\x98",
    b"\xf0\x9f\x98\x80\xf0\x9f", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80", b"\xf8\x88\x80\x80\x80",
    b"\xe0\x80\xaf", b"\xe0\xa0", b"caf\xe9", b"\x80\x81\x82", b"don\x92t", b"a\x00b",
    b"\xef\xbb\xbfbom", b"\xc2\xa0\xc2", b"\xf0\x90\x80", b"\xf0\x8f\xbf\xbf",
]

POOL = (list("abcxyzABCXYZ0123456789 .,!?'\"-_&;#<>|/\\\t\n") + ["'s", "'t", "'re", "'LL", "'D"]
        + list("éÉüÜñßøåçÆŒſΣσςİıΌ") + ["e\u0301", "a\u0308"] + list("東京中文한국어العربيةשל")
        + ["😀", "👍🏽", "❤️", "🇫🇷", "\u200d", "\u00a0", "\u3000", "\u2019", "\u201c", "\ufffd"]
        + ["&amp;", "&lt;", "&#39;", "&#x27;", "&eacute", "&nbsp;", "&#128;", "&#0;", "&quot",
           "<|endoftext|>", "<|startoftext|>", "١", "½", "Ⅻ", "ǅ", "Ⓐ", "\x00", "\x1f"])


def random_cases(rng, count):
    out = []
    for _ in range(count):
        n = rng.randint(0, 40)
        out.append("".join(rng.choice(POOL) for _ in range(n)))
    return out


def random_bytes(rng, count):
    out = []
    interesting = [0x00, 0x20, 0x27, 0x41, 0x61, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf,
                   0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff, 0x26, 0x3b, 0x23]
    for _ in range(count):
        n = rng.randint(0, 24)
        out.append(bytes(rng.choice(interesting) if rng.random() < 0.7 else rng.randrange(256)
                         for _ in range(n)))
    return out


def run_c(binary, folder, cases, ctx):
    data = "".join(c.hex() + "\n" for c in cases)
    proc = subprocess.run([binary, folder, str(ctx)], input=data.encode(), capture_output=True,
                          timeout=240)
    if proc.returncode != 0:
        raise SystemExit("clip_tokenize failed (%d): %s" % (proc.returncode, proc.stderr.decode()))
    lines = proc.stdout.decode().split("\n")[:-1]
    if len(lines) != len(cases):
        raise SystemExit("clip_tokenize printed %d lines for %d cases" % (len(lines), len(cases)))
    return [[int(x) for x in line.split()] if not line.startswith("ERROR") else line
            for line in lines]


def compare(name, binary, folder, cases, ctx=77):
    tok = ref.Tokenizer.from_hf(folder)
    want = [tok.encode(c, ctx) for c in cases]
    got = run_c(binary, folder, cases, ctx)
    bad = [(c, g, w) for c, g, w in zip(cases, got, want) if g != w]
    for c, g, w in bad[:10]:
        print("MISMATCH [%s] %r\n  C:   %s\n  ref: %s" % (name, c, g, w))
    print("%s (context %d): %d strings, %d mismatches" % (name, ctx, len(cases), len(bad)))
    assert all(len(w) <= ctx and w[-1] == tok.vocab[ref.EOT] for w in want)
    return len(bad)


def check_errors(binary, tmp):
    """Malformed files fail with a message naming the file."""
    failures = 0
    good = os.path.join(tmp, "small")
    cases = {
        "missing": (None, None),
        "badjson": ("{not json", None),
        "notobject": ("[1, 2]", None),
        "badid": ('{"a": "x"}', None),
        "nobytes": ('{"a": 0}', None),
        "badmerge": (None, "#version: 0.2\nabc\n"),
        "unknownmerge": (None, "#version: 0.2\nq zzzz\n"),
        "threeparts": (None, "#version: 0.2\na b c\n"),
    }
    for name, (vocab, merges) in cases.items():
        d = os.path.join(tmp, "bad-" + name)
        os.makedirs(d)
        if name != "missing":
            with open(os.path.join(d, "vocab.json"), "w") as f:
                f.write(vocab if vocab is not None else open(good + "/vocab.json").read())
            with open(os.path.join(d, "merges.txt"), "w") as f:
                f.write(merges if merges is not None else open(good + "/merges.txt").read())
        proc = subprocess.run([binary, d], input=b"", capture_output=True)
        err = proc.stderr.decode()
        want = "merges.txt" if merges is not None else "vocab.json"
        if proc.returncode != 1 or want not in err:
            print("ERROR CASE %s: rc=%d stderr=%r" % (name, proc.returncode, err))
            failures += 1
        else:
            print("error case %s: %s" % (name, err.strip()))
    return failures


SAMPLES = [
    "a photo of a cat on the table", "the quick brown fox jumps over the lazy dog",
    "don't stop believing, it's the photographer's best picture", "café über naïve crème",
    "東京タワー 北京 中文 한국어 텍스트 안녕하세요 العربية مرحبا", "😀 👍🏽 ❤️ 🇺🇸",
    "Ελληνικά Привет мир ΟΔΟΣ", "1234567890 3.14 1,000", "hello!!! world??? ... ---",
    "photos of cats and dogs in the park at sunset", "a diagram of the street",
]


def check_cli(capsearch, folder, rng):
    """`capsearch tokenize --model DIR --json TEXT` gives the reference's ids,
    and config.json's context length cuts them."""
    import json
    failures = 0
    cases = [t for t in TRICKY if t and not t.startswith("-") and "\0" not in t][:60]
    cases += random_cases(rng, 40)
    cases = [c for c in cases if c and not c.startswith("-") and "\0" not in c
             and "\ud800" not in c]
    want = run_c(sys.argv[1], folder, [c.encode("utf-8", "surrogatepass") for c in cases], 77)
    for text, ids in zip(cases, want):
        proc = subprocess.run([capsearch, "tokenize", "--model", folder, "--json", "--", text],
                              capture_output=True, timeout=60)
        if proc.returncode != 0 or json.loads(proc.stdout)["ids"] != ids:
            print("CLI %r: %s %s" % (text, proc.stdout[:200], proc.stderr[:200]))
            failures += 1
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"text_config": {"max_position_embeddings": 8}}, f)
    doc = json.loads(subprocess.run([capsearch, "tokenize", "--model", folder, "--json",
                                     "word " * 50], capture_output=True, check=True).stdout)
    if len(doc["ids"]) != 8 or not doc["truncated"]:
        print("CLI context from config.json: %s" % doc)
        failures += 1
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write('{"text_config": {"max_position_embeddings": "many"}}')
    proc = subprocess.run([capsearch, "tokenize", "--model", folder, "x"], capture_output=True)
    if proc.returncode != 1 or b"max_position_embeddings" not in proc.stderr:
        print("CLI bad config.json: %s" % proc.stderr)
        failures += 1
    os.remove(os.path.join(folder, "config.json"))
    print("cli: %d texts through capsearch tokenize" % len(cases))
    return failures


def main():
    binary = sys.argv[1]
    rng = random.Random(1234)
    text_cases = TRICKY + random_cases(rng, 2500)
    byte_cases = [t.encode("utf-8", "surrogatepass") for t in text_cases] + TRICKY_BYTES \
        + random_bytes(rng, 1000)
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "small")
        os.makedirs(small)
        merges = ref.learn_merges(SAMPLES * 3, 400)
        ref.write_hf(small, merges)
        print("small vocabulary: %d merges" % len(merges))
        failures += compare("small", binary, small, byte_cases)
        failures += compare("small", binary, small, byte_cases[:400], ctx=8)
        failures += compare("small", binary, small, byte_cases[:200], ctx=2)
        failures += check_errors(binary, tmp)
        if len(sys.argv) > 2:
            failures += check_cli(sys.argv[2], small, rng)
        if os.path.exists(REAL_VOCAB):
            real = os.path.join(tmp, "real")
            os.makedirs(real)
            ref.convert_openai(REAL_VOCAB, real)
            failures += compare("openai", binary, real, byte_cases)
            failures += compare("openai", binary, real, byte_cases[:400], ctx=16)
            known = {
                "a photo of a cat": [49406, 320, 1125, 539, 320, 2368, 49407],
                "a photo of a dog": [49406, 320, 1125, 539, 320, 1929, 49407],
                "Hello, world!": [49406, 3306, 267, 1002, 256, 49407],
                "don't stop 42 times": [49406, 847, 713, 1691, 275, 273, 1661, 49407],
                "a diagram": [49406, 320, 22697, 49407],
                "café über naïve": [49406, 15304, 6522, 1516, 1097, 35689, 563, 49407],
                "": [49406, 49407],
            }
            got = run_c(binary, real, [k.encode() for k in known], 77)
            for (text, want), g in zip(known.items(), got):
                if g != want:
                    print("KNOWN IDS %r: C %s, spec %s" % (text, g, want))
                    failures += 1
            print("openai: %d known tokenisations from the spec checked" % len(known))
            long = run_c(binary, real, [("word " * 200).encode()], 77)[0]
            if len(long) != 77 or long[0] != 49406 or long[-1] != 49407:
                print("TRUNCATION: %s" % long)
                failures += 1
        else:
            print("SKIP openai vocabulary: %s not found" % REAL_VOCAB)
    if failures:
        print("FAILED: %d" % failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
