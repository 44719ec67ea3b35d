"""Online serving on a cluster: rolling a new model version out, and back."""
