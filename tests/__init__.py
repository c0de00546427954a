"""The test suite (a package, so that `tests.conftest` is this folder's even where an installed
distribution ships a top-level `tests` package of its own, as baycomp 1.0.3 does)."""
