"""Every test starts from the same random state and the default float type."""

import pytest

import rnnkit


@pytest.fixture(autouse=True)
def deterministic():
    rnnkit.utils.set_random_seed(0)
    yield
    rnnkit.config.set_floatx("float32")
