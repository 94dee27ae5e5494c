#!/usr/bin/python3
"""Runs a test program with a tiny random-weight CLIP model made by
tools/gen-test-clip in a temporary folder: with_tiny_clip.py GEN_TEST_CLIP
PROGRAM [ARGS...] runs PROGRAM ARGS... MODEL_DIR and exits with its status.
The user's concept cache (CAPSEARCH_CACHE) is a temporary folder too."""
import os
import subprocess
import sys
import tempfile


def main():
    gen, program = sys.argv[1], sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, CAPSEARCH_CACHE=os.path.join(tmp, "cache"))
        model = os.path.join(tmp, "model")
        subprocess.run([sys.executable, gen, model, "--size", "tiny", "--seed", "5"],
                       check=True, stdout=subprocess.DEVNULL)
        sys.exit(subprocess.run(program + [model], env=env).returncode)


main()
