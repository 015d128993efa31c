"""Linear layer maps: the 1/N expansion as a pull-back in the algebra of matrix words.

When ``phi(t) = lambda t`` the layer map is ``m(S) = g S`` (``g = sigma_w2 lambda^2``) and one
copy is ``g z z^T`` with ``z ~ N(0, S)``: with ``X^(l) = S_l - K_l``,

    X^(l) = g X^(l-1) + eta,   eta = (g/N) sum_i (z_i z_i^T - S),   S = K_{l-1} + X^(l-1),   K_{l-1} = K_L / g^(L-l+1).

The read-out is a polynomial in ``D = X^(L)`` whose monomials are products of matrix words in
``A``, ``K = K_L`` and ``D`` (``ir.words``). Pulling a monomial back through a layer, each ``D``
letter is either ``g D`` (the mean) or noise; noise letters are grouped into blocks (distinct
neurons, weight ``(N)_b / N^t`` as in ``runtime.layer_step``) and, since
``E[prod_i (z_{p_i} z_{q_i} - S_{p_i q_i})]`` is the sum over pairings of the ``2r`` indices with
none inside one letter, a block *cuts* its words at the letters and *joins* the halves in pairs
with an ``S`` letter; ``S = K_L / g^(L-l+1) + D``. The result is again a sum of products of
words: the algebra closes, for every order, and nothing depends on the number of points.

``Transfer`` derives this map once per order (its structure does not depend on the layer); the
numbers per layer (powers of ``g``, widths) are applied by ``pull_back``. At layer 0 (``D = 0``)
only closed words in ``A`` and ``K`` remain.
"""
from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from perturbo.ir.words import Monomial, Word, readout_words
from tests.oracle.pullback.layer_step import falling_factorial_weight, kept_orders, partitions_without_singletons

HalfSlot = tuple[int, int, int]  # (word, letter position, side): side 0 = row index, 1 = column index


def _degree(monomial: Monomial) -> int:
    return sum(word[1].count("D") for word in monomial)


def _pairings(slots: list[HalfSlot]) -> Iterator[list[tuple[HalfSlot, HalfSlot]]]:
    """Perfect matchings of ``slots`` with no pair inside one letter."""
    if not slots:
        yield []
        return
    first, rest = slots[0], slots[1:]
    for k, partner in enumerate(rest):
        if partner[:2] == first[:2]:
            continue
        for tail in _pairings(rest[:k] + rest[k + 1 :]):
            yield [(first, partner)] + tail


def _cut_and_join(monomial: Monomial, noise: set[tuple[int, int]], pairs: list[tuple[HalfSlot, HalfSlot]]) -> list[Word]:
    """The words after replacing the ``noise`` letters by ``z z^T`` and joining paired halves with ``S``."""
    partner = {}
    for h, k in pairs:
        partner[h], partner[k] = k, h
    # runs: maximal pieces between noise letters; each end is a word end or a half-slot
    runs = []  # (letters, left attachment, right attachment); attachment: ("end", name) or ("slot", halfslot)
    untouched = []
    for w, (left, letters, right) in enumerate(monomial):
        cuts = [i for i in range(len(letters)) if (w, i) in noise]
        if not cuts:
            untouched.append((left, letters, right))
            continue
        pieces = [letters[: cuts[0]]] + [letters[a + 1 : b] for a, b in zip(cuts, cuts[1:])] + [letters[cuts[-1] + 1 :]]
        if left == "tr":
            pieces = [pieces[-1] + pieces[0]] + pieces[1:-1]
            for k in range(len(cuts)):
                previous = cuts[k - 1]
                runs.append((pieces[k], ("slot", (w, previous, 1)), ("slot", (w, cuts[k], 0))))
        else:
            runs.append((pieces[0], ("end", left), ("slot", (w, cuts[0], 0))))
            for k in range(1, len(cuts)):
                runs.append((pieces[k], ("slot", (w, cuts[k - 1], 1)), ("slot", (w, cuts[k], 0))))
            runs.append((pieces[-1], ("slot", (w, cuts[-1], 1)), ("end", right)))
    at_slot = {}
    for r, (_, a, b) in enumerate(runs):
        for side, attachment in ((0, a), (1, b)):
            if attachment[0] == "slot":
                at_slot[attachment[1]] = (r, side)
    visited = [False] * len(runs)
    words = []

    def walk(r: int, forward: bool) -> tuple[list[str], tuple]:
        """Letters from run ``r`` on until a word end (returned) or back at the starting run (``None``)."""
        letters: list[str] = []
        start = r
        while True:
            visited[r] = True
            pieces, a, b = runs[r]
            letters += list(pieces if forward else pieces[::-1])
            exit_attachment = b if forward else a
            if exit_attachment[0] == "end":
                return letters, exit_attachment[1]
            letters.append("S")
            r, side = at_slot[partner[exit_attachment[1]]]
            forward = side == 0  # entering at the run's left end means walking it forward
            if r == start:
                return letters, None

    for r, (_, a, b) in enumerate(runs):
        if not visited[r] and a[0] == "end":
            letters, end = walk(r, True)
            words.append((a[1], tuple(letters), end))
        elif not visited[r] and b[0] == "end":
            letters, end = walk(r, False)
            words.append((b[1], tuple(letters), end))
    for r in range(len(runs)):
        if not visited[r]:
            letters, _ = walk(r, True)
            words.append(("tr", tuple(letters), ""))
    return untouched + words


