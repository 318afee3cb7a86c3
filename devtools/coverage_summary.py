"""Line coverage of the library and the services, per layer, from the ``.coverage`` data
``make test`` collects (``pytest --cov``): what ``make test`` prints after the tests.

Measured in the test process only: code that runs only inside the processes the e2e
tests start (``quantrun serve``, the emulator stack's services) counts as not run, so
the figures are a lower bound.
"""

from __future__ import annotations

import io
from pathlib import Path

# label -> the files it covers (coverage's include patterns, relative to the repository)
PARTS: dict[str, str] = {
    "shared_lib/quantrun (all)": "*/shared_lib/quantrun/*",
    "  models": "*/shared_lib/quantrun/models/*",
    "  catalog": "*/shared_lib/quantrun/catalog/*",
    "  domain": "*/shared_lib/quantrun/domain/*",
    "  app (use cases)": "*/shared_lib/quantrun/app/*",
    "  adapters": "*/shared_lib/quantrun/adapters/*",
    "services (all)": "*/services/*",
    "  api": "*/services/api/*",
    "  worker": "*/services/worker/*",
    "  cli": "*/services/cli/*",
}


def summary_lines(data_file: Path) -> list[str]:
    """A table of statements and the share run, per part; empty without data."""
    import coverage
    from coverage.exceptions import NoDataError

    if not data_file.exists():
        return []
    cov = coverage.Coverage(data_file=str(data_file))
    cov.load()
    lines = [f"{'line coverage':<30}{'statements':>12}{'covered':>10}"]
    for label, pattern in PARTS.items():
        out = io.StringIO()
        try:
            percent = cov.report(include=[pattern], file=out, precision=1)
        except NoDataError:
            continue
        total = next(
            (line.split() for line in out.getvalue().splitlines() if line.startswith("TOTAL")),
            # one file: no TOTAL line, its own row is the last
            [row.split() for row in out.getvalue().splitlines() if row.strip()][-1],
        )
        statements = total[1]
        lines.append(f"{label:<30}{statements:>12}{percent:>9.1f}%")
    return lines


def main() -> None:
    for line in summary_lines(Path(".coverage")):
        print(line)


if __name__ == "__main__":
    main()
