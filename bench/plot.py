"""Latency plots for ``docs/benchmarks.md`` from ``bench/api.py --json`` files.

    python bench/plot.py BEFORE.json AFTER.json --out docs/benchmarks [--prefix api-]

One PNG per endpoint: the latency percentile curve (p1 … p99.9) of every round of each
run, the bare view of the same run drawn beside it. Needs matplotlib (the ``dev`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="JSON files; the label is the file's stem")
    parser.add_argument("--out", default="docs/benchmarks")
    parser.add_argument("--prefix", default="api-", help="file names: <prefix><endpoint>.png")
    args = parser.parse_args()
    runs = {Path(p).stem: json.loads(Path(p).read_text()) for p in args.runs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    endpoints = [e for e in next(iter(runs.values()))["runs"] if e != "bare"]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for endpoint in endpoints:
        fig, ax = plt.subplots(figsize=(7, 4))
        for i, (label, data) in enumerate(runs.items()):
            colour = colours[i % len(colours)]
            for r, (res, bare) in enumerate(zip(data["runs"][endpoint], data["runs"]["bare"],
                                                strict=True)):
                ps = [float(p) for p in res["percentiles_ms"]]
                ax.plot(ps, list(res["percentiles_ms"].values()), color=colour,
                        label=f"{label}: {endpoint}" if r == 0 else None)
                ax.plot(ps, list(bare["percentiles_ms"].values()), color=colour, alpha=0.4,
                        linestyle="--", label=f"{label}: bare /healthz" if r == 0 else None)
        ax.set_yscale("log")
        ax.set_xlabel("percentile")
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title(f"{endpoint}: latency by percentile, each round "
                     f"({next(iter(runs.values()))['connections']} connections)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / f"{args.prefix}{endpoint}.png", dpi=110)
        plt.close(fig)
        print(out / f"{args.prefix}{endpoint}.png")


if __name__ == "__main__":
    main()
