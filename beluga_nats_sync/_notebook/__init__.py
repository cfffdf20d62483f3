"""What a notebook shows: HTML for clients, subscriptions, messages and stats, and ``Client.tail``.

Imported lazily, by the ``_repr_html_`` methods and by ``Client.tail``: a client that never
shows itself in a notebook does not load it."""
