"""The read-out as a polynomial in the Gram fluctuation ``D``, written in matrix words.

All matrices live on the ``M = P + T`` stacked points: ``K`` is the last layer's
kernel, ``A`` the training-block inverse ``(K_DD + sigma2 I)^{-1}`` padded with
zeros, ``D`` the fluctuation. Words end on the vectors ``y`` (targets, zero on the
test rows), ``x`` and ``x'`` (unit vectors of a test point: free indices):

    A(D)     = sum_j (-1)^j A (D A)^j
    z(D)     = exp(-(1/2) y^T (A(D) - A) y - (1/2) sum_j (-1)^{j+1} tr((A D)^j)/j)
    m_x(D)   = x^T (K + D) A(D) y
    C_xx'(D) = x^T (K + D) x' - x^T (K + D) A(D) (K + D) x'

and the outputs are ``z``, ``z m_x`` and ``z (C_xx' + m_x m_x')`` (the pull-back
oracle, tests/oracle/pullback/contraction.py, evaluates the same functions numerically). A ``Word`` is an
open chain ``u^T L1 L2 ... v`` or a trace ``tr(L1 L2 ...)``; a monomial is a sorted
tuple of words; a ``WordPoly`` maps monomials to exact coefficients.
"""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from math import factorial

Word = tuple[str, tuple[str, ...], str]  # (left end, letters, right end); ("tr", letters, "") for a trace
Monomial = tuple[Word, ...]
WordPoly = dict[Monomial, Fraction]

OUTPUT_ENDS = {"z": (), "zm": ("x",), "zs": ("x", "x'")}
"""Free test-point ends of each output: the evidence ratio, ``z m_x``, ``z (C_xx' + m_x m_x')``."""


def canonical_word(word: Word) -> Word:
    """One representative of a word's symmetry class (all matrices are symmetric)."""
    left, letters, right = word
    if left == "tr":
        n = len(letters)
        forms = [letters[i:] + letters[:i] for i in range(n)]
        forms += [tuple(reversed(f)) for f in forms]
        return ("tr", min(forms), "")
    return min(word, (right, tuple(reversed(letters)), left))


def runs(letters: Iterable[str]) -> list[tuple[str, ...]]:
    """The ``D``-free runs of a word's letters, split at each ``D``: one more than its ``D`` letters."""
    out, current = [], []
    for letter in letters:
        if letter == "D":
            out.append(tuple(current))
            current = []
        else:
            current.append(letter)
    out.append(tuple(current))
    return out


def degree(monomial: Monomial) -> int:
    """The number of ``D`` letters."""
    return sum(word[1].count("D") for word in monomial)


def _add(poly: WordPoly, monomial: Iterable[Word], coefficient: Fraction) -> None:
    key = tuple(sorted(canonical_word(w) for w in monomial))
    value = poly.get(key, Fraction(0)) + coefficient
    if value:
        poly[key] = value
    else:
        poly.pop(key, None)


def combine(terms: Iterable[tuple[Fraction, Monomial]], max_degree: int) -> WordPoly:
    poly: WordPoly = {}
    for c, monomial in terms:
        if degree(monomial) <= max_degree:
            _add(poly, monomial, c)
    return poly


def multiply(p: WordPoly, q: WordPoly, max_degree: int) -> WordPoly:
    return combine(((cp * cq, mp + mq) for mp, cp in p.items() for mq, cq in q.items()), max_degree)


def add(*polys: WordPoly, max_degree: int) -> WordPoly:
    return combine(((c, m) for p in polys for m, c in p.items()), max_degree)


def scale(p: WordPoly, c: Fraction) -> WordPoly:
    return {m: c * v for m, v in p.items()}


def _resolvent(max_degree: int) -> list[tuple[Fraction, tuple[str, ...]]]:
    """``A(D) = sum_j (-1)^j A (D A)^j`` as ``[(coefficient, letters)]``."""
    return [(Fraction((-1) ** j), ("A",) + ("D", "A") * j) for j in range(max_degree + 1)]


def evidence_ratio(max_degree: int) -> WordPoly:
    """``z(D)`` to degree ``max_degree``."""
    exponent = combine(
        [(Fraction(-1, 2) * c, (("y", letters, "y"),)) for c, letters in _resolvent(max_degree)[1:]]
        + [(Fraction((-1) ** j, 2 * j), (("tr", ("A", "D") * j, ""),)) for j in range(1, max_degree + 1)],
        max_degree,
    )
    z: WordPoly = {(): Fraction(1)}
    power: WordPoly = {(): Fraction(1)}
    for k in range(1, max_degree + 1):
        power = multiply(power, exponent, max_degree)
        z = add(z, scale(power, Fraction(1, factorial(k))), max_degree=max_degree)
    return z


def posterior_mean(end: str, max_degree: int) -> WordPoly:
    """``m_x(D) = x^T (K + D) A(D) y`` with ``x`` the test end ``end``."""
    return combine(
        ((c, ((end, (first,) + letters, "y"),)) for c, letters in _resolvent(max_degree) for first in "KD"),
        max_degree,
    )


def posterior_covariance(max_degree: int) -> WordPoly:
    """``C_xx'(D) = x^T (K + D) x' - x^T (K + D) A(D) (K + D) x'``."""
    prior = [(Fraction(1), (("x", (first,), "x'"),)) for first in "KD"]
    explained = [
        (-c, (("x", (first,) + letters + (last,), "x'"),))
        for c, letters in _resolvent(max_degree)
        for first in "KD"
        for last in "KD"
    ]
    return combine(prior + explained, max_degree)


def readout_words(max_degree: int) -> dict[str, WordPoly]:
    """The three outputs of ``OUTPUT_ENDS`` as word polynomials to degree ``max_degree``."""
    z = evidence_ratio(max_degree)
    m, m2 = posterior_mean("x", max_degree), posterior_mean("x'", max_degree)
    second = add(posterior_covariance(max_degree), multiply(m, m2, max_degree), max_degree=max_degree)
    return {"z": z, "zm": multiply(z, m, max_degree), "zs": multiply(z, second, max_degree)}


def part_of_degree(poly: WordPoly, k: int) -> WordPoly:
    return {m: c for m, c in poly.items() if degree(m) == k}
