"""Regenerate the README's speed tables from the benchmarks (issue 16, deliverable 7).

Runs ``bench_transform.py`` and ``bench_cold_start.py`` (``--json``), stores their
rows in ``benchmarks/results/`` and rewrites the block of ``README.md`` between
``<!-- speed-tables:begin -->`` and ``<!-- speed-tables:end -->`` from them. With
``--from-results`` the stored rows are rendered again without running anything
(``tests/test_readme.py`` checks that the README holds exactly that rendering).

Run from the repository root, with skquant installed (``pip install ".[bench]"``)::

    python benchmarks/make_readme_table.py [--quick] [--from-results] [--only cold_start]

``--only NAME`` runs that benchmark alone and renders it with the stored rows of the
others (a change that cannot move the others' numbers).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
RESULTS = HERE / "results"
BEGIN, END = "<!-- speed-tables:begin -->", "<!-- speed-tables:end -->"
SCRIPTS = {"transform": "bench_transform.py", "cold_start": "bench_cold_start.py"}


def run_benchmarks(quick, only=None):
    RESULTS.mkdir(exist_ok=True)
    for name, script in SCRIPTS.items():
        if only is not None and name != only:
            continue
        args = [sys.executable, str(HERE / script), "--json", str(RESULTS / f"{name}.json")]
        if quick:
            args += ["--quick"] if name == "transform" else ["--repeat", "3"]
        subprocess.run(args, check=True, cwd=HERE)


def load_results():
    return {name: json.loads((RESULTS / f"{name}.json").read_text()) for name in SCRIPTS}


def _ratio(rows, quantizer, bits, dtype, threads):
    for r in rows:
        if (r["quantizer"], r["bits"], r["dtype"], r["threads"]) == (quantizer, bits, dtype,
                                                                      threads):
            return f"{r['ratio']:.2f}"
    return ""


def render(results):
    """The README block (without the markers) for the benchmark ``results``."""
    tr = results["transform"]
    settings = [("float64", 1), ("float64", 2), ("float32", 1), ("float32", 2)]
    names = list(dict.fromkeys(r["quantizer"] for r in tr))
    n_rows = {r["quantizer"] for r in tr if r["threads"] == 2}
    lines = [
        "`transform` (`encode=\"ordinal\"`) of 10^6 x 8 values over `X.copy()` of the same",
        "array, same run (`python benchmarks/bench_transform.py`; targets: at most 1.2x at",
        "4 bits on 2 threads, 1.5x at 8 bits). Stored run: one run on the 2-core",
        "development machine (its load is given above the table); each ratio compares",
        "calls interleaved in the same run:",
        "",
        "| transform | bits | "
        + " | ".join(f"{dt} {t} thread{'s' if t > 1 else ''}" for dt, t in settings) + " |",
        "| --- | ---: | " + " | ".join("---:" for _ in settings) + " |",
    ]
    for name in names:
        label = f"skquant `{name}`" if name in n_rows else name
        for bits in (4, 8):
            cells = [_ratio(tr, name, bits, dt, t) for dt, t in settings]
            lines.append(f"| {label} | {bits} | " + " | ".join(cells) + " |")
    lines.append("| floor: `X.copy()` | | " + " | ".join("1.00" for _ in settings) + " |")
    lines += [
        "",
        "Cold start, fresh processes with a warm numba cache, against scikit-learn in the",
        "same run, interleaved (`python benchmarks/bench_cold_start.py`); each cell is the",
        "best of the rounds, the median in parentheses:",
        "",
        "| cold start | skquant s | KBinsDiscretizer s | skquant vs KBinsDiscretizer | target |",
        "| --- | ---: | ---: | ---: | --- |",
    ]

    def cell(r, key, fmt):  # the best, then the median (rows without one: the best)
        median = {"skquant_s": "skquant_median_s", "kbins_s": "kbins_median_s",
                  "difference_s": "median_difference_s", "ratio": "median_ratio"}[key]
        text = fmt.format(r[key])
        return f"{text} ({fmt.format(r[median])})" if median in r else text

    for r in results["cold_start"]:
        if "ratio" in r:
            rel = cell(r, "ratio", "{:.2f}x")
            if "cpu_ratio" in r:
                cpu = f"{r['cpu_ratio']:.2f}x"
                if "cpu_median_ratio" in r:
                    cpu += f" ({r['cpu_median_ratio']:.2f}x)"
                rel += f", CPU time {cpu}"
        elif "difference_s" in r:
            rel = cell(r, "difference_s", "{:+.3f} s")
        else:
            rel = ""
        kb = cell(r, "kbins_s", "{:.3f}") if "kbins_s" in r else ""
        sk = cell(r, "skquant_s", "{:.3f}")
        lines.append(f"| {r['case']} | {sk} | {kb} | {rel} | {r['target']} |")
    return "\n".join(lines)


def rewrite(text, block):
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{block}\n{END}{tail}"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--from-results", action="store_true",
                   help="render benchmarks/results/*.json without running the benchmarks")
    p.add_argument("--only", choices=sorted(SCRIPTS),
                   help="run only this benchmark (the others' stored rows are kept)")
    a = p.parse_args()
    if not a.from_results:
        run_benchmarks(a.quick, a.only)
    README.write_text(rewrite(README.read_text(encoding="utf-8"), render(load_results())),
                      encoding="utf-8")


if __name__ == "__main__":
    main()
