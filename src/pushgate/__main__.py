"""``python -m pushgate`` runs the command-line interface."""

from pushgate.cli.main import main

raise SystemExit(main())
