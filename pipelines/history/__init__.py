"""Reading runs back from ML Metadata: the run list, one run's status, reports, comparisons."""
