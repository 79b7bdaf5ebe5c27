"""`python -m zsc.book build ...`: an alias of `zsc book build ...` (see `zsc.report.build`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from .cli import main as zsc_main

    return zsc_main(["book", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
