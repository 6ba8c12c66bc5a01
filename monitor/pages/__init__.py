"""Server-rendered pages for people: sign in, the board, incidents, outbox,
cases and administration. Chinese by default, English with ``?lang=en``.

The routes are gathered in :mod:`monitor.pages.site`; this package imports none
of its modules, so they may import each other through it without a cycle."""
