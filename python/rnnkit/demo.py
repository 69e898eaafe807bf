"""The LSTM-vs-GRU demo: ``rnnkit-demo`` (or ``python -m rnnkit.demo``).

Trains an LSTM and a GRU of the same width on a built-in dataset with the same seed, prints
the comparison table and writes a PNG of the learning curves. ``rnnkit-demo --help`` lists
the options, e.g. ``rnnkit-demo --dataset adding_problem --timesteps 50 --cells LSTM GRU SimpleRNN``.
"""

from __future__ import annotations

import argparse
import inspect
import os
from typing import Callable, Optional, Sequence

from . import __version__, datasets, optimizers
from .comparison import compare
from .datasets import Dataset
from .layers import GRU, LSTM, Dense, Masking, SimpleRNN
from .models import Sequential

__all__ = ["main"]

CELLS = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN}


def _builder(cell: type, units: int, dataset: Dataset, learning_rate: float) -> Callable[[], Sequential]:
    """A function making a one-layer ``cell`` model for the dataset's task: a Dense head of
    ``y``'s width with mse (regression), or a softmax over the classes, per sequence or per
    step when ``y`` has one label per step (copy task)."""
    per_step = dataset.task == "classification" and dataset.y_train.ndim == 2

    def build() -> Sequential:
        if dataset.task == "regression":
            head, loss, metrics = Dense(dataset.y_train.shape[-1]), "mse", ["mae"]
        else:
            assert dataset.num_classes is not None  # a classification set counts its classes
            head, loss, metrics = Dense(dataset.num_classes, activation="softmax"), \
                "sparse_categorical_crossentropy", ["accuracy"]
        # Sequences zero-padded to one length (dataset.lengths) skip their padding.
        padding = [Masking(0.0, input_shape=dataset.x_train.shape[1:])] if dataset.lengths is not None else []
        model = Sequential(padding + [cell(units, input_shape=dataset.x_train.shape[1:], return_sequences=per_step),
                                      head], name=f"{cell.__name__.lower()}_model")
        model.compile(optimizer=optimizers.Adam(learning_rate), loss=loss, metrics=metrics)
        return model

    return build


def _positive(kind: type) -> Callable[[str], float]:
    """An argparse type: a number of ``kind`` above zero."""
    def parse(text: str) -> float:
        try:
            value: float = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above zero, got {text}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit-demo", description="Train LSTM and GRU on a built-in dataset with the same seed, print a "
                                        "comparison table and write a PNG of the learning curves.")
    parser.add_argument("--dataset", default="sine_waves", choices=datasets.available(),
                        help="the built-in dataset (default: %(default)s)")
    parser.add_argument("--cells", nargs="+", default=["LSTM", "GRU"], choices=list(CELLS),
                        help="the cells to compare (default: LSTM GRU)")
    parser.add_argument("--epochs", type=_positive(int), default=20, help="epochs per model (default: %(default)s)")
    parser.add_argument("--units", type=_positive(int), default=32,
                        help="units of each recurrent layer (default: %(default)s)")
    parser.add_argument("--batch-size", type=_positive(int), default=32, help="default: %(default)s")
    parser.add_argument("--learning-rate", type=_positive(float), default=0.005, help="Adam's (default: %(default)s)")
    parser.add_argument("--samples", type=_positive(int), help="samples in the dataset (default: the dataset's)")
    parser.add_argument("--timesteps", type=_positive(int),
                        help="sequence length (default: the dataset's; not for digits)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and of the models (default: %(default)s)")
    parser.add_argument("--output", default="rnnkit-demo.png",
                        help="where to write the learning curves (default: %(default)s)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the demo with command-line arguments ``argv`` (default ``sys.argv[1:]``); returns 0."""
    parser = _parser()
    args = parser.parse_args(argv)
    sizes = {name: getattr(args, name) for name in ("samples", "timesteps") if getattr(args, name) is not None}
    try:
        # The real datasets have fixed sizes; sunspots has nothing random to seed.
        seeded = "seed" in inspect.signature(getattr(datasets, args.dataset)).parameters
        dataset = datasets.load(args.dataset, **({"seed": args.seed} if seeded else {}), **sizes)
    except (TypeError, ValueError) as error:  # e.g. --timesteps for digits, or too few --samples
        parser.error(str(error))
    builders = {name: _builder(CELLS[name], args.units, dataset, args.learning_rate) for name in args.cells}
    print(f"rnnkit {__version__}: {' vs '.join(args.cells)} on {args.dataset}, {dataset.description}")
    print(dataset)
    comparison = compare(builders, dataset, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
    print()
    print(comparison)
    try:
        figure = comparison.plot(path=args.output, title=f"{' vs '.join(args.cells)} on {args.dataset}")
    except ImportError as error:
        print(f"\nNo plot: {error}")
        return 0
    import matplotlib.pyplot as plt

    plt.close(figure)
    print(f"\nLearning curves: {os.path.abspath(args.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
