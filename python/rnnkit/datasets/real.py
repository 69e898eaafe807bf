"""Real data, shipped inside the package (nothing is downloaded): Japanese Vowels and the yearly
sunspot numbers. tools/make_datasets.py made the files in ``data/`` from their published copies."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Optional

import numpy as np

from .._arguments import check_flag
from ..models.data import count
from .base import Dataset, float_dtype, generator, real, split_sizes
from .forecasting import windows

__all__ = ["japanese_vowels", "sunspots"]

_DATA = Path(__file__).resolve().parent / "data"


def _load(name: str) -> Dict[str, np.ndarray]:
    with np.load(_DATA / f"{name}.npz", allow_pickle=False) as arrays:
        return {key: arrays[key] for key in arrays.files}


def _frames(lengths: np.ndarray, timesteps: int) -> np.ndarray:
    """``(n, timesteps)`` bool: True at each utterance's real frames."""
    return np.arange(timesteps)[None, :] < lengths[:, None]


def _padded(steps: np.ndarray, lengths: np.ndarray, timesteps: int, dtype: str) -> np.ndarray:
    """Utterances stored end to end, ``(sum(lengths), features)``, as ``(n, timesteps, features)``
    zero-padded after each utterance's last step."""
    out = np.zeros((len(lengths), timesteps, steps.shape[1]), dtype)
    out[_frames(lengths, timesteps)] = steps
    return out


def japanese_vowels(validation_split: float = 0.1, standardize: bool = False, seed: int = 0,
                    dtype: Optional[str] = None) -> Dataset:
    """UCI Japanese Vowels: which of 9 speakers uttered the vowel /ae/, from 12 LPC cepstrum
    coefficients per frame, over 7 to 29 frames.

    640 utterances: the official split of 270 for training (30 per speaker) and 370 for test
    (24 to 88 per speaker). Each utterance is zero-padded after its last frame to 29 steps;
    ``lengths`` holds the true lengths, so ``Masking(mask_value=0.0)`` (no real frame is all
    zeros) or a mask from the lengths skips the padding. The validation part is drawn from the
    training part, the same share of every speaker, by ``seed``.

    Source: M. Kudo, J. Toyama, M. Shimbo, "Multidimensional curve classification using
    passing-through regions", Pattern Recognition Letters 20 (11-13), 1103-1111, 1999. UCI
    Machine Learning Repository, https://doi.org/10.24432/C5NS47, licensed CC BY 4.0; the values
    as sktime distributes them (JapaneseVowels_TRAIN.ts, JapaneseVowels_TEST.ts).

    Args:
        validation_split: share of each speaker's training utterances held out for validation,
            strictly between 0 and 1 (0.1: 3 of 30).
        standardize: z-score each of the 12 coefficients with the mean and std of the real
            frames of the training part (the padding stays 0); the coefficients' scales differ
            by up to 10x, and recurrent networks learn faster from standardized inputs.
        seed: chooses the validation utterances.
        dtype: ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.

    Returns:
        Dataset (classification, 9 classes ``"speaker 1"`` .. ``"speaker 9"``): x
        ``(n, 29, 12)`` zero-padded, y int64 labels 0..8 ``(n,)``, ``lengths`` the number of
        real frames per utterance for each part. Published accuracies are about 0.95-0.99.
    """
    if not 0 < real("validation_split", validation_split, 0, exclusive=True) < 1:
        raise ValueError(f"'validation_split' must be a fraction strictly between 0 and 1, got {validation_split!r}")
    rng = generator(seed)
    dtype = float_dtype(dtype)
    arrays = _load("japanese_vowels")
    timesteps = int(max(arrays["train_lengths"].max(), arrays["test_lengths"].max()))
    # exactly the published decimals (tools/make_datasets.py)
    steps = {part: arrays[f"{part}_micro"] / 1e6 for part in ("train", "test")}
    parts = {part: (_padded(steps[part], arrays[f"{part}_lengths"], timesteps, dtype),
                    arrays[f"{part}_labels"] - 1, arrays[f"{part}_lengths"]) for part in steps}
    if check_flag("japanese_vowels", "standardize", standardize):
        mean, std = steps["train"].mean(axis=0), steps["train"].std(axis=0)
        for values, _, part_lengths in parts.values():
            frames = _frames(part_lengths, timesteps)
            values[frames] = ((values[frames] - mean) / std).astype(dtype)
    x, y, lengths = parts["train"]
    held_out = np.zeros(len(y), bool)
    for speaker in range(9):
        members = np.flatnonzero(y == speaker)
        size = max(1, round(len(members) * validation_split))
        held_out[rng.choice(members, size, replace=False)] = True
    x_test, y_test, lengths_test = parts["test"]
    return Dataset("japanese_vowels", "classification", x[~held_out], y[~held_out], x[held_out], y[held_out],
                   x_test, y_test, num_classes=9, class_names=tuple(f"speaker {k}" for k in range(1, 10)),
                   lengths=(lengths[~held_out], lengths[held_out], lengths_test),
                   description="UCI Japanese Vowels: 12 LPC coefficients over 7-29 frames; 9 speakers "
                               "(chance 0.11, published accuracies about 0.95-0.99)")


def sunspots(timesteps: int = 20, horizon: int = 1, validation_split: float = 0.15, test_split: float = 0.15,
             dtype: Optional[str] = None) -> Dataset:
    """The yearly mean sunspot numbers 1700-2008 (309 values, the 11-year solar cycle), to
    forecast from a window of past years.

    The series is split in time (training, then validation, then test, with no window crossing
    a boundary) and z-scored with the training part's mean and std, as the generated
    forecasting sets are. The persistence baseline predicts the last value of each window.

    Source: NOAA National Geophysical Data Center, yearly sunspot numbers, as statsmodels
    distributes them (``statsmodels.datasets.sunspots``, data from 1700 to 2008); public domain.

    Args:
        timesteps: past years in each window.
        horizon: years to predict after each window.
        validation_split, test_split: fractions of the windows for validation and test.
        dtype: ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.

    Returns:
        Dataset (regression): x ``(n, timesteps, 1)``, y ``(n, horizon)``, z-scored
        (``normalizer`` maps predictions back to sunspot numbers).
    """
    timesteps = count("timesteps", timesteps, minimum=1)
    horizon = count("horizon", horizon, minimum=1)
    series = _load("sunspots")["values"]
    span = timesteps + horizon
    usable = len(series) - 3 * (span - 1)
    if usable < 3:
        raise ValueError(f"the 309 yearly values give no three windows of {timesteps} + {horizon} years; "
                         "use a shorter window")
    sizes = split_sizes(usable, validation_split, test_split)
    return windows("sunspots", series, sizes, timesteps, horizon, float_dtype(dtype),
                   f"yearly sunspot numbers 1700-2008; predict the next {horizon} year(s) from {timesteps}")
