"""pysfu media worker process (`python -m workers`): sockets and all media state."""
