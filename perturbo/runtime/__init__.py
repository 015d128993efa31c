"""Numerical runtime: kernel flow, GP posterior, assembly of results."""
