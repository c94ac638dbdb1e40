"""Where a relink's time and memory go, phase by phase: wall seconds, CPU seconds of this
process and of its workers, and this process's peak resident set when each phase ends.

    python benchmarks/relink_phases.py COPY [--full]

COPY is a collection the run may rewrite (give a copy: a full relink of
`../shared/tools/gen_corpus.py` pages changes nearly every file). The workers' CPU is
counted when their pool ends, so it lands in the phase that ran them. "(before)" is the
index refresh and the state's checks that come before the first phase (a cold index build
when COPY has no index yet).
"""

from __future__ import annotations

import argparse
import resource
import time

from qtkit.relink import relink


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="a copy of a collection (the run writes its files)")
    parser.add_argument("--full", action="store_true", help="score every page (relink --full)")
    args = parser.parse_args()

    marks: dict[str, tuple[float, float, float]] = {}  # phase -> (start, own CPU, workers' CPU) at its start

    def tell(phase: str, done: int, total: int) -> None:
        if phase not in marks:
            marks[phase] = (time.perf_counter(), _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN))

    start = time.perf_counter()
    report = relink(args.root, full=args.full, progress=tell)
    marks["end"] = (time.perf_counter(), _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| phase | seconds | CPU s (this process) | CPU s (workers) |")
    print("|---|---:|---:|---:|")
    previous = ("(before)", start, 0.0, 0.0)
    for phase, (at, own, workers) in marks.items():
        name, since, own0, workers0 = previous
        print(f"| {name} | {at - since:.2f} | {own - own0:.1f} | {workers - workers0:.1f} |")
        previous = (phase, at, own, workers)
    print(f"\n{time.perf_counter() - start:.2f} s in all; {len(report.changed):,} pages changed;"
          f" peak resident set of this process {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
