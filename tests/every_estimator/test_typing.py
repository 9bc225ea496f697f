"""Type checkers see every estimator's parameters: a misspelled keyword is a static error."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from sklnn import CNNImageClassifier, MLPClassifierGPU, RNNForecaster

good = MLPClassifierGPU((10,), "tanh", max_iter=5, early_stopping=True)
typo = MLPClassifierGPU(hiden_layer_sizes=(10,))
late = RNNForecaster(season_lenght=12)
positional = CNNImageClassifier((8,), 3, "same")
"""


def test_mypy_reports_misspelled_and_misplaced_constructor_arguments(tmp_path):
    script = tmp_path / "user_script.py"
    script.write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), str(script)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert len(errors) == 3, result.stdout
    assert 'Unexpected keyword argument "hiden_layer_sizes"' in errors[0]
    assert 'did you mean "hidden_layer_sizes"' in errors[0]
    assert 'Unexpected keyword argument "season_lenght"' in errors[1]
    assert "Too many positional arguments" in errors[2]  # padding is keyword-only
