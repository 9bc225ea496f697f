"""inference_module(): the whole of predict / predict_proba as one torch module."""

import warnings

import numpy as np
import pytest
import torch
from conftest import NETWORK_CLASSES, small, small_data
from sklearn.base import is_classifier
from tolerances import F32_OUTPUT


@pytest.mark.parametrize("cls", NETWORK_CLASSES, ids=lambda c: c.__name__)
def test_matches_predict(cls):
    est = small(cls)
    X, y = small_data(est, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    module = est.inference_module()
    assert not module.training and not any(m.training for m in module.modules())
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 and not p.requires_grad
               for p in module.parameters())
    assert module.network is not est.module_  # a copy: refits do not change it
    for dtype in (np.float32, np.float64):
        rows = X.astype(dtype)
        with torch.no_grad():
            out = module(torch.from_numpy(rows)).numpy()
        if is_classifier(est):
            expected = est.predict_proba(rows)
        else:  # the autoencoders' transform: their codes
            expected = est.predict(rows) if hasattr(est, "predict") else est.transform(rows)
        assert out.shape == expected.shape and out.dtype == expected.dtype
        np.testing.assert_allclose(out, expected, **F32_OUTPUT)


def test_example_input_needs_rows_of_the_fitted_width():
    est = small(NETWORK_CLASSES[0])
    X, y = small_data(est, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    assert est._example_input(X[:1]).shape == (2, 16)  # a batch of one would be specialised
    with pytest.raises(ValueError, match="rows of 16 values"):
        est._example_input(X[:, :3])
