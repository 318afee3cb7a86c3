"""`make bench`: placeholder until the model-library issue fills the table."""
