"""Saving and loading fitted estimators without pickle.

A saved model is a zip archive holding exactly two members: ``metadata.json``
(estimator class, constructor parameters, the estimator's listed fitted attributes,
versions, a SHA-256 of the weights) and ``weights.npz`` (the network's tensors). Loading
never unpickles and only ever builds the estimator classes sklnn registers, so a file
from a stranger cannot run code; and it checks every size the file declares against a
memory budget before allocating anything, so a file cannot exhaust memory either. What
loading does not protect against (a deliberately altered but well-formed model) is in
docs/persistence.md. Writes are atomic: a crash mid-save leaves the old file intact.

A scikit-learn ``Pipeline`` with sklnn steps is saved as one file too (``save`` and
``load`` handle both): its sklnn steps in this format, everything else with skops, whose
loader builds only the types it trusts (see ``sklnn/persistence/_bundle.py``).
"""

from sklnn.persistence._bundle import UntrustedTypesError, load, save
from sklnn.persistence._codec import ModelFileError
from sklnn.persistence._schema import FORMAT_VERSION

__all__ = ["FORMAT_VERSION", "ModelFileError", "UntrustedTypesError", "load", "save"]