@dataclass(frozen=True)
class Move:
    """One way a monomial pulls back: ``coefficient * g^(its degree) * (K insertions) * (N)_b / N^t``."""

    target: Monomial
    coefficient: Fraction
    noise: int  # t
    blocks: int  # b
    k_letters: int  # S letters taken as K


TEST_ENDS = ("x", "x'")


def _training_block_form(run: list[str]) -> list[str]:
    """A run ``A^a0 K A^a1 K ... K A^am`` (every ``a_i >= 1``) as ``A (K A)^m A^(a - m - 1)``.

    Each ``K`` sits between two ``A``s, so the run is a product of training-block matrices, where ``A`` and
    ``K`` commute: only the counts matter. Written this way every ``K`` still has ``A`` on both sides (``K K``
    on all ``M`` points is not ``K_DD^2``). Other runs are left as they are.
    """
    if not run or run[0] != "A" or run[-1] != "A" or any(a == b == "K" for a, b in zip(run, run[1:])):
        return run
    m, a = run.count("K"), run.count("A")
    return ["A"] + ["K", "A"] * m + ["A"] * (a - m - 1)


def _sorted_runs(left: str, letters: tuple[str, ...], right: str) -> tuple[str, ...]:
    """Every run of ``A``/``K`` letters in training-block form, the letter next to a test end kept in place."""
    runs, current = [], []
    for letter in letters:
        if letter == "D":
            runs.append(current)
            current = []
        else:
            current.append(letter)
    runs.append(current)
    for k, run in enumerate(runs):
        head = 1 if k == 0 and left in TEST_ENDS and run else 0
        tail = 1 if k == len(runs) - 1 and right in TEST_ENDS and len(run) > head else 0
        runs[k] = run[:head] + _training_block_form(run[head : len(run) - tail]) + run[len(run) - tail :]
    return tuple("D".join("".join(r) for r in runs))


@lru_cache(maxsize=None)
def commutative_form(word: Word) -> Word:
    """A canonical representative using that ``A`` and ``K`` commute on the training block.

    Every run of ``A``/``K`` letters between two ``D`` letters, or between a ``D`` and a ``y`` end,
    contains an ``A``, so it lives on the training block, where ``A = (K_DD + sigma2 I)^-1`` commutes
    with ``K``: only its letter counts matter (``_training_block_form``). The letter next to a test end
    (``x^T K = k_x^T``) stays in place. The representative is the least over reversals (and rotations of
    a trace) of these forms.
    """
    left, letters, right = word
    if left == "tr":
        forms = []
        for seq in (letters, letters[::-1]):
            for i in range(max(1, len(seq))):
                rotated = seq[i:] + seq[:i]
                if "D" in rotated and rotated[0] != "D":
                    continue  # start every form at a D letter (runs are then whole)
                forms.append(("tr", _sorted_runs("tr", rotated, ""), ""))
        if not forms:  # no D: a closed cyclic run of training-block matrices (every K between two A's)
            m, a = letters.count("K"), letters.count("A")
            if 0 < a >= m and len(letters) == a + m:
                cycle = ("A",) + ("K", "A") * m + ("A",) * (a - m - 1) if a > m else ("A", "K") * m
                forms = [("tr", cycle, "")]
            else:
                forms = [min(("tr", letters[i:] + letters[:i], "") for i in range(len(letters)))]
        return min(forms)
    return min((left, _sorted_runs(left, letters, right), right),
               (right, _sorted_runs(right, letters[::-1], left), left))


@lru_cache(maxsize=None)
def _word_variants(word: Word) -> tuple[tuple[Word, int, int], ...]:
    """Each ``S`` of one word as ``K`` or ``D``: ``(canonical word, new D letters, K letters)``."""
    left, letters, right = word
    slots = [i for i, letter in enumerate(letters) if letter == "S"]
    out = []
    for picks in itertools.product("KD", repeat=len(slots)):
        new = list(letters)
        for i, letter in zip(slots, picks):
            new[i] = letter
        d = picks.count("D")
        out.append((commutative_form((left, tuple(new), right)), d, len(slots) - d))
    return tuple(out)


