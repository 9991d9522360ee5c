"""`make bench`: loopback benchmarks of the local stack, each cell beside its limit in one run."""
