#!/usr/bin/python3
"""Runs a test program with a tiny random-weight CLIP model made by
tools/gen-test-clip in a temporary folder: with_tiny_clip.py GEN_TEST_CLIP
PROGRAM [ARGS...] runs PROGRAM ARGS... MODEL_DIR and exits with its status."""
import subprocess
import sys
import tempfile


def main():
    gen, program = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, gen, tmp, "--size", "tiny", "--seed", "5"], check=True,
                       stdout=subprocess.DEVNULL)
        sys.exit(subprocess.run(program + [tmp]).returncode)


main()
