"""Sampled perturbation theory: each order's insertion patterns from Gaussian copies (docs/design.md section 8).

    patterns        the patterns of every order and their width weights (the symbolic skeleton)
    jets            truncated multivariate Taylor jets with array coefficients
    pattern_values  one pattern's value per draw: jets through the layer maps, the copies, the read-out
    estimator       the backend: draws, the control variate, the jackknife standard errors
"""
