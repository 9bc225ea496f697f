"""What a new user reaches for first: ``sklnn.plot`` after ``import sklnn``, and a DataFrame with
text columns answered with the columns' names and how to encode them."""

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sklnn
from sklnn import MLPClassifierGPU, MLPRegressorGPU


def test_plot_is_an_attribute_of_sklnn_imported_on_first_use():
    # a fresh interpreter: this test session has imported sklnn.plot long ago
    code = (
        "import sys, sklnn\n"
        "assert 'sklnn.plot' not in sys.modules\n"
        "display = sklnn.plot.TrainingCurveDisplay\n"
        "assert display.__module__.startswith('sklnn.plot')\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib is imported only to draw'\n"
        "from sklnn import *\n"
        "assert plot is sklnn.plot\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]


def test_other_missing_attributes_still_raise_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'plots'"):
        sklnn.plots  # noqa: B018


def frame(n=40):
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "city": rng.choice(["Lyon", "Paris", "Nantes"], n),
        "rooms": rng.integers(1, 6, n),
        "kind": pd.Categorical(rng.choice(["flat", "house"], n)),
        "area": rng.normal(60, 15, n),
    })


@pytest.mark.parametrize("Estimator", [MLPClassifierGPU, MLPRegressorGPU])
def test_text_columns_get_an_error_naming_them_and_the_encoder(Estimator):
    X, y = frame(), np.arange(40) % 2
    with pytest.raises(ValueError) as info:
        Estimator(max_iter=2).fit(X, y)
    message = str(info.value)
    assert "['city', 'kind']" in message
    assert "'rooms'" not in message and "'area'" not in message
    assert "ColumnTransformer" in message and "OneHotEncoder" in message
    assert "could not convert string to float" in message  # the cause stays visible


def test_predict_on_a_frame_with_text_columns_names_them_too():
    X, y = frame(), np.arange(40) % 2
    clf = MLPClassifierGPU(max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X[["rooms", "area"]], y)
    broken = X[["rooms", "area"]].astype({"rooms": object})
    broken.loc[0, "rooms"] = "three"
    with pytest.raises(ValueError, match=r"\['rooms'\].*OneHotEncoder"):
        clf.predict(broken)


def test_the_suggested_pipeline_fits_and_numeric_object_columns_are_left_alone():
    X, y = frame(), np.arange(40) % 2
    pipe = make_pipeline(
        ColumnTransformer([("categories", OneHotEncoder(handle_unknown="ignore"),
                            ["city", "kind"])], remainder=StandardScaler()),
        MLPClassifierGPU(max_iter=2, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert pipe.fit(X, y).predict(X).shape == (40,)
        # numbers in an object column convert as before
        numbers = X[["rooms", "area"]].astype(object)
        assert MLPClassifierGPU(max_iter=2).fit(numbers, y).n_features_in_ == 2
