"""What a notebook shows: HTML for clients, subscriptions, messages and stats, and ``Client.tail``.

A layer above the core, which never imports it: ``display.py`` registers how the core's objects
are drawn (``_core/html.py``) when the package is imported; ``tail.py`` and ``agents.py`` are
imported by the client and the agents when they are used."""
