#!/usr/bin/env python3
"""rnnkit benchmark suite: kernel level, model level and memory, against PyTorch and Keras 3.

    python benchmarks/run.py                  # everything; markdown table on stdout, JSON file
    python benchmarks/run.py --quick          # tiny sizes, one repeat: a smoke run
    python benchmarks/run.py --only kernel    # or model, memory (repeatable / comma list)

See benchmarks/README.md for what is measured and how. The peers (torch, keras with
tensorflow or jax) are optional: a missing one is reported as "not installed".
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import common  # noqa: E402  (stdlib only: safe before the thread variables are set)

SECTIONS = ("kernel", "model", "memory")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repeat: a smoke run in seconds")
    p.add_argument("--only", action="append", default=None,
                   help="run only these sections: kernel, model, memory (repeatable or comma-separated)")
    p.add_argument("--threads", type=int, default=2, help="threads for every system (default 2)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per measurement (default 7; --quick 1)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs first (default 2; --quick 1)")
    p.add_argument("--dtypes", default="float32,float64", help="kernel level: dtypes (default float32,float64)")
    p.add_argument("--rounds", type=int, default=None,
                   help="kernel level: alternating rounds of the rnnkit and torch processes (default 2; --quick 1)")
    p.add_argument("--json", default=None, help="where to write the raw results (default benchmarks/results.json)")
    p.add_argument("--markdown", default=None, help="also write the markdown report to this file")
    p.add_argument("--model-samples", type=int, default=None, help="model level: sequences (default 20000)")
    p.add_argument("--keras-budget", type=float, default=60.0,
                   help="model level: seconds one Keras epoch may take before a subset is timed and scaled")
    p.add_argument("--keras-backends", default=None,
                   help="Keras 3 backends to try, each in a subprocess (default tensorflow,jax; "
                        "--quick: none, as TensorFlow's start-up alone takes longer than the rest; '' for none)")
    p.add_argument("--build-dir", default=None,
                   help="rnnkit build directory to read the compiler flags from (default: newest build/*/)")
    args = p.parse_args(argv)
    only = set()
    for item in args.only or []:
        only.update(s.strip() for s in item.split(",") if s.strip())
    unknown = only - set(SECTIONS)
    if unknown:
        p.error(f"--only takes {', '.join(SECTIONS)}; got {', '.join(sorted(unknown))}")
    args.sections = [s for s in SECTIONS if not only or s in only]
    if args.repeats is None:
        args.repeats = 1 if args.quick else 7
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    if not args.dtypes or set(args.dtypes) - {"float32", "float64"}:
        p.error(f"--dtypes takes float32 and/or float64; got {args.dtypes}")
    if args.keras_backends is None:
        args.keras_backends = "" if args.quick else "tensorflow,jax"
    if args.json is None:
        args.json = os.path.join(HERE, "results-quick.json" if args.quick else "results.json")
    return args


# ----------------------------------------------------------------------------- machine

def _run(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def compiler_info(build_dir):
    """The flags rnnkit_core was compiled with, read from a CMake/Ninja build directory."""
    candidates = []
    if build_dir:
        candidates = [build_dir]
    else:
        root = os.path.join(REPO, "build")
        if os.path.isdir(root):
            candidates = sorted((os.path.join(root, d) for d in os.listdir(root)),
                                key=lambda d: os.path.getmtime(d), reverse=True)
    for d in candidates:
        ninja = os.path.join(d, "build.ninja")
        if not os.path.isfile(ninja):
            continue
        with open(ninja, encoding="utf-8", errors="replace") as f:
            text = f.read()
        m = re.search(r"build CMakeFiles/rnnkit_core\.dir/\S+\.o:.*?\n(?:  .*\n)*?  FLAGS = (.*)\n", text)
        flags = m.group(1).strip() if m else None
        compiler = None
        cache = os.path.join(d, "CMakeCache.txt")
        if os.path.isfile(cache):
            with open(cache, encoding="utf-8") as f:
                cm = re.search(r"^CMAKE_CXX_COMPILER:\w+=(.*)$", f.read(), re.M)
            if cm:
                out = _run([cm.group(1).strip(), "--version"]).splitlines()
                compiler = out[0] if out else cm.group(1).strip()
        if flags:
            return {"flags": flags, "compiler": compiler, "source": ninja}
    return {"flags": "unknown (no build directory found to read)",
            "compiler": None, "source": None}


def machine_info(args):
    info = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "platform": platform.platform(), "python": platform.python_version(),
            "cores": os.cpu_count(), "threads_used": args.threads}
    lscpu = _run(["lscpu"])
    m = re.search(r"^Model name:\s*(.*)$", lscpu, re.M)
    info["cpu"] = m.group(1).strip() if m else platform.processor()
    flags = re.search(r"^Flags:\s*(.*)$", lscpu, re.M)
    if flags:
        have = set(flags.group(1).split())
        info["simd"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in have]
    with contextlib.suppress(OSError):
        info["load_average_at_start"] = os.getloadavg()
    info["rnnkit_build"] = compiler_info(args.build_dir)
    head = _run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).strip()
    dirty = _run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"]).strip()
    info["repo_commit"] = (head + ("+uncommitted changes" if dirty else "")) if head else None
    from importlib import metadata
    versions = {}
    for name in ("numpy", "rnnkit", "torch", "tensorflow", "keras", "jax", "jaxlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    info["versions"] = versions
    # Variables that hold a library below the CPU's best instruction set (to run as on an AVX2 machine).
    info["isa_limits"] = {name: os.environ[name] for name in
                          ("RNNKIT_ISA", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE")
                          if name in os.environ}
    return info


def blas_info():
    import numpy as np
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - older numpy
        return "unknown"


# ----------------------------------------------------------------------------- formatting

def ms(t):
    return f"{t * 1e3:.2f}" if t < 10 else f"{t * 1e3:.0f}"


def timing_cell(m):
    return f"{ms(m['median'])} ({ms(m['min'])}–{ms(m['max'])})"


def seconds_cell(m):
    return f"{m['median']:.2f} ({m['min']:.2f}–{m['max']:.2f})"


def kernel_tables(rows, peak):
    lines = []
    for dtype, mode, title in [(d, m, t) for d in dict.fromkeys(r["dtype"] for r in rows) for m, t in (
            ("inference",
             "Inference: forward of the whole sequence (rnnkit under ops.no_backward, torch under no_grad)"),
            ("training", "Training step: forward + BPTT + all gradients of out[:, -1].sum()"))]:
        peak_here = (peak or {}).get(dtype)
        lines += [f"### {dtype}. {title}", "",
                  "| cell | B, T, I, H | rnnkit ms median (min–max) | torch ms median (min–max) | rnnkit/torch "
                  "| rnnkit GFLOP/s | torch GFLOP/s | rnnkit % peak | torch % peak | guard |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for r in (r for r in rows if r["dtype"] == dtype):
            s = r["shape"]
            flops = r["flops"][mode]
            ours = r["rnnkit"][mode]
            g_ours = flops / ours["median"] / 1e9
            cells = [common.CELL_NAMES[r["cell"]], f"{s['B']}, {s['T']}, {s['I']}, {s['H']}", timing_cell(ours)]
            if isinstance(r.get("torch"), dict):
                theirs = r["torch"][mode]
                g_theirs = flops / theirs["median"] / 1e9
                guard = r["guard"]
                gtxt = (f"ok ({guard['max_abs_output_diff']:.0e})" if guard["ok"] else
                        f"**FAILED** (out {guard['max_abs_output_diff']:.1e}, grad "
                        f"{max(guard['max_rel_grad_diff'].values()):.1e})")
                cells += [timing_cell(theirs), f"{ours['median'] / theirs['median']:.2f}",
                          f"{g_ours:.1f}", f"{g_theirs:.1f}",
                          f"{100 * g_ours / peak_here:.0f}%" if peak_here else "–",
                          f"{100 * g_theirs / peak_here:.0f}%" if peak_here else "–", gtxt]
            else:
                cells += ["not installed", "–", f"{g_ours:.1f}", "–",
                          f"{100 * g_ours / peak_here:.0f}%" if peak_here else "–", "–", "–"]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def model_table(res):
    cfg = res["config"]
    lines = [f"One epoch of `fit` on {cfg['samples']} sequences (T={cfg['T']}, I={cfg['I']}), batch "
             f"{cfg['batch']}, mse, adam; `predict` over the same data with batch {cfg['predict_batch']}.", "",
             "| model | system | fit epoch s median (min–max) | vs rnnkit | predict samples/s | note |",
             "|---|---|---|---|---|---|"]
    for cell in ("lstm", "gru"):
        name = f"{common.CELL_NAMES[cell]}(64) + Dense(1)"
        base = res["rnnkit"][cell]["fit_epoch"]["median"]
        entries = [("rnnkit", res["rnnkit"][cell], ""), ("PyTorch loop", res["torch"][cell], "")]
        for backend, kres in res["keras"].items():
            label = f"Keras {kres.get('info', {}).get('keras', '')} [{backend}]".replace("  ", " ")
            if kres.get("status") != "ok":
                entries.append((f"Keras [{backend}]", kres.get("status", "failed"), ""))
            else:
                entries.append((label, kres["results"][cell], ""))
        if not res["keras"]:
            entries.append(("Keras", res.get("keras_note", "not run"), ""))
        for system, r, note in entries:
            if not isinstance(r, dict):
                lines.append(f"| {name} | {system} | {r} | – | – | |")
                continue
            if "scaled_from" in r:
                note = f"timed on {r['scaled_from']} sequences, scaled to {cfg['samples']}"
            ratio = r["fit_epoch"]["median"] / base
            lines.append(f"| {name} | {system} | {seconds_cell(r['fit_epoch'])} | {ratio:.2f}x "
                         f"| {r['predict_samples_per_s']:,.0f} | {note} |")
    lines.append("")
    lines.append("`vs rnnkit` is the system's epoch time over rnnkit's (above 1: rnnkit is faster).")
    lines.append("")
    return lines


def memory_table(res):
    s = res["shape"]
    methods = {r["method"] for r in (res.get("rnnkit"), res.get("torch")) if isinstance(r, dict) and "method" in r}
    method = "; ".join(sorted(methods)) or "ru_maxrss delta"
    lines = [f"Peak RSS of one LSTM training step at B, T, I, H = {s['B']}, {s['T']}, {s['I']}, {s['H']} "
             "(fresh subprocess each: peak RSS during the step minus the RSS after imports and inputs; "
             f"{method}).", "",
             "| system | peak delta MiB | baseline MiB | step s |", "|---|---|---|---|"]
    for system in ("rnnkit", "torch"):
        r = res.get(system)
        if isinstance(r, dict) and "delta_bytes" in r:
            lines.append(f"| {system} | {r['delta_bytes'] / 2**20:.0f} | {r['baseline_bytes'] / 2**20:.0f} "
                         f"| {r['step_seconds']:.2f} |")
        else:
            lines.append(f"| {system} | {r if isinstance(r, str) else r.get('status', 'failed')} | – | – |")
    lines += ["", f"rnnkit's float32 buffers for this step, counted from the core: "
                  f"{res['rnnkit_estimate_bytes'] / 2**20:.1f} MiB.", ""]
    return lines


def machine_lines(info, peaks, threads_notes):
    v = info["versions"]
    b = info["rnnkit_build"]
    lines = ["## Machine", "",
             f"- Date: {info['date']}",
             f"- CPU: {info['cpu']}, {info['cores']} cores (SIMD: {', '.join(info.get('simd', []))}); "
             f"{info['platform']}",
             f"- Load average at start: {', '.join(f'{x:.2f}' for x in info.get('load_average_at_start', ()))}",
             f"- Threads for every system: {info['threads_used']}; "
             + "; ".join(f"{k}: {n}" for k, n in threads_notes.items()),
             f"- rnnkit core compiled with: `{b['flags']}`" + (f" ({b['compiler']})" if b.get("compiler") else "")
             + (f", read from `{os.path.relpath(b['source'], REPO)}`" if b.get("source") else ""),
             f"- rnnkit imported from `{info.get('rnnkit_path')}`; repository at {info.get('repo_commit')}",
             f"- rnnkit's kernels: instruction set **{info.get('rnnkit_config', {}).get('isa')}** (of "
             f"{', '.join(info.get('rnnkit_config', {}).get('runnable_isas', []))} this CPU runs); BLAS "
             f"{info.get('rnnkit_config', {}).get('blas')}"
             + (f"; torch's CPU capability {info['torch_cpu_capability']}" if info.get("torch_cpu_capability") else "")
             + ("; instruction sets limited by " + ", ".join(f"{k}={v}" for k, v in info["isa_limits"].items())
                if info.get("isa_limits") else ""),
             "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + f"; Python {info['python']}"
             + (f"; numpy BLAS {info['numpy_blas']}" if info.get("numpy_blas") else "")]
    for dtype, peak in peaks.items():
        extra = ", ".join(f"{k} {peak[k]['gflops']:.1f}" for k in ("numpy", "torch", "torch_1_thread") if k in peak)
        lines.append(f"- {dtype} GEMM peak: **{peak['peak_gflops']:.1f} GFLOP/s** from {peak['source']} on "
                     f"{peak['threads']} threads (best of runs; all: {extra} GFLOP/s)")
    lines.append("")
    return lines


# ----------------------------------------------------------------------------- main

def main(argv=None):
    args = parse_args(argv)
    common.configure_threads(args.threads)  # before numpy/torch are imported
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731 - progress on stderr
    started = time.perf_counter()

    log(f"rnnkit benchmarks ({'quick' if args.quick else 'full'}; sections: {', '.join(args.sections)}; "
        f"{args.threads} threads)")
    info = machine_info(args)
    import numpy as np  # noqa: F401 - now, with the thread variables set
    info["numpy_blas"] = blas_info()
    try:
        import rnnkit
        info["rnnkit_path"] = os.path.dirname(rnnkit.__file__)
        info["rnnkit_config"] = rnnkit.config.info()
        if info["versions"].get("rnnkit") == "not installed":  # importable without metadata
            info["versions"]["rnnkit"] = getattr(rnnkit, "__version__", "unknown")
    except ImportError:
        sys.exit("rnnkit is not installed in this Python: pip install /path/to/rnnkit (see benchmarks/README.md)")
    threads_notes = common.set_library_threads(args.threads)
    torch = common.import_optional("torch")
    if torch is not None:
        info["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    import kernel
    results = {"machine": info, "threads": threads_notes, "args": dict(vars(args))}

    peaks = {}
    if "kernel" in args.sections:
        log("GEMM peak ...")
        peaks = {dtype: kernel.gemm_peak(args.threads, 512 if args.quick else 2048, 3 if args.quick else 10, dtype)
                 for dtype in args.dtypes}
        results["gemm_peak"] = peaks
        log("kernel level ...")
        shapes = kernel.QUICK_SHAPES if args.quick else kernel.FULL_SHAPES
        results["kernel"] = kernel.run(shapes, args.warmup, args.repeats, None if args.quick else 20.0,
                                       args.threads, args.dtypes, args.rounds, log)
    if "model" in args.sections:
        import model
        log("model level ...")
        samples = args.model_samples or (256 if args.quick else 20000)
        steps = 10 if args.quick else 50
        backends = [b.strip() for b in args.keras_backends.split(",") if b.strip()]
        results["model"] = model.run(samples, steps, 8, 64, args.threads, 0, 1 if args.quick else min(args.repeats, 3),
                                     args.keras_budget, backends, 300 if args.quick else 1200, log)
        if not backends:
            results["model"]["keras_note"] = ("skipped in --quick (add --keras-backends tensorflow,jax)"
                                              if args.quick else "skipped (--keras-backends '')")
    if "memory" in args.sections:
        import memory
        log("memory ...")
        results["memory"] = memory.run(memory.QUICK_SHAPE if args.quick else memory.FULL_SHAPE, args.threads)
    with contextlib.suppress(OSError):
        results["machine"]["load_average_at_end"] = os.getloadavg()
    results["wall_seconds"] = time.perf_counter() - started

    lines = [f"# rnnkit benchmarks{' (--quick smoke run: tiny sizes, not meaningful)' if args.quick else ''}", ""]
    lines += machine_lines(info, peaks, threads_notes)
    if "kernel" in results:
        lines += ["## Kernel level (rnnkit.ops vs torch.nn.RNN/LSTM/GRU)", "",
                  f"Each system in a process of its own, {args.rounds} alternating round(s) of "
                  f"{args.repeats} timed runs after {args.warmup} warm-up; the median of the pooled runs "
                  "(min–max in brackets). "
                  "GFLOP/s counts the matrix products: forward 2·T·B·(I+H)·G·H with G = 1, 3, 4 "
                  "(SimpleRNN, GRU, LSTM), training 3× that. `% peak` is against the GEMM peak above. "
                  "`guard`: same weights in both, max |Δ output| (float32: outputs ≤ 1e-4 and gradients "
                  "≤ 1e-3 relative; float64: 1e-10 and 1e-9; or FAILED).", ""]
        lines += kernel_tables(results["kernel"], {d: p["peak_gflops"] for d, p in peaks.items()})
    if "model" in results:
        lines += ["## Model level (Sequential fit / predict)", ""] + model_table(results["model"])
    if "memory" in results:
        lines += ["## Memory", ""] + memory_table(results["memory"])
    la = results["machine"].get("load_average_at_end")
    lines.append(f"Total wall time {results['wall_seconds']:.0f} s"
                 + (f"; load average at end {', '.join(f'{x:.2f}' for x in la)}" if la else "") + ".")
    report = "\n".join(lines) + "\n"
    print(report)
    results["markdown"] = report
    with open(args.json, "w", encoding="utf-8") as fh:
        json.dump(results, fh, indent=1, default=str)
    log(f"raw results: {args.json}")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as fh:
            fh.write(report)
        log(f"markdown: {args.markdown}")


if __name__ == "__main__":
    main()
