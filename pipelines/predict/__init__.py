"""Batch predictions on this machine: a folder of CSV files scored with a pushed model."""
