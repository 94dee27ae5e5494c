"""Text in pictures, end to end through ocr_probe (the indexer's own
ocr_picture_text): text rendered here with ImageMagick in several fonts,
sizes and colours must be seen by the cheap test and read by Tesseract (the
expected words are written below, not taken from any OCR output); the real
sample photos must be seen as holding no text (page.png, a photographed
book page, does hold text).

Prints a table of what the test saw and how long each step took: the hit
rates and costs quoted in the docs come from here.

usage: test_ocr.py OCR_PROBE CONVERT
Exit 77 (skipped) without ImageMagick or Tesseract's English data, unless
CAPSEARCH_REQUIRE_MODELS=1; the sample photo part needs the samples
(tools/fetch-samples.sh; required with CAPSEARCH_REQUIRE_SAMPLES=1)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

PROBE, CONVERT = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
SAMPLES = os.environ.get("CAPSEARCH_SAMPLES") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "capsearch", "samples")
failures = []


def skip(message, require_var="CAPSEARCH_REQUIRE_MODELS"):
    print(f"SKIP: {message}")
    sys.exit(1 if os.environ.get(require_var) == "1" else 77)


def render(path, size, background, lines, font, pointsize, fill):
    """ImageMagick text: `lines` is [(x, y, text)]."""
    cmd = [CONVERT, "-size", size, f"xc:{background}", "-font", font, "-pointsize",
           str(pointsize), "-fill", fill]
    for x, y, text in lines:
        cmd += ["-annotate", f"+{x}+{y}", text]
    subprocess.run(cmd + [path], check=True, capture_output=True)


# name: (size, background, fill, font, pointsize, lines, words that must be read)
RENDERS = {
    "sans48.png": ("800x200", "white", "black", "DejaVu-Sans", 48,
                   [(20, 100, "Hardware store receipt 42.99")],
                   ["hardware", "store", "receipt", "42.99"]),
    "serif40.png": ("900x220", "white", "black", "DejaVu-Serif", 40,
                    [(20, 120, "Quarterly budget meeting notes")],
                    ["quarterly", "budget", "meeting", "notes"]),
    "bold56.png": ("1000x240", "white", "#202020", "DejaVu-Sans-Bold", 56,
                   [(20, 140, "GRAND OPENING SALE")], ["grand", "opening", "sale"]),
    "light-on-dark44.png": ("800x200", "#102040", "white", "DejaVu-Sans", 44,
                            [(30, 110, "Welcome to Lisbon harbour")],
                            ["welcome", "lisbon", "harbour"]),
    "yellow-serif36.png": ("700x180", "black", "yellow", "DejaVu-Serif", 36,
                           [(20, 100, "Parking permit expires Friday")],
                           ["parking", "permit", "expires", "friday"]),
    "receipt-mono28.png": ("1200x300", "#f4f1e8", "#333333", "DejaVu-Sans-Mono", 28,
                           [(30, 60, "TOTAL        42.99"), (30, 110, "CASH         50.00"),
                            (30, 160, "CHANGE        7.01"), (30, 210, "THANK YOU FOR SHOPPING")],
                           ["total", "42.99", "cash", "50.00", "thank", "shopping"]),
    # small print: only a closer look at a larger decode sees the letters
    "page20.png": ("640x480", "white", "black", "DejaVu-Sans", 20,
                   [(20, 40, "Lorem ipsum dolor sit amet, consectetur"),
                    (20, 70, "adipiscing elit, sed do eiusmod tempor"),
                    (20, 100, "incididunt ut labore et dolore magna"),
                    (20, 130, "aliqua. Ut enim ad minim veniam, quis"),
                    (20, 160, "nostrud exercitation ullamco laboris")],
                   ["lorem", "ipsum", "dolor", "consectetur", "tempor", "labore", "magna"]),
    # a large picture: read from a second, larger decode
    "poster3000.png": ("3000x2000", "white", "black", "DejaVu-Sans", 140,
                       [(100, 600, "Invoice number 1234")], ["invoice", "number", "1234"]),
    "slide1600.png": ("1600x900", "white", "black", "DejaVu-Sans", 96,
                      [(60, 300, "Project kickoff")], ["project", "kickoff"]),
}


def receipt_photo(path):
    """A tall receipt on a brown table, photographed from afar (JPEG): at the
    analysis size its lines are thin bars, not letters."""
    cmd = [CONVERT, "-size", "2400x3200", "xc:#8a7b66", "-fill", "white", "-draw",
           "rectangle 500,300 1900,2900", "-font", "DejaVu-Sans-Mono", "-pointsize", "44",
           "-fill", "#222222"]
    for i in range(18):
        cmd += ["-annotate", f"+600+{450 + i * 120}", f"ITEM {i:02d}  WIDGET   {i + 3}.99"]
    subprocess.run(cmd + ["-quality", "90", path], check=True, capture_output=True)


def probe(paths, read=True):
    args = [PROBE] + (["--read"] if read else []) + paths
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if proc.returncode == 77:
        skip(proc.stderr.strip() or "no Tesseract data")
    if proc.returncode != 0:
        failures.append(f"ocr_probe exited {proc.returncode}: {proc.stderr}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def words_of(text):
    return {w.lower() for w in re.findall(r"[A-Za-z0-9]+(?:\.[0-9]+)?", text)}


def line(d):
    first = d["first"]
    closer = d.get("closer")
    return (f"  {os.path.basename(d['path']):28s} {'TEXT' if d['likely'] else '-':4s} "
            f"letters={first['candidates']:4d} in-rows={first['in_rows']:4d} "
            f"lines={first['lines']:3d} test={d['test_ms']:6.2f} ms"
            + (f" closer(in-rows={closer['in_rows']})" if closer else "")
            + (f" redecode={d['redecode_ms']:.0f} ms" if d['redecode_ms'] else "")
            + (f" read {d['read_size'][0]}x{d['read_size'][1]} in {d['ocr_ms']:.0f} ms"
               if d["read"] else ""))


def check_renders(tmp):
    paths = []
    expected = {}
    for name, (size, bg, fill, font, points, lines, words) in RENDERS.items():
        path = os.path.join(tmp, name)
        render(path, size, bg, lines, font, points, fill)
        paths.append(path)
        expected[path] = words
    photo = os.path.join(tmp, "receipt-photo.jpg")
    receipt_photo(photo)
    paths.append(photo)
    expected[photo] = ["item", "widget", "05", "12", "3.99", "14.99"]
    print("rendered text:")
    for d in probe(paths):
        print(line(d))
        if not d["likely"]:
            failures.append(f"{d['path']}: the text test saw no text")
            continue
        got = words_of(d["text"])
        missing = [w for w in expected[d["path"]] if w not in got]
        if missing:
            failures.append(f"{d['path']}: {missing} not read; read {d['text']!r}")


def check_samples():
    if not os.path.isfile(os.path.join(SAMPLES, ".complete")):
        print(f"no sample photos in {SAMPLES}: skipping that part")
        if os.environ.get("CAPSEARCH_REQUIRE_SAMPLES") == "1":
            failures.append("sample photos required but missing")
        return
    photos = [os.path.join(SAMPLES, "photos", n) for n in
              ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
               "coins.png", "brick.png", "grass.png", "gravel.png", "page.png")]
    walls = os.path.join(SAMPLES, "wallpapers")
    photos += sorted(os.path.join(walls, n) for n in os.listdir(walls))
    results = probe(photos, read=True)
    print("sample photos:")
    seen = 0
    for d in results:
        print(line(d))
        name = os.path.basename(d["path"])
        if name == "page.png":
            if not d["likely"]:
                failures.append("page.png (a book page) was not seen as text")
            elif not {"markers", "coins", "background"} & words_of(d["text"]):
                failures.append(f"page.png read as {d['text']!r}")
        elif d["likely"]:
            seen += 1
            failures.append(f"{name}: a photo without text was seen as text")
    tests = [d["test_ms"] for d in results]
    closer = sum(1 for d in results if d["looked_closer"])
    print(f"  {len(results)} photos: {seen} false alarms, {closer} closer looks, "
          f"test median {sorted(tests)[len(tests) // 2]:.2f} ms, max {max(tests):.2f} ms")


def main():
    if not CONVERT or not shutil.which(CONVERT):
        skip("ImageMagick's convert is needed to render text (apt-get install imagemagick)")
    tmp = tempfile.mkdtemp(prefix="capsearch-ocr-")
    try:
        check_renders(tmp)
        check_samples()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
