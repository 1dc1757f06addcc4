"""The Code check of each landlord's diagram: cold (a fresh process) and unchanged (answered from the cache).

For each landlord in `processes/`, a fresh Python process per run imports the check (and the
modules it uses on first call: the landlord settings' reader), reads `forms/`, then times, in
CPU seconds:
- cold: `check_file(processes/<landlord>/complaint.bpmn, forms)`, nothing cached;
- unchanged: the same call again on the unchanged diagram, answered from the content cache
  (`diagrams/code_check/cache.py`): the median of several calls.
It prints the median of the runs beside the goal (cold < 1 s, unchanged < 50 ms), and the
import time the first check in a process would otherwise carry. It is not a timed test. Run:

    python bench/code_check.py                      # every landlord, 3 runs each
    python bench/code_check.py harrogate --runs 5
    python bench/code_check.py --src /tmp/old/src   # another checkout's code, for a before/after
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLD_GOAL, UNCHANGED_GOAL = 1.0, 0.050
UNCHANGED_CALLS = 7


def one_run(landlord: str) -> dict[str, float]:
    """In this (fresh) process: import, read the forms, check once cold, then unchanged."""
    from workflow_app.casework.deployments import read_forms
    from workflow_app.diagrams.code_check import check_file
    started = time.process_time()
    import workflow_app.rules.landlords  # noqa: F401  (check_file imports it on first use)
    imports = time.process_time() - started
    forms = read_forms(ROOT / "forms")
    diagram = ROOT / "processes" / landlord / "complaint.bpmn"
    started = time.process_time()
    findings = check_file(diagram, forms)
    cold = time.process_time() - started
    unchanged = []
    for _ in range(UNCHANGED_CALLS):
        started = time.process_time()
        again = check_file(diagram, forms)
        unchanged.append(time.process_time() - started)
        assert again == findings
    return {"cold": cold, "unchanged": statistics.median(unchanged), "imports": imports, "findings": len(findings)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landlords", nargs="*", help="landlord folders in processes/ (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per landlord (default 3)")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the package's src folder to time")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        sys.path.insert(0, str(args.src))
        print(json.dumps(one_run(args.one)))
        return
    landlords = args.landlords or sorted(p.name for p in (ROOT / "processes").iterdir()
                                         if (p / "complaint.bpmn").is_file())
    env = {**os.environ, "PYTHONPATH": str(args.src.resolve())}
    print(f"Code check, CPU seconds, median of {args.runs} fresh processes per landlord ({args.src})")
    print(f"{'landlord':<18}{'cold':>9}{'goal':>7}{'unchanged':>12}{'goal':>8}{'imports':>10}{'findings':>10}")
    for landlord in landlords:
        runs = []
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, __file__, "--one", landlord, "--src", str(args.src.resolve())],
                                 env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
        cold = statistics.median(r["cold"] for r in runs)
        unchanged = statistics.median(r["unchanged"] for r in runs)
        imports = statistics.median(r["imports"] for r in runs)
        print(f"{landlord:<18}{cold:>8.3f}s{'<' + str(COLD_GOAL) + 's':>7}{unchanged * 1000:>10.1f}ms"
              f"{'<' + str(int(UNCHANGED_GOAL * 1000)) + 'ms':>8}{imports:>9.3f}s{runs[0]['findings']:>10}"
              + ("" if cold < COLD_GOAL and unchanged < UNCHANGED_GOAL else "   over the goal"))


if __name__ == "__main__":
    main()
