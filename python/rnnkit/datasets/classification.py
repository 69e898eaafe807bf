"""Sequence classification: one label per sequence, read step by step."""

from __future__ import annotations

import importlib.util
from typing import Optional, Tuple

import numpy as np

from ..models.data import count
from .base import Dataset, float_dtype, generator, real, split, split_sizes

__all__ = ["temporal_patterns", "digits", "PATTERNS"]

PATTERNS = ("sine", "square", "sawtooth", "chirp", "pulse")

# 5 x 7 bitmaps of the digits 0-9, the strokes of the generated digits.
_GLYPHS = """
.###. ..#.. .###. ##### ...#. ##### ..##. ##### .###. .###.
#...# .##.. #...# ...#. ..##. #.... .#... ....# #...# #...#
#..## ..#.. ....# ..#.. .#.#. ####. #.... ...#. #...# #...#
#.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#.. .###. .####
##..# ..#.. ..#.. ....# ##### ....# #...# .#... #...# ....#
#...# ..#.. .#... #...# ...#. #...# #...# .#... #...# ...#.
.###. .###. ##### .###. ...#. .###. .###. .#... .###. .##..
"""
_SKLEARN_DIGITS = 1797


def temporal_patterns(samples: int = 2000, timesteps: int = 40, noise: float = 0.3, validation_split: float = 0.15,
                      test_split: float = 0.15, seed: int = 0, dtype: Optional[str] = None) -> Dataset:
    """Five classes of noisy temporal patterns: sine, square, sawtooth, chirp (a sine whose
    frequency rises) and pulse (one bump at a random time).

    Each sequence draws its class, its number of cycles (1.5 to 4 over the window), its
    phase, its amplitude (0.5 to 1.5) and Gaussian noise of std ``noise``: the class is in
    the shape over time, not in any single value. Chance is 1/5.

    Args:
        samples: sequences in all (training + validation + test).
        timesteps: length of each sequence (at least 8).
        noise: std of the noise added to every step.
        validation_split, test_split: fractions of the samples for validation and test.
        seed: the generator's seed; the same seed gives the same arrays.
        dtype: of x, ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.

    Returns:
        Dataset (classification, 5 classes named by ``PATTERNS``): x ``(n, timesteps, 1)``,
        y ``(n,)`` int64 labels.
    """
    timesteps = count("timesteps", timesteps, minimum=8)
    noise = real("noise", noise, minimum=0)
    dtype = float_dtype(dtype)
    sizes = split_sizes(samples, validation_split, test_split)
    rng = generator(seed)
    n = sum(sizes)
    labels = rng.integers(0, len(PATTERNS), size=n)
    u = np.arange(timesteps) / timesteps                       # time as a fraction of the window
    cycles = rng.uniform(1.5, 4.0, size=(n, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1))
    angle = 2 * np.pi * cycles * u + phase
    center, width = rng.uniform(0.2, 0.8, size=(n, 1)), rng.uniform(0.04, 0.12, size=(n, 1))
    shapes = np.stack([
        np.sin(angle),
        np.sign(np.sin(angle)),
        2 * np.mod(angle / (2 * np.pi), 1.0) - 1,
        np.sin(2 * np.pi * cycles * u ** 2 + phase),           # frequency rising from 0 to 2 * cycles
        2 * np.exp(-(((u - center) / width) ** 2)) - 1,
    ], axis=-1)                                                # (n, timesteps, 5)
    signal = np.take_along_axis(shapes, labels[:, None, None], axis=-1)
    amplitude = rng.uniform(0.5, 1.5, size=(n, 1, 1))
    x = (amplitude * signal + noise * rng.standard_normal((n, timesteps, 1))).astype(dtype)
    return split("temporal_patterns", "classification", x, labels, sizes, num_classes=len(PATTERNS),
                 class_names=PATTERNS,
                 description=f"{', '.join(PATTERNS)} over {timesteps} steps with noise of std {noise:g}; "
                             f"chance is 1/{len(PATTERNS)}")