def _expand_s(words: list[Word], max_d: int) -> Iterator[tuple[Monomial, int]]:
    """Each ``S`` as ``K`` or ``D``; at most ``max_d`` new ``D`` letters. Yields (monomial, number of K's)."""
    choices = [_word_variants(word) for word in words]

    def rec(k: int, chosen: list[Word], d_left: int, k_letters: int) -> Iterator[tuple[Monomial, int]]:
        if k == len(choices):
            yield tuple(sorted(chosen)), k_letters
            return
        for word, d, kk in choices[k]:
            if d <= d_left:
                yield from rec(k + 1, chosen + [word], d_left - d, k_letters + kk)

    yield from rec(0, [], max_d, 0)


def moves(monomial: Monomial, lowest: int, order: int) -> list[Move]:
    """The pull-back of ``monomial`` (lowest eps power ``lowest`` in its coefficient) through one layer."""
    positions = [(w, i) for w, word in enumerate(monomial) for i, letter in enumerate(word[1]) if letter == "D"]
    s = len(positions)
    found: dict[tuple[Monomial, int, int, int], int] = defaultdict(int)
    for size in range(s + 1):
        for noisy in itertools.combinations(positions, size):
            noise = set(noisy)
            for partition in partitions_without_singletons(list(range(size))):
                b = len(partition)
                if lowest + size - b > order:
                    continue
                max_d = 2 * (order - lowest - size + b) - (s - size)  # kept degree after the move
                if max_d < 0:
                    continue
                block_pairings = []
                for block in partition:
                    slots = [noisy[k] + (side,) for k in block for side in (0, 1)]
                    block_pairings.append(list(_pairings(slots)))
                for chosen in itertools.product(*block_pairings):
                    pairs = [p for block in chosen for p in block]
                    words = _cut_and_join(monomial, noise, pairs)
                    for target, k_letters in _expand_s(words, max_d):
                        found[(target, size, b, k_letters)] += 1
    return [Move(target, c, t, b, k) for (target, t, b, k), c in found.items()]


class Transfer:
    """The pull-back map of one order, as arrays over the monomials reachable from the read-out."""

    def __init__(self, order: int) -> None:
        self.order = order
        self.outputs = {}
        for name, poly in readout_words(2 * order).items():
            merged: dict[Monomial, Fraction] = defaultdict(Fraction)
            for m, c in poly.items():
                merged[tuple(sorted(commutative_form(w) for w in m))] += c
            self.outputs[name] = {m: c for m, c in merged.items() if c}
        index: dict[Monomial, int] = {}
        pending = []
        for poly in self.outputs.values():
            for m in poly:
                if m not in index and kept_orders(order, _degree(m)) > 0:
                    index[m] = len(index)
                    pending.append(m)
        rows = []
        while pending:
            m = pending.pop()
            for move in moves(m, 0, order):  # a monomial without D moves to itself
                if move.target not in index:
                    index[move.target] = len(index)
                    pending.append(move.target)
                rows.append((index[m], index[move.target], move))
        self.monomials = list(index)
        self.index = index
        self.degree = np.array([_degree(m) for m in self.monomials])
        self.source = np.array([r[0] for r in rows], dtype=np.intp)
        self.target = np.array([r[1] for r in rows], dtype=np.intp)
        self.coefficient = np.array([float(r[2].coefficient) for r in rows])
        self.noise = np.array([r[2].noise for r in rows], dtype=np.intp)
        self.blocks = np.array([r[2].blocks for r in rows], dtype=np.intp)
        self.k_letters = np.array([r[2].k_letters for r in rows], dtype=np.intp)

    def start(self, output: str) -> np.ndarray:
        """Coefficients ``(monomials, order + 1)`` of one read-out at ``eps^0``."""
        state = np.zeros((len(self.monomials), self.order + 1))
        for m, c in self.outputs[output].items():
            if m in self.index:
                state[self.index[m], 0] = float(c)
        return state

    def pull_back(self, state: np.ndarray, g: float, k_scale: float, width: int) -> np.ndarray:
        """One layer: ``D -> g D + eta`` with ``S = k_scale K_L + D`` and ``N = width``."""
        order = self.order
        factor = self.coefficient * g ** self.degree[self.source] * k_scale ** self.k_letters
        out = np.zeros_like(state)
        for t, b in sorted(set(zip(self.noise.tolist(), self.blocks.tolist()))):
            mask = (self.noise == t) & (self.blocks == b)
            weight = falling_factorial_weight(t, b, 1.0 / width, order)
            src = state[self.source[mask]]
            shifted = np.zeros_like(src)
            for j in np.flatnonzero(weight):
                shifted[:, j:] += weight[j] * src[:, : order + 1 - j]
            np.add.at(out, self.target[mask], factor[mask, None] * shifted)
        keep = np.array([kept_orders(order, d) for d in self.degree])
        out[np.arange(order + 1)[None, :] >= keep[:, None]] = 0.0
        return out

    def closed(self) -> list[int]:
        """Monomials without ``D``: the ones left at layer 0."""
        return [k for k, d in enumerate(self.degree) if d == 0]
