"""`python -m zsc` is the `zsc` command (the same when the script is not on PATH)."""

from .cli import main

raise SystemExit(main())