def digits(samples: Optional[int] = None, source: str = "auto", validation_split: float = 0.15,
           test_split: float = 0.15, seed: int = 0, dtype: Optional[str] = None) -> Dataset:
    """Handwritten digits as sequences: an 8 x 8 image read row by row, 8 steps of 8 pixels.

    ``source="sklearn"`` takes scikit-learn's bundled digits (1,797 images, shipped inside
    its wheel: nothing is downloaded); ``"generated"`` draws digits from 5 x 7 glyphs with
    random shifts, stroke strength, gaps, blur and noise; ``"auto"`` uses scikit-learn if
    it is installed, else generates. Chance is 1/10.

    Args:
        samples: images in all (training + validation + test); default 1,797 (all of
            scikit-learn's).
        source: ``"auto"``, ``"sklearn"`` or ``"generated"``.
        validation_split, test_split: fractions of the samples for validation and test.
        seed: the seed of the shuffle (and of the generated images).
        dtype: of x, ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.

    Returns:
        Dataset (classification, 10 classes "0".."9"): x ``(n, 8, 8)`` with pixels in
        [0, 1], y ``(n,)`` int64 labels.
    """
    if source not in ("auto", "sklearn", "generated"):
        raise ValueError(f"source must be 'auto', 'sklearn' or 'generated', got {source!r}")
    dtype = float_dtype(dtype)
    samples = _SKLEARN_DIGITS if samples is None else samples
    sizes = split_sizes(samples, validation_split, test_split)
    rng = generator(seed)
    if source == "auto":
        source = "sklearn" if importlib.util.find_spec("sklearn") is not None else "generated"
    if source == "sklearn":
        images, labels = _sklearn_digits(sum(sizes), rng)
        origin = "scikit-learn's 8x8 digits"
    else:
        images, labels = _generated_digits(sum(sizes), rng)
        origin = "generated 8x8 digits"
    return split("digits", "classification", images.astype(dtype), labels, sizes, num_classes=10,
                 class_names=tuple(str(d) for d in range(10)),
                 description=f"{origin}, read row by row (8 steps of 8 pixels); chance is 1/10")


def _sklearn_digits(n: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` of scikit-learn's digits in random order, pixels scaled from 0..16 to [0, 1]."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError("digits(source='sklearn') needs scikit-learn: pip install scikit-learn "
                          "(or use source='generated')") from error
    if n > _SKLEARN_DIGITS:
        raise ValueError(f"scikit-learn has {_SKLEARN_DIGITS} digits, asked for {n} samples "
                         "(use source='generated' for more)")
    bunch = load_digits()
    order = rng.permutation(_SKLEARN_DIGITS)[:n]
    return bunch.images[order] / 16.0, bunch.target[order].astype(np.int64)


def _generated_digits(n: int, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """``n`` digits drawn from the glyphs: each placed at a random offset in an 8 x 8 image,
    with random stroke strength, missing pixels, a light blur and noise; pixels in [0, 1]."""
    rows = [line.split() for line in _GLYPHS.strip().splitlines()]
    glyphs = np.array([[[c == "#" for c in row[d]] for row in rows] for d in range(10)], dtype=float)  # (10, 7, 5)
    labels = rng.integers(0, 10, size=n)
    images = np.zeros((n, 8, 8))
    top, left = rng.integers(0, 2, size=(n, 1, 1)), rng.integers(0, 4, size=(n, 1, 1))
    images[np.arange(n)[:, None, None], top + np.arange(7)[:, None], left + np.arange(5)] = glyphs[labels]
    images *= rng.uniform(0.6, 1.0, size=(n, 1, 1)) * (rng.random((n, 8, 8)) > 0.1)
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    neighbours = padded[:, :-2, 1:-1] + padded[:, 2:, 1:-1] + padded[:, 1:-1, :-2] + padded[:, 1:-1, 2:]
    images = 0.7 * images + 0.3 * neighbours / 4 + 0.08 * rng.standard_normal((n, 8, 8))
    return np.clip(images, 0.0, 1.0), labels.astype(np.int64)
