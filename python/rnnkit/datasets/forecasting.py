"""Forecasting: a series cut into windows of ``timesteps`` values, each followed by the
``horizon`` values to predict.

The series is split in time (training, then validation, then test, with no window
crossing a boundary), and z-scored with the training part's mean and std; the Dataset's
``normalizer`` maps predictions back to the series' units.
"""

from __future__ import annotations

from typing import Callable, Optional, Tuple, cast

import numpy as np

from ..models.data import count
from .base import Dataset, Normalizer, float_dtype, generator, real, split_sizes

__all__ = ["sine_waves", "random_walk"]


def _forecasting(name: str, make_series: Callable[[int], np.ndarray], samples: int, timesteps: int, horizon: int,
                 validation_split: float, test_split: float, dtype: Optional[str], description: str) -> Dataset:
    """Windows of the series ``make_series(length)``, split in time and normalised."""
    timesteps = count("timesteps", timesteps, minimum=1)
    horizon = count("horizon", horizon, minimum=1)
    dtype = float_dtype(dtype)
    sizes = split_sizes(samples, validation_split, test_split)
    series = make_series(sum(sizes) + 3 * (timesteps + horizon - 1))
    return windows(name, series, sizes, timesteps, horizon, dtype, description)


def windows(name: str, series: np.ndarray, sizes: Tuple[int, int, int], timesteps: int, horizon: int, dtype: str,
            description: str) -> Dataset:
    """The ``sizes`` windows of training, validation and test cut from ``series`` of length
    ``sum(sizes) + 3 * (timesteps + horizon - 1)`` in time order, z-scored with the training
    part's mean and std."""
    span = timesteps + horizon
    segments = np.split(series, np.cumsum([n + span - 1 for n in sizes])[:-1])
    normalizer = Normalizer(float(segments[0].mean()), float(segments[0].std()))
    arrays = []
    for segment in segments:
        cut = np.lib.stride_tricks.sliding_window_view(normalizer.transform(segment), span)
        arrays += [cut[:, :timesteps, None].astype(dtype), cut[:, timesteps:].astype(dtype)]
    x_train, y_train, x_val, y_val, x_test, y_test = arrays
    return Dataset(name, "regression", x_train, y_train, x_val, y_val, x_test, y_test, normalizer=normalizer,
                   description=description)


def sine_waves(samples: int = 2000, timesteps: int = 30, horizon: int = 1, noise: float = 0.1,
               validation_split: float = 0.15, test_split: float = 0.15, seed: int = 0,
               dtype: Optional[str] = None) -> Dataset:
    """A noisy sum of three sine waves, to forecast from a window of past values.

    The periods (10 to 60 steps), amplitudes (0.5 to 1) and phases are drawn from ``seed``;
    Gaussian noise of std ``noise`` is added to every value.

    Args:
        samples: windows in all (training + validation + test).
        timesteps: past values each window holds.
        horizon: values to predict after each window.
        noise: std of the noise, in the series' units (the clean signal's std is about 1).
        validation_split, test_split: fractions of the windows for validation and test,
            taken in time after the training part.
        seed: the generator's seed; the same seed gives the same arrays.
        dtype: ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.

    Returns:
        Dataset (regression): x ``(n, timesteps, 1)``, y ``(n, horizon)``, both z-scored with
        the training part's mean and std (``normalizer``).
    """
    noise = real("noise", noise, minimum=0)
    rng = generator(seed)
    periods = rng.uniform(10, 60, size=3)
    amplitudes = rng.uniform(0.5, 1.0, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)

    def make_series(length: int) -> np.ndarray:
        t = np.arange(length)[:, None]
        clean = (amplitudes * np.sin(2 * np.pi * t / periods + phases)).sum(axis=1)
        return cast(np.ndarray, clean + noise * rng.standard_normal(length))

    return _forecasting("sine_waves", make_series, samples, timesteps, horizon, validation_split, test_split, dtype,
                        f"three sine waves (periods {', '.join(f'{p:.1f}' for p in sorted(periods))} steps) plus "
                        f"noise of std {noise:g}; predict the next {horizon} value(s) from {timesteps}")


def random_walk(samples: int = 2000, timesteps: int = 30, horizon: int = 1, trend: float = 5e-4,
                volatility: float = 0.01, seasonality: float = 0.05, period: float = 50.0,
                validation_split: float = 0.15, test_split: float = 0.15, seed: int = 0,
                dtype: Optional[str] = None) -> Dataset:
    """A price-like series: a geometric random walk with a trend and a seasonal cycle.

    ``price_t = 100 * exp(sum_{s<=t} (trend + volatility * e_s) + seasonality * sin(2 pi t / period + phase))``
    with ``e_s`` standard normal. The random part cannot be predicted: "tomorrow equals
    today" (the last value of the window) is the baseline a model must beat, using the
    trend and the season.

    Args:
        samples: windows in all (training + validation + test).
        timesteps: past prices each window holds.
        horizon: prices to predict after each window.
        trend: drift of the log-price per step (5e-4: about +5% per 100 steps).
        volatility: std of the log-price's random step (0.01: about 1% per step).
        seasonality: amplitude of the seasonal cycle of the log-price (0.05: about +-5%).
        period: length of the seasonal cycle, in steps.
        validation_split, test_split: fractions of the windows for validation and test,
            taken in time after the training part (prices there may leave the training
            range, as real prices do).
        seed: the generator's seed; the same seed gives the same arrays.
        dtype: ``"float32"`` or ``"float64"``; default ``rnnkit.config.floatx()``.

    Returns:
        Dataset (regression): x ``(n, timesteps, 1)``, y ``(n, horizon)``, prices z-scored
        with the training part's mean and std (``normalizer.inverse_transform`` gives prices).
    """
    trend = real("trend", trend)
    volatility = real("volatility", volatility, minimum=0, exclusive=True)
    seasonality = real("seasonality", seasonality, minimum=0)
    period = real("period", period, minimum=1, exclusive=True)
    rng = generator(seed)
    phase = rng.uniform(0, 2 * np.pi)

    def make_series(length: int) -> np.ndarray:
        walk = np.cumsum(trend + volatility * rng.standard_normal(length))
        season = seasonality * np.sin(2 * np.pi * np.arange(length) / period + phase)
        return cast(np.ndarray, 100.0 * np.exp(walk + season))

    return _forecasting("random_walk", make_series, samples, timesteps, horizon, validation_split, test_split, dtype,
                        f"a price-like random walk (trend {trend:g}, volatility {volatility:g} per step, "
                        f"seasonal cycle of {period:g} steps); predict the next {horizon} price(s) from {timesteps}")
