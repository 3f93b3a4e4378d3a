"""Cold start: fresh Python processes, ratios to scikit-learn's ``KBinsDiscretizer``
measured in the same run: the cases run interleaved (one process of each per round,
the order reversed every other round, so that a busy machine slows both alike), and
each is reported by its best and its median over ``--repeat`` rounds.

Rows (issue 16, deliverable 4):

- ``import``: ``import skquant`` against ``from sklearn.preprocessing import
  KBinsDiscretizer`` (target: at most the latter + 0.4 s);
- ``import + fit + transform``: a fresh process's import, first fit and transform of
  1000 x 4 normal values at 16 levels with a warm numba cache (one untimed run first
  fills it), ``LloydMaxQuantizer(n_bits=4)`` against ``KBinsDiscretizer(n_bins=16,
  encode="ordinal")`` (its default strategy, "quantile"; target: at most 1.0x);
- ``skquant --help`` and ``skquant --version`` (target: under 0.5 s each).

The fit row also gives the CPU time (user + system) of the processes, best and median,
and their ratios: on a machine shared with other jobs it moves less than the wall time.
``--callgrind`` instead counts the instructions of one process of each fit case under
valgrind's callgrind (about 90 s each), a measure the machine's load does not move
(this machine's virtual CPUs give no hardware counters to ``perf``).

The child processes may write bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped from
their environment): an installed package has its modules compiled, as scikit-learn's
are, and the first untimed run compiles skquant's (a checkout run with that variable
set would recompile every skquant module in every process, ~20 ms that no user pays).

Run from the repository root, with skquant installed::

    python benchmarks/bench_cold_start.py [--repeat 15] [--json out.json]
    python benchmarks/bench_cold_start.py --callgrind
"""

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

_DATA = "import numpy as np\nX = np.random.default_rng(0).standard_normal((1000, 4))\n"
CASES = {
    "kbins import": "from sklearn.preprocessing import KBinsDiscretizer\n",
    "skquant import": "import skquant\n",
    "kbins import + fit + transform": (
        "from sklearn.preprocessing import KBinsDiscretizer\n" + _DATA
        + "KBinsDiscretizer(n_bins=16, encode='ordinal').fit(X).transform(X)\n"
    ),
    "skquant import + fit + transform": (
        "import skquant\n" + _DATA + "skquant.LloydMaxQuantizer(n_bits=4).fit(X).transform(X)\n"
    ),
    "skquant --help": "from skquant._cli import main\nmain(['--help'])\n",
    "skquant --version": "from skquant._cli import main\nmain(['--version'])\n",
}


def measure(repeat):
    """``{case: [(wall s, CPU s), ...]}`` over ``repeat`` interleaved rounds of fresh
    processes (the order of the cases reversed every other round)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(code):
        t = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall = time.perf_counter() - t
        return wall, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime

    for code in CASES.values():  # warm the numba cache, the bytecode and the OS file cache
        run(code)
    runs = {name: [] for name in CASES}
    names = list(CASES)
    for i in range(repeat):
        for name in names if i % 2 == 0 else names[::-1]:
            runs[name].append(run(CASES[name]))
    return runs


def instructions(names):
    """``{case: instructions}`` of one fresh process of each case under callgrind (warm
    numba cache and bytecode: each case runs once untimed first)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    counts = {}
    for name in names:
        subprocess.run([sys.executable, "-c", CASES[name]], check=True, env=env,
                       capture_output=True)
        with tempfile.TemporaryDirectory() as tmp:
            r = subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
                 sys.executable, "-c", CASES[name]],
                check=True, env=env, capture_output=True, text=True)
        counts[name] = int(re.search(r"Collected : (\d+)", r.stderr).group(1))
    return counts


def _stats(runs):
    """``(best wall, median wall, best CPU, median CPU)`` of a case's runs."""
    wall = sorted(w for w, _ in runs)
    cpu = sorted(c for _, c in runs)
    return wall[0], statistics.median(wall), cpu[0], statistics.median(cpu)


def rows_of(runs):
    kb_imp, kb_imp_med, _, _ = _stats(runs["kbins import"])
    imp, imp_med, _, _ = _stats(runs["skquant import"])
    kb_fit, kb_fit_med, kb_cpu, kb_cpu_med = _stats(runs["kbins import + fit + transform"])
    fit, fit_med, cpu, cpu_med = _stats(runs["skquant import + fit + transform"])
    help_s, help_med, _, _ = _stats(runs["skquant --help"])
    version_s, version_med, _, _ = _stats(runs["skquant --version"])
    r = 3
    return [
        {"case": "import", "skquant_s": round(imp, r), "kbins_s": round(kb_imp, r),
         "difference_s": round(imp - kb_imp, r), "target": "<= +0.4 s",
         "skquant_median_s": round(imp_med, r), "kbins_median_s": round(kb_imp_med, r),
         "median_difference_s": round(imp_med - kb_imp_med, r)},
        {"case": "import + fit + transform", "skquant_s": round(fit, r),
         "kbins_s": round(kb_fit, r), "ratio": round(fit / kb_fit, 2), "target": "<= 1.0x",
         "skquant_median_s": round(fit_med, r), "kbins_median_s": round(kb_fit_med, r),
         "median_ratio": round(fit_med / kb_fit_med, 2),
         "skquant_cpu_s": round(cpu, r), "kbins_cpu_s": round(kb_cpu, r),
         "cpu_ratio": round(cpu / kb_cpu, 2),
         "skquant_cpu_median_s": round(cpu_med, r), "kbins_cpu_median_s": round(kb_cpu_med, r),
         "cpu_median_ratio": round(cpu_med / kb_cpu_med, 2),
         "rounds": len(runs["skquant import + fit + transform"])},
        {"case": "skquant --help", "skquant_s": round(help_s, r),
         "skquant_median_s": round(help_med, r), "target": "< 0.5 s"},
        {"case": "skquant --version", "skquant_s": round(version_s, r),
         "skquant_median_s": round(version_med, r), "target": "< 0.5 s"},
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=15,
                   help="interleaved rounds (fresh processes per case)")
    p.add_argument("--json", help="write the rows to this file")
    p.add_argument("--callgrind", action="store_true",
                   help="count the fit cases' instructions under valgrind instead")
    a = p.parse_args()
    if a.callgrind:
        kb, sk = "kbins import + fit + transform", "skquant import + fit + transform"
        n = instructions([kb, sk])
        for name in (kb, sk):
            print(f"{name}: {n[name]:,} instructions")
        print(f"skquant / KBinsDiscretizer: {n[sk] / n[kb]:.3f}")
        return
    rows = rows_of(measure(a.repeat))
    cols = ["case", "skquant_s", "kbins_s", "difference_s", "ratio", "skquant_median_s",
            "kbins_median_s", "median_difference_s", "median_ratio", "skquant_cpu_s",
            "kbins_cpu_s", "cpu_ratio", "skquant_cpu_median_s", "kbins_cpu_median_s",
            "cpu_median_ratio", "target"]
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(cols, widths)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
