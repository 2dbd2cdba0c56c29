"""Every docstring example in labkit runs (a docstring's example is a test)."""

import doctest
import importlib
import pkgutil

import pytest

import labkit

MODULES = sorted(m.name for m in pkgutil.walk_packages(labkit.__path__, "labkit.") if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_the_engine_has_examples():
    # The layers a maintainer reads first should show how they are used.
    for name in ["labkit.model", "labkit.trace", "labkit.explore", "labkit.lockdep", "labkit.cases"]:
        assert doctest.DocTestFinder().find(importlib.import_module(name))[0].examples, name
