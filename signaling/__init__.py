"""pysfu server: the `pysfu` command and, later, rooms over socket.io."""
