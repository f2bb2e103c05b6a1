"""Every docstring example in the package runs and prints what it claims."""

import doctest
import importlib
import pkgutil

import pytest

import skfast


def _modules():
    names = [skfast.__name__]
    for info in pkgutil.walk_packages(skfast.__path__, prefix="skfast."):
        names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _modules())
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    for test in finder.find(module, name, module=module):
        runner.run(test)
    assert runner.failures == 0, f"{runner.failures} failing example(s) in {name}"


def test_every_public_object_has_an_example():
    missing = []
    for name in _modules():
        module = importlib.import_module(name)
        for attribute in getattr(module, "__all__", []):
            obj = getattr(module, attribute)
            if callable(obj) and ">>>" not in (obj.__doc__ or ""):
                missing.append(f"{name}.{attribute}")
    assert not missing, f"no Examples section: {missing}"


def test_import_skfast_is_cheap():
    import subprocess
    import sys

    code = (
        "import sys, skfast; "
        "heavy = [m for m in ('numba', 'sklearn', 'optuna', 'matplotlib') "
        "if m in sys.modules]; print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
