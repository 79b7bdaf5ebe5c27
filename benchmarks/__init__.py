"""Paper-scale speed and memory benchmarks of zsc against the naive path (see README.md)."""
