"""Independent reference computations (exact and Monte Carlo) used to validate the 1/N expansion."""
