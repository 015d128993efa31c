"""Symbolic layer: exact Gaussian moments and the layer maps they define."""
