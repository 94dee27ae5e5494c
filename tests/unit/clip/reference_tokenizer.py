"""An independent Python CLIP tokenizer, written from the spec
(/work/shared/specs/clip.md §4), used as the reference of the C tokenizer.

Text cleaning follows OpenAI's simple_tokenizer minus ftfy, which Debian does
not package: of ftfy.fix_text only the quote uncurling (ftfy's uncurl_quotes
character sets) and NFC are done, after html.unescape as ftfy itself does for
text without '<'. So: bytes.decode("utf-8", "replace") -> html.unescape twice
-> uncurl quotes -> NFC -> strip, \\s+ -> " " -> str.lower(). The word split
is the spec's regex (the `regex` module, IGNORECASE); pre-tokens that are
exactly <|startoftext|> / <|endoftext|> map to the special ids.
"""
import gzip
import html
import json
import re
import unicodedata

import regex

PATTERN = regex.compile(
    r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
    regex.IGNORECASE)
SINGLE_QUOTES = re.compile("[\u02bc\u2018-\u201b]")
DOUBLE_QUOTES = re.compile("[\u201c-\u201f]")
SOT, EOT = "<|startoftext|>", "<|endoftext|>"
N_MERGES = 49152 - 256 - 2   # 48,894 merges used from the OpenAI file


def byte_alphabet():
    """byte -> character: printable bytes stay, the other 68 go to U+0100.."""
    keep = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(0x100 + extra)
            extra += 1
    return table


def alphabet_order():
    """The characters in bytes_to_unicode order (the order of vocab ids 0..255)."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = byte_alphabet()
    return [table[b] for b in keep] + [table[b] for b in range(256) if b not in keep]


def clean(text):
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = html.unescape(html.unescape(text))
    text = SINGLE_QUOTES.sub("'", text)
    text = DOUBLE_QUOTES.sub('"', text)
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"\s+", " ", text.strip()).strip()
    return text.lower()


def pretokens(text):
    return PATTERN.findall(clean(text))


class Tokenizer:
    def __init__(self, vocab, merges):
        self.vocab = vocab                       # str -> id
        self.ranks = {}
        for i, pair in enumerate(merges):
            self.ranks[tuple(pair)] = i          # a repeated pair keeps its last rank
        self.alphabet = byte_alphabet()

    @classmethod
    def from_hf(cls, folder):
        with open(folder + "/vocab.json", encoding="utf-8") as f:
            vocab = json.load(f)
        merges = []
        with open(folder + "/merges.txt", encoding="utf-8") as f:
            for n, line in enumerate(f.read().split("\n")):
                line = line.rstrip("\r")
                if not line or (n == 0 and line.startswith("#version")):
                    continue
                merges.append(tuple(line.split(" ")))
        return cls(vocab, merges)

    def bpe(self, word):
        symbols = [self.alphabet[b] for b in word.encode("utf-8")]
        symbols[-1] += "</w>"
        while len(symbols) > 1:
            ranked = [(self.ranks[p], p) for p in zip(symbols, symbols[1:]) if p in self.ranks]
            if not ranked:
                break
            _, (a, b) = min(ranked)
            merged, i = [], 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return [self.vocab[s] for s in symbols]

    def encode(self, text, context_length=77):
        ids = [self.vocab[SOT]]
        for tok in pretokens(text):
            if tok in (SOT, EOT):
                ids.append(self.vocab[tok])
            else:
                ids.extend(self.bpe(tok))
        ids.append(self.vocab[EOT])
        if len(ids) > context_length:
            ids = ids[:context_length]
            ids[-1] = self.vocab[EOT]
        return ids


def write_hf(folder, merges):
    """vocab.json + merges.txt the way Hugging Face lays out CLIP's: the byte
    alphabet, the same with </w>, each merge joined, then the two specials."""
    alphabet = alphabet_order()
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges] + [SOT, EOT]
    vocab = {}
    for i, t in enumerate(tokens):
        vocab[t] = i
    with open(folder + "/vocab.json", "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(folder + "/merges.txt", "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for m in merges:
            f.write(" ".join(m) + "\n")


def convert_openai(gz_path, folder):
    """OpenAI's bpe_simple_vocab_16e6.txt.gz -> vocab.json + merges.txt."""
    with gzip.open(gz_path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1:N_MERGES + 1]]
    write_hf(folder, merges)


def learn_merges(texts, count):
    """Plain BPE training on the pre-tokens of texts: a small vocabulary for
    tests that do not have the real one."""
    alphabet = byte_alphabet()
    words = {}
    for text in texts:
        for tok in pretokens(text):
            if tok in (SOT, EOT):
                continue
            symbols = [alphabet[b] for b in tok.encode("utf-8")]
            symbols[-1] += "</w>"
            words[tuple(symbols)] = words.get(tuple(symbols), 0) + 1
    merges = []
    for _ in range(count):
        pairs = {}
        for word, freq in words.items():
            for p in zip(word, word[1:]):
                pairs[p] = pairs.get(p, 0) + freq
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        new_words = {}
        for word, freq in words.items():
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    out.append(word[i] + word[i + 1])
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + freq
        words = new_words
    return merges
