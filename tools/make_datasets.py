"""Makes the real datasets shipped in python/rnnkit/datasets/data/ from the wheels that carry them.

    pip download --no-deps sktime statsmodels -d wheels/
    python tools/make_datasets.py wheels/sktime-*.whl wheels/statsmodels-*.whl

- japanese_vowels.npz, from sktime's copy of the UCI Japanese Vowels set
  (sktime/datasets/data/JapaneseVowels/JapaneseVowels_{TRAIN,TEST}.ts): the official split of
  270 training and 370 test utterances, each (length, 12) LPC cepstrum coefficients, stored
  as one (steps, 12) array per split with the lengths and the speaker labels 1..9. The file
  gives every value with 6 decimals: they are stored as int32 millionths, and n / 1e6 (one
  correctly rounded division) gives back exactly the float64 that parsing the text gives.
- sunspots.npz, from statsmodels' yearly sunspot numbers 1700-2008
  (statsmodels/datasets/sunspots/sunspots.csv): years and values.

The arrays are saved with np.savez_compressed, so
rnnkit reads them with np.load(allow_pickle=False).
"""

import argparse
import csv
import io
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "python" / "rnnkit" / "datasets" / "data"


def read_ts(text: str):
    """The cases of a .ts file: each line is dim_1:...:dim_12:label, each dim a comma list."""
    steps, lengths, labels = [], [], []
    body = text.split("@data", 1)[1]
    for line in body.strip().splitlines():
        *dims, label = line.strip().split(":")
        texts = [dim.split(",") for dim in dims]
        values = np.array([[float(v) for v in dim] for dim in texts])  # (12, length)
        micro = np.array([[round(float(v) * 1e6) for v in dim] for dim in texts], np.int64)
        if not np.array_equal(micro / 1e6, values):
            raise ValueError("a value has more than 6 decimals")
        steps.append(micro.T.astype(np.int32))
        lengths.append(values.shape[1])
        labels.append(int(label))
    return np.concatenate(steps), np.array(lengths, np.int64), np.array(labels, np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sktime_wheel")
    parser.add_argument("statsmodels_wheel")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    arrays = {}
    with zipfile.ZipFile(args.sktime_wheel) as wheel:
        for part in ("train", "test"):
            name = f"sktime/datasets/data/JapaneseVowels/JapaneseVowels_{part.upper()}.ts"
            steps, lengths, labels = read_ts(wheel.read(name).decode())
            arrays |= {f"{part}_micro": steps, f"{part}_lengths": lengths, f"{part}_labels": labels}
    np.savez_compressed(OUT / "japanese_vowels.npz", **arrays)
    with zipfile.ZipFile(args.statsmodels_wheel) as wheel:
        rows = list(csv.DictReader(io.StringIO(wheel.read("statsmodels/datasets/sunspots/sunspots.csv").decode())))
    np.savez_compressed(OUT / "sunspots.npz", years=np.array([int(float(r["YEAR"])) for r in rows], np.int64),
                        values=np.array([float(r["SUNACTIVITY"]) for r in rows]))
    for path in sorted(OUT.glob("*.npz")):
        print(path.name, path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
