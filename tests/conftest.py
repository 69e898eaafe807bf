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
