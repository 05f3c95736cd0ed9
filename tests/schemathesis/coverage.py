"""Fails unless a stateful run reached what it is for: each `METHOD path-regex
status` given answered at least once in the run's HAR report.

    python3 coverage.py REPORT.har 'POST ^/v1/consents$ 201' ...
"""

import collections
import json
import re
import sys
import urllib.parse


def main():
    har, wanted = sys.argv[1], sys.argv[2:]
    seen = collections.Counter()
    for entry in json.load(open(har))["log"]["entries"]:
        path = urllib.parse.urlsplit(entry["request"]["url"]).path
        seen[(entry["request"]["method"], path, entry["response"]["status"])] += 1
    missing = []
    for want in wanted:
        method, pattern, status = want.split()
        hits = sum(n for (m, p, s), n in seen.items()
                   if m == method and s == int(status) and re.search(pattern, p))
        print(f"  {want}: {hits}")
        if not hits:
            missing.append(want)
    if missing:
        sys.exit(f"coverage.py: never answered: {', '.join(missing)}")


if __name__ == "__main__":
    main()
