"""Sample data: synthetic CVs (seed 001's `cv_generation`) for demos, tests and evaluation."""
