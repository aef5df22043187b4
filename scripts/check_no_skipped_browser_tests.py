"""Fail when a JUnit report shows a skipped browser test, or no browser test at all."""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET


def main(paths: list[str]) -> int:
    status = 0
    for path in paths:
        ran = skipped = 0
        for case in ET.parse(path).iter("testcase"):
            if not case.get("classname", "").startswith("tests.browser"):
                continue
            ran += 1
            if case.find("skipped") is not None:
                skipped += 1
                print(f"{path}: browser test skipped: {case.get('classname')}.{case.get('name')}")
        print(f"{path}: {ran} browser tests, {skipped} skipped")
        if ran == 0 or skipped:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
