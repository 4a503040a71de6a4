"""Importers: turn external benchmark files into kernelgym task families (spec YAML + JSONL)."""
