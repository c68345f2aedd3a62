"""``python -m chinwag`` is the ``chinwag`` command."""

from chinwag.core.cli import main

raise SystemExit(main())
