"""Fail CI when a JUnit report shows a test skipped that must run.

    check_no_skipped_browser_tests.py [--strict REPORT ...] REPORT ...

Every report: no browser test (tests.browser) may be skipped, and at least one must have run.
A report given with --strict (the PostgreSQL + Redis run) also may not skip any test marked `postgres` or
`worker`, nor any test under tests.reliability; its markers come from the `markers` property that the
`-p scripts.pytest_markers` plugin writes, and a strict report without them fails (the check would be blind).
An expected failure (xfail) is reported as skipped by JUnit and counts as skipped here.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET

STRICT_MARKERS = {"postgres", "worker"}


def _markers(case: ET.Element) -> set[str] | None:
    for prop in case.iter("property"):
        if prop.get("name") == "markers":
            return {m for m in (prop.get("value") or "").split(",") if m}
    return None


def check(path: str, *, strict: bool) -> list[str]:
    """The problems found in one report (empty when it passes)."""
    problems: list[str] = []
    browser_ran = strict_ran = 0
    unmarked = 0
    for case in ET.parse(path).iter("testcase"):
        classname = case.get("classname", "")
        test = f"{classname}.{case.get('name')}"
        skipped = case.find("skipped") is not None
        markers = _markers(case)
        if markers is None:
            unmarked += 1
            markers = set()
        is_browser = classname.startswith("tests.browser") or "browser" in markers
        if is_browser:
            browser_ran += 1
            if skipped:
                problems.append(f"{path}: browser test skipped: {test}")
        if strict:
            reasons = sorted(markers & STRICT_MARKERS) + (["tests.reliability"] if classname.startswith("tests.reliability") else [])
            if reasons:
                strict_ran += 1
                if skipped:
                    problems.append(f"{path}: {'/'.join(reasons)} test skipped: {test}")
    print(f"{path}: {browser_ran} browser tests" + (f", {strict_ran} postgres/worker/reliability tests" if strict else ""))
    if browser_ran == 0:
        problems.append(f"{path}: no browser test in the report")
    if strict:
        if unmarked:
            problems.append(f"{path}: {unmarked} tests carry no markers property: run pytest with -p scripts.pytest_markers")
        if strict_ran == 0:
            problems.append(f"{path}: no postgres, worker or reliability test in the report")
    return problems


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--strict", action="append", default=[], metavar="REPORT",
                        help="also fail on a skipped postgres, worker or tests.reliability test")
    parser.add_argument("reports", nargs="*")
    args = parser.parse_args(argv)
    if not args.strict and not args.reports:
        parser.error("no report given")
    problems = [p for path in args.strict for p in check(path, strict=True)]
    problems += [p for path in args.reports for p in check(path, strict=False)]
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
