"""Fuzzing sklnn.load: mutated model files give a model or a ModelFileError, nothing else,
and never more than a bounded amount of memory (see _fuzz_model_files.py)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

# 200 derandomized examples: a few seconds, and the same examples on every run. The child
# process measures its own peak memory, which pytest's other tests do not disturb.
N_EXAMPLES = 200
# The budget's floor is 256 MiB; the mutated files are tens of kilobytes and the largest
# legitimate allocation while loading them is well under this.
MAX_GROWTH = 128 * 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="peak memory is read from /proc and ru_maxrss in KiB (Linux)")
@pytest.mark.parametrize("kind", ["model files", "bundles"])
def test_mutated_files_load_or_raise_model_file_error_within_bounded_memory(kind):
    if kind == "bundles":
        pytest.importorskip("skops", reason="bundles need skops (pipeline extra)")
    script = Path(__file__).parent / "_fuzz_model_files.py"
    extra = ["bundles"] if kind == "bundles" else []
    result = subprocess.run([sys.executable, str(script), str(N_EXAMPLES), *extra],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-5000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["loaded"] + report["refused"] >= N_EXAMPLES
    assert report["refused"] > report["loaded"] > 0  # both paths were exercised
    assert report["peak_growth"] < MAX_GROWTH, report
