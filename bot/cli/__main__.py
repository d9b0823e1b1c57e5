"""`python -m bot.cli ...` is `newsbot ...`."""

from bot.cli import main

raise SystemExit(main())
