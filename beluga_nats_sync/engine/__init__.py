"""The protocol engine: the servers a connection tries, the handshake, and (to come) its sockets and threads."""
