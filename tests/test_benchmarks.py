"""The benchmark suite keeps working: its --quick smoke run (tiny sizes, one repeat).

Speed is never asserted here; this only checks that every section runs and reports
rnnkit's numbers, with the peers (torch, Keras) absent or present.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs the benchmark scripts

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script, results_path, *extra):
    """Runs ``benchmarks/<script> --quick --threads 1 --json results_path *extra``; its results."""
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--quick", "--threads", "1",
                          "--json", str(results_path), *extra], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(results_path.read_text())


def test_quick_benchmark_run_reports_every_section(tmp_path):
    results_path = tmp_path / "results.json"
    markdown_path = tmp_path / "results.md"
    results = run_quick("run.py", results_path, "--markdown", str(markdown_path))

    assert {(row["cell"], row["dtype"]) for row in results["kernel"]} == {
        (cell, dtype) for cell in ("simple_rnn", "lstm", "gru") for dtype in ("float32", "float64")}
    for row in results["kernel"]:
        for mode in ("inference", "training"):
            timing = row["rnnkit"][mode]
            assert 0 < timing["min"] <= timing["median"] <= timing["max"]
        if isinstance(row.get("torch"), dict):  # torch installed: the guard compared both
            assert row["guard"]["ok"], row["guard"]
    for cell in ("lstm", "gru"):
        model = results["model"]["rnnkit"][cell]
        assert model["fit_epoch"]["median"] > 0 and model["predict_samples_per_s"] > 0
    memory = results["memory"]["rnnkit"]
    assert memory["peak_bytes"] >= memory["baseline_bytes"] > 0
    assert results["gemm_peak"]["float32"]["peak_gflops"] > 0 and results["gemm_peak"]["float64"]["peak_gflops"] > 0

    report = markdown_path.read_text()
    for heading in ("## Machine", "## Kernel level", "## Model level", "## Memory"):
        assert heading in report


def test_quick_masking_benchmark_reports_both_sections(tmp_path):
    results = run_quick("masking.py", tmp_path / "masking.json")
    assert {row["cell"] for row in results["masking"]} == {"lstm", "gru"}
    for row in results["masking"]:
        assert 0 < row["valid_fraction"] < 1
        assert row["masked"]["median"] > 0 and row["unmasked"]["median"] > 0
    embedding = results["embedding"]
    assert embedding["step"]["median"] > 0
    assert 0 < embedding["tracemalloc"]["step2"] < embedding["one_hot_bytes"]


def test_quick_functional_benchmark_reports_overheads(tmp_path):
    results = run_quick("functional.py", tmp_path / "functional.json")
    assert results["threads"] == 1 and results["quick"] is True
    for kind in ("functional", "sequential"):
        case = results[kind]
        assert case["guard"]["ok"], case["guard"]
        assert set(case["variants"]) == {"train_on_batch", "forward+pullback", "kernels+loss+opt", "kernels"}
        for timing in case["variants"].values():
            assert 0 < timing["min"] <= timing["median"] <= timing["max"]
            assert len(timing["times"]) == results["repeats"]
        for key in ("overhead", "overhead_median_per_rep", "graph_overhead", "overhead_over_manual_step"):
            assert isinstance(case[key], float) and case[key] < 1
        assert set(case["breakdown_s"]) == {"kernels", "loss_and_optimizer", "graph_executor",
                                            "rest_of_train_on_batch"}
    profile = results["profile"]
    if results["functional"]["overhead"] >= results["target"]:  # profiled only above the target
        assert set(profile["split_s"]) == {"kernels", "kernel_path_self", "side_work"}
        assert profile["split_s"]["kernels"] > 0 and profile["side_work"] and profile["kernel_path"]
    else:
        assert profile is None
    assert "| Model: 2 x (Input, LSTM), concatenate, Dense |" in results["report"]


def test_quick_fit_overhead_benchmark_splits_the_step(tmp_path):
    results = run_quick("fit_overhead.py", tmp_path / "fit_overhead.json")
    run = results["runs"][0]
    assert run["step_ms"] > run["core_ms"] > 0 and 0 < run["outside_share"] < 1
    assert run["lstm_forward_ms"] > 0 and run["optimizer_update_ms"] > 0
    step = results["optimizer_step"]
    assert step["built_in_adam_ms"] > 0 and step["numpy_adam_ms"] > 0


def test_quick_threads_benchmark_compares_one_and_two_threads(tmp_path):
    results = run_quick("threads.py", tmp_path / "threads.json")
    (row,) = results["rows"]
    assert row["one_thread_ms"] > 0 and row["two_threads_ms"] > 0


def test_quick_addition_rnn_benchmark_trains_and_reports(tmp_path):
    results = run_quick("addition_rnn.py", tmp_path / "addition.json")
    run = results["rnnkit"]
    assert run["status"] == "ok" and len(run["epoch_seconds"]) == 1 and run["epoch_seconds"][0] > 0
    assert set(run["history"]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert results["keras"] == {}  # --quick runs no Keras
    assert "| rnnkit" in results["report"]
