"""Checks that the running venv holds exactly the packages a pip lock file pins for this interpreter.

Usage: python check-lock.py requirements.lock [OWN_PACKAGE...]. Exits 1, naming the differences, when a package is missing, has
another version, or is installed without being in the lock (pip itself, which the venv brings, and the project's
own packages named after the lock, excepted). This is
what keeps a cached venv from hiding a missing or changed install step.
"""

import sys
from importlib import metadata

from packaging.markers import Marker
from packaging.utils import canonicalize_name


def pinned(lock_path: str) -> dict[str, str]:
    """The name -> version pairs of the lock whose environment marker holds here."""
    wanted: dict[str, str] = {}
    with open(lock_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip().rstrip("\\").strip()
            if not line or line.startswith(("#", "--")):
                continue
            requirement, _, marker = line.partition(";")
            name, _, version = requirement.strip().partition("==")
            if marker.strip() and not Marker(marker.strip()).evaluate():
                continue
            wanted[canonicalize_name(name)] = version.strip()
    return wanted


def installed(own: list[str]) -> dict[str, str]:
    have = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    for name in ["pip", *own]:
        have.pop(canonicalize_name(name), None)
    return have


def main() -> int:
    wanted, have = pinned(sys.argv[1]), installed(sys.argv[2:])
    problems = [f"{n}: locked {v}, installed {have.get(n, 'nothing')}" for n, v in wanted.items() if have.get(n) != v]
    problems += [f"{n} {v}: installed but not in the lock" for n, v in have.items() if n not in wanted]
    for p in problems:
        print(f"check-lock: {p}", file=sys.stderr)
    if not problems:
        print(f"check-lock: the venv holds exactly the {len(wanted)} locked packages")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
