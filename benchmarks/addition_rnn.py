"""keras.io's "sequence to sequence learning for performing number addition" (addition_rnn) as
a Keras user runs it, timed under rnnkit and under Keras 3, each in a process of its own.

The program: questions "a+b" of up to 3 digits, padded to 7 characters and reversed, one-hot
over the 12 characters "0123456789+ "; answers of 4 characters. The model:
``Input((7, 12))``, ``LSTM(128)``, ``RepeatVector(4)``, ``LSTM(128, return_sequences=True)``,
``Dense(12, activation="softmax")``; categorical cross-entropy, Adam, accuracy; ``fit`` with
batch 32 and a 10% validation set. Only the import line differs between the systems
(``from rnnkit import layers, models`` or ``from keras import layers, models``).

Each worker builds the same data from one seed, fits a warm-up epoch on 1,000 questions
(tracing, compilation, allocation), then times ``fit(epochs=1)`` over ``--samples`` questions;
the report gives seconds per epoch, the ratio against rnnkit and the validation accuracy.

    python benchmarks/addition_rnn.py [--samples 50000] [--epochs 2] [--threads 2]
                                      [--keras-backends jax,tensorflow] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any, Dict, List

import common

CHARS = "0123456789+ "
DIGITS = 3
QUESTION_LENGTH = DIGITS + 1 + DIGITS  # "123+456"
ANSWER_LENGTH = DIGITS + 1


def make_data(samples: int, seed: int = 0):
    """One-hot questions (samples, 7, 12), reversed as keras.io does, and answers (samples, 4, 12)."""
    import numpy as np
    rng = np.random.default_rng(seed)
    index = {c: i for i, c in enumerate(CHARS)}
    x = np.zeros((samples, QUESTION_LENGTH, len(CHARS)), np.float32)
    y = np.zeros((samples, ANSWER_LENGTH, len(CHARS)), np.float32)
    for n in range(samples):
        a, b = (int(rng.integers(0, 10 ** int(rng.integers(1, DIGITS + 1)))) for _ in range(2))
        question = f"{a}+{b}".ljust(QUESTION_LENGTH)[::-1]
        answer = str(a + b).ljust(ANSWER_LENGTH)
        x[n, np.arange(QUESTION_LENGTH), [index[c] for c in question]] = 1.0
        y[n, np.arange(ANSWER_LENGTH), [index[c] for c in answer]] = 1.0
    return x, y


def worker(system: str, samples: int, epochs: int, threads: int) -> Dict[str, Any]:
    """Times the program under ``system`` ('rnnkit', or 'keras' on KERAS_BACKEND)."""
    if system == "rnnkit":
        import rnnkit
        from rnnkit import layers, models
        rnnkit.config.set_num_threads(threads)
        rnnkit.utils.set_random_seed(0)
        info = {"version": rnnkit.__version__, "isa": rnnkit.config.info()["isa"]}
    else:
        import keras
        from keras import layers, models
        keras.utils.set_random_seed(0)
        info = {"version": keras.__version__, "backend": keras.backend.backend()}
    x, y = make_data(samples + 1000)
    model = models.Sequential([
        layers.Input((QUESTION_LENGTH, len(CHARS))),
        layers.LSTM(128),
        layers.RepeatVector(ANSWER_LENGTH),
        layers.LSTM(128, return_sequences=True),
        layers.Dense(len(CHARS), activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(x[:1000], y[:1000], batch_size=32, epochs=1, verbose=0)  # warm-up
    times: List[float] = []
    history: Dict[str, List[float]] = {}
    for _ in range(epochs):
        start = time.perf_counter()
        h = model.fit(x[1000:], y[1000:], batch_size=32, epochs=1, validation_split=0.1, verbose=0)
        times.append(time.perf_counter() - start)
        for key, values in h.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
    return {"system": system, **info, "epoch_seconds": times, "history": history}


def run_worker(system: str, args: argparse.Namespace, backend: str = "") -> Dict[str, Any]:
    env = common.thread_env(args.threads, **({"KERAS_BACKEND": backend} if backend else {}))
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", system, "--samples", str(args.samples),
           "--epochs", str(args.epochs), "--threads", str(args.threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    result = common.parse_worker_output(done.stdout)
    if done.returncode != 0 or result is None:
        return {"system": system, "backend": backend, "status": "failed", "stderr_tail": done.stderr[-2000:]}
    return {"status": "ok", **result}


def report(out: Dict[str, Any]) -> str:
    base = min(out["rnnkit"]["epoch_seconds"])
    lines = [f"addition_rnn (keras.io): {out['samples']} questions per epoch, batch 32, "
             f"{out['threads']} threads; best of {out['epochs']} timed epochs", "",
             "| system | epoch s (best) | epochs s | vs rnnkit | val_accuracy after the last epoch |",
             "|---|---|---|---|---|"]
    for name, r in [("rnnkit", out["rnnkit"])] + [(f"Keras [{b}]", r) for b, r in out["keras"].items()]:
        if r.get("status") != "ok":
            lines.append(f"| {name} | {r.get('status')} | | | |")
            continue
        best = min(r["epoch_seconds"])
        accuracy = r["history"].get("val_accuracy", [float("nan")])[-1]
        lines.append(f"| {name} {r.get('version', '')} | {best:.2f} | "
                     f"{', '.join(f'{t:.2f}' for t in r['epoch_seconds'])} | {best / base:.2f}x | {accuracy:.3f} |")
    lines += ["", "`vs rnnkit`: the system's best epoch over rnnkit's (above 1: rnnkit is faster)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=50000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keras-backends", default="jax,tensorflow")
    parser.add_argument("--json", default=os.path.join(common.HERE, "results-addition_rnn.json"))
    parser.add_argument("--quick", action="store_true", help="2,000 questions, one epoch, no Keras")
    parser.add_argument("--worker", choices=("rnnkit", "keras"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        common.configure_threads(args.threads)
        common.emit_json(worker(args.worker, args.samples, args.epochs, args.threads))
        return
    if args.quick:
        args.samples, args.epochs, args.keras_backends = 2000, 1, ""
    out: Dict[str, Any] = {"samples": args.samples, "epochs": args.epochs, "threads": args.threads,
                           "load_start": common.load()}
    common.log("addition_rnn: rnnkit ...")
    out["rnnkit"] = run_worker("rnnkit", args)
    if out["rnnkit"]["status"] != "ok":
        sys.exit(out["rnnkit"]["stderr_tail"])
    out["keras"] = {}
    for backend in (b.strip() for b in args.keras_backends.split(",") if b.strip()):
        common.log(f"addition_rnn: Keras on {backend} ...")
        out["keras"][backend] = run_worker("keras", args, backend)
    out["load_end"] = common.load()
    out["report"] = report(out)
    with open(args.json, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
    print(out["report"])


if __name__ == "__main__":
    main()
