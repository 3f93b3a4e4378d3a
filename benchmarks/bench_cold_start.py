"""Cold start: fresh Python processes, best of ``--repeat``, ratios to scikit-learn's
``KBinsDiscretizer`` measured in the same run (runs interleaved, so that a busy
machine slows both alike).

Rows (issue 16, deliverable 4):

- ``import``: ``import skquant`` against ``from sklearn.preprocessing import
  KBinsDiscretizer`` (target: at most the latter + 0.4 s);
- ``import + fit + transform``: a fresh process's import, first fit and transform of
  1000 x 4 normal values at 16 levels with a warm numba cache (one untimed run first
  fills it), ``LloydMaxQuantizer(n_bits=4)`` against ``KBinsDiscretizer(n_bins=16,
  encode="ordinal")`` (target: at most 1.0x);
- ``skquant --help`` and ``skquant --version`` (target: under 0.5 s each).

The fit row also gives the best CPU time (user + system) of the processes and its
ratio: on a machine shared with other jobs it moves less than the wall time.

The child processes may write bytecode (``PYTHONDONTWRITEBYTECODE`` is dropped from
their environment): an installed package has its modules compiled, as scikit-learn's
are, and the first untimed run compiles skquant's (a checkout run with that variable
set would recompile every skquant module in every process, ~20 ms that no user pays).

Run from the repository root, with skquant installed::

    python benchmarks/bench_cold_start.py [--repeat 5] [--json out.json]
"""

import argparse
import json
import os
import resource
import subprocess
import sys
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
    """``{case: best wall time in s}`` over ``repeat`` interleaved fresh processes."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(code):
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=env)

    for code in CASES.values():  # warm the numba cache, the bytecode and the OS file cache
        run(code)
    best = dict.fromkeys(CASES, float("inf"))
    cpu = dict.fromkeys(CASES, float("inf"))
    for _ in range(repeat):
        for name, code in CASES.items():
            t = time.perf_counter()
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            run(code)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            best[name] = min(best[name], time.perf_counter() - t)
            used = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
            cpu[name] = min(cpu[name], used)
    return best, cpu


def rows_of(best, cpu):
    kb_imp, kb_fit = best["kbins import"], best["kbins import + fit + transform"]
    imp, fit = best["skquant import"], best["skquant import + fit + transform"]
    cpu_fit, cpu_kb = cpu["skquant import + fit + transform"], cpu["kbins import + fit + transform"]
    return [
        {"case": "import", "skquant_s": round(imp, 3), "kbins_s": round(kb_imp, 3),
         "difference_s": round(imp - kb_imp, 3), "target": "<= +0.4 s"},
        {"case": "import + fit + transform", "skquant_s": round(fit, 3),
         "kbins_s": round(kb_fit, 3), "ratio": round(fit / kb_fit, 2), "target": "<= 1.0x",
         "skquant_cpu_s": round(cpu_fit, 3), "kbins_cpu_s": round(cpu_kb, 3),
         "cpu_ratio": round(cpu_fit / cpu_kb, 2)},
        {"case": "skquant --help", "skquant_s": round(best["skquant --help"], 3),
         "target": "< 0.5 s"},
        {"case": "skquant --version", "skquant_s": round(best["skquant --version"], 3),
         "target": "< 0.5 s"},
    ]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="fresh processes per case")
    p.add_argument("--json", help="write the rows to this file")
    a = p.parse_args()
    rows = rows_of(*measure(a.repeat))
    cols = ["case", "skquant_s", "kbins_s", "difference_s", "ratio", "target",
            "skquant_cpu_s", "kbins_cpu_s", "cpu_ratio"]
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in cols]
    print("  ".join(c.ljust(w) for c, w in zip(cols, widths)))
    for r in rows:
        print("  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(cols, widths)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
