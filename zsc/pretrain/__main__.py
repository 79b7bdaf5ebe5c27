"""`python -m zsc.pretrain train NAME|--all [--resume] ...`."""

from .cli import main

raise SystemExit(main())
