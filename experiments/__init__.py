"""Experiment definitions: short, declarative subclasses of harness.Experiment."""
