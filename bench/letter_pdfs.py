"""What making a sent letter's PDF costs (`diagrams/printed_letters.py`), on real letters.

Reads the sent letters of a database made by `workflow-app demo` (its history sends about 200
letters of the three landlords' templates), and prints each again as `LetterService.send` does:
cleaned, at the standard size and in large print. Prints, per landlord and size, the median,
95th percentile and largest time per letter (wall and CPU), pages and bytes; and the first
print in this process (WeasyPrint's import, Pango's and fontconfig's set-up) on its own.

Run: workflow-app demo (or WORKFLOW_APP_INSTANCE=/tmp/x workflow-app demo), then
     python bench/letter_pdfs.py --sqlite instance/workflow_app.sqlite3 [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from workflow_app.casework.letters import clean_html  # noqa: E402
from workflow_app.casework.models import Complaint, Letter  # noqa: E402
from workflow_app.diagrams.printed_letters import LARGE_PRINT_PT, STANDARD_PT, print_letter  # noqa: E402


def letters(database: Path) -> list[tuple[str, str, str]]:
    """(landlord, reference, cleaned body) of every sent letter."""
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as session:
        rows = session.execute(select(Complaint.landlord, Complaint.reference, Letter.body_html)
                               .join(Complaint, Complaint.id == Letter.complaint_id)
                               .where(Letter.status == "sent").order_by(Letter.id)).all()
    engine.dispose()
    return [(landlord, reference, clean_html(body or "")) for landlord, reference, body in rows]


def timed(body: str, reference: str, landlord: str, size: int) -> tuple[float, float, int, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    printed = print_letter(body, title=f"Letter: {reference}", reference=reference, landlord=landlord,
                           sent_at=datetime(2027, 1, 15, tzinfo=UTC), size_pt=size,
                           folder=ROOT / "processes" / landlord / "letters")
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000, printed.pages, \
        len(printed.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite", type=Path, required=True, help="a database made by `workflow-app demo`")
    parser.add_argument("--rounds", type=int, default=3, help="times each letter is printed at each size")
    args = parser.parse_args()
    sample = letters(args.sqlite)
    if not sample:
        sys.exit("no sent letters in that database: run `workflow-app demo` first")
    landlord, reference, body = sample[0]
    wall, cpu, _, _ = timed(body, reference, landlord, STANDARD_PT)
    print(f"first print in this process: {wall:.0f} ms wall, {cpu:.0f} ms CPU")
    results: dict[tuple[str, int], list[tuple[float, float, int, int]]] = defaultdict(list)
    for _ in range(args.rounds):
        for landlord, reference, body in sample:
            for size in (STANDARD_PT, LARGE_PRINT_PT):
                results[landlord, size].append(timed(body, reference, landlord, size))
    print(f"{len(sample)} sent letters, {args.rounds} rounds; ms per letter")
    print(f"{'landlord':<16} {'pt':>3} {'wall p50':>9} {'p95':>6} {'max':>6} {'cpu p50':>8} {'pages':>6} {'KB':>5}")
    everything = []
    for (landlord, size), runs in sorted(results.items()):
        walls = sorted(r[0] for r in runs)
        everything += runs
        print(f"{landlord:<16} {size:>3} {statistics.median(walls):>9.0f} {walls[int(0.95 * (len(walls) - 1))]:>6.0f}"
              f" {walls[-1]:>6.0f} {statistics.median(r[1] for r in runs):>8.0f}"
              f" {statistics.median(r[2] for r in runs):>6.0f} {statistics.median(r[3] for r in runs) / 1024:>5.1f}")
    walls = sorted(r[0] for r in everything)
    print(f"{'all':<16} {'':>3} {statistics.median(walls):>9.0f} {walls[int(0.95 * (len(walls) - 1))]:>6.0f}"
          f" {walls[-1]:>6.0f} {statistics.median(r[1] for r in everything):>8.0f}")


if __name__ == "__main__":
    main()
