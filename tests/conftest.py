"""Every test starts from the same random state and the default float type."""

import pytest

import rnnkit


@pytest.fixture(autouse=True)
def deterministic():
    rnnkit.utils.set_random_seed(0)
    yield
    rnnkit.config.set_floatx("float32")


@pytest.fixture
def floatx64():
    """float64 layers and models for this test (the float type is reset after every test)."""
    rnnkit.config.set_floatx("float64")


# Hypothesis profiles (tests/test_properties.py): a small random search by default, a
# deterministic one in CI (the CI environment variable set), a long one on request with
# HYPOTHESIS_PROFILE=thorough. No example database: failures print a reproduce blob instead
# of leaving a .hypothesis/ directory in the checkout.
try:
    from hypothesis import settings as _hypothesis_settings
except ImportError:  # hypothesis is in the test extras; test_properties.py skips without it
    pass
else:
    import os as _os

    _hypothesis_settings.register_profile("default-small", max_examples=100, deadline=None, database=None,
                                          print_blob=True)
    _hypothesis_settings.register_profile("ci", derandomize=True, max_examples=500, deadline=None, database=None,
                                          print_blob=True)
    _hypothesis_settings.register_profile("thorough", max_examples=2000, deadline=None, database=None,
                                          print_blob=True)
    _hypothesis_settings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE")
                                      or ("ci" if _os.environ.get("CI") else "default-small"))
