"""Load generator for pysfu: bots that speak the room protocol, reports and plots."""
