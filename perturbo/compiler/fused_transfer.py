"""The dense transfer of one cumulant through one layer as a printed Numba kernel: lower -> print -> load.

The derived terms of ``kappa_n`` (``transfer.transfer_terms``) are outer products with repeated
indices over the ``2n`` output indices ``(a_1, b_1, .., a_n, b_n)``; with the powers of ``1/n``
convolved, each is a sum of *products*

    out[r, a_1 .. b_n] += m N^-p  prod_reads  array[row?, indices],

``r = p + sum of the state rows``. Lowering (``lower``) turns the terms into this typed IR
(``Argument``, ``Read``, ``Product``, ``TransferKernel``): plain data, with the state cumulants'
factors ordered Jacobian first so that one dressed array ``kappa_s(J X, .., J X, X, ..)`` serves
every term with ``j`` dressed factors (``kappa_s`` is symmetric in its entries), the Jacobian
written out into the products instead where that is cheaper (``_worth_inlining``), and equal
products merged. Printing (``print_kernel``) emits one ``@njit(parallel=True)`` function per
cumulant: a loop over the output entries in which each entry accumulates all its products in
registers, one per power row, with no temporaries.

``kappa_n`` is symmetric under the ``n!`` permutations of its entries and the swap inside each
entry, so the loop visits only canonical outputs (entries ``a <= b``, as pairs in non-decreasing
order: about ``M^(2n) / (2^n n!)`` of them) and writes each value to its ``2^n n!`` images. The
outer two pair levels are a precomputed list of pair multisets shared among the threads.

The module is cached by the hash of its text (``codegen.cache``), and Numba's machine code next to
it, so a second process compiles nothing. Numba compiles about 20 products a second, so a cumulant
above ``PRINTED_PRODUCTS_LIMIT`` products is not printed; neither is any where the plan says compiling
would not pay (``cost.PRINT_FROM_SECONDS``). Those run from the same IR as data (``tabulate``): one
kernel the package compiles once (``run_products``) loops over the canonical entries and forms each
entry's products from a table of reads, 1.3-2x slower than printed and 15-180x faster than
interpreting the terms with NumPy (``benchmarks/fused_transfer.py``).

The posterior representations' mixed cumulants ``kappa(X^(l)_e, n entries)`` (an earlier layer's entry ``e``,
then ``n`` entries of this layer's input) lower the same way (``lower(..., spectator=True)``): their reads are
arguments of kind ``mixed``, ``e`` first, and their tables run over the entries ``(e, canonical n entries)``
with the images that keep ``e`` first. They are never printed.
"""
from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from types import ModuleType

import numpy as np
from numba import njit, prange

from .transfer import SPECTATOR, Beta, Term, Weight, lowest_row
from .wick import multisets


@dataclass(frozen=True)
class Argument:
    """An array the kernel reads: a curvature weight ``c^beta`` (``M x M``), a noise coefficient ``Q_{r,alpha}``
    (``M^(2r)``), a state cumulant ``kappa_s`` with the Jacobian on its first ``dressed`` entries
    (``(order + 1, M^(2s))``, power row first), or a mixed cumulant ``kappa(X^(l)_e, s entries)`` of an earlier
    layer's entry ``e`` with the Jacobian on the first ``dressed`` of the ``s`` (``(order + 1, M^(2s + 2))``, the
    axes of ``e`` after the power row; posterior representations)."""

    kind: str  # "weight" | "noise" | "state" | "mixed"
    key: tuple  # weight: beta; noise: (r, alpha); state and mixed: (s, dressed)

    @property
    def stack(self) -> str:
        """The kernel argument holding this array, stacked with its kind's others on a leading axis: ``c`` the
        weights, ``q<r>`` the noise coefficients of ``r`` entries, ``kappa<s>_j<j>`` one dressed state alone (few
        arguments keep Numba's compile time down)."""
        if self.kind == "weight":
            return "c"
        if self.kind in ("state", "mixed"):
            size, dressed = self.key
            return f"{'kappa' if self.kind == 'state' else 'mixed'}{size}_j{dressed}"
        return f"q{self.key[0]}"


@dataclass(frozen=True)
class Read:
    """``argument[row, output[indices]]`` (``row`` for a state cumulant only)."""

    argument: Argument
    indices: tuple[int, ...]  # positions in the output index tuple (a_1, b_1, .., a_n, b_n)
    row: int | None = None


@dataclass(frozen=True)
class Product:
    """``multiplicity N^-noise_power prod reads`` added to the output's power row ``row``."""

    row: int
    multiplicity: int
    noise_power: int
    reads: tuple[Read, ...]


@dataclass(frozen=True)
class TransferKernel:
    """The lowered transfer of ``kappa_n`` at ``order``: its arguments (in call order) and products; ``spectator``: of
    the mixed cumulant ``kappa(X^(l)_e, n entries)`` instead, the output entry ``e`` first (``transfer_terms``)."""

    n: int
    order: int
    arguments: tuple[Argument, ...]
    products: tuple[Product, ...]
    spectator: bool = False

    @property
    def name(self) -> str:
        return f"kappa{self.n}_order{self.order}" + ("_spectator" if self.spectator else "")

    @property
    def entries(self) -> int:
        """The output's entries (pairs of point axes): ``n``, and the spectator's."""
        return self.n + self.spectator

    @property
    def stacks(self) -> dict[str, tuple[Argument, ...]]:
        """Stack name -> its arrays in order (``arguments`` is sorted, so each stack's members are too)."""
        out: dict[str, tuple[Argument, ...]] = {}
        for argument in self.arguments:
            out[argument.stack] = out.get(argument.stack, ()) + (argument,)
        return out


def _term_products(term: Term, order: int) -> list[Product]:
    """One term's products: one per choice of its state cumulants' power rows whose total (with the noise's
    ``N^-p``) is at most ``order`` (the convolution in ``1/n`` that ``runtime_terms`` does with arrays)."""
    position = {index: k for k, index in enumerate(i for pair in term.outputs for i in pair)}
    fixed = []
    for op, idx in term.operands:
        key = ("weight", op.beta) if isinstance(op, Weight) else ("noise", (op.r, op.alpha))
        fixed.append(Read(Argument(*key), tuple(position[i] for i in idx)))
    states = []
    for state in term.states:
        factors = sorted(state.factors, key=lambda f: (not f.spectator, not f.jacobian))  # spectator, dressed first
        dressed, mixed = sum(f.jacobian for f in factors), factors[0].spectator
        indices = tuple(position[i] for f in factors for i in f.entry)
        argument = Argument("mixed" if mixed else "state", (len(factors) - mixed, dressed))
        states.append((argument, indices, lowest_row(len(factors))))  # a mixed cumulant's order: as for all factors
    ranges = [range(lowest, order + 1 - term.noise_power) for _, _, lowest in states]
    out = []
    for rows in itertools.product(*ranges):
        row = sum(rows) + term.noise_power
        if row <= order:
            reads = fixed + [Read(argument, idx, k) for (argument, idx, _), k in zip(states, rows)]
            out.append(Product(row, term.multiplicity, term.noise_power, tuple(sorted(reads, key=repr))))
    return out


JACOBIAN_W = Argument("weight", (0, 0, 1))
JACOBIAN_U = Argument("weight", (1, 0, 0))


def _merged(products: Sequence[Product]) -> tuple[Product, ...]:
    counts: dict[tuple, int] = {}
    for product in products:
        key = (product.row, product.noise_power, product.reads)
        counts[key] = counts.get(key, 0) + product.multiplicity
    return tuple(Product(row, m, power, reads) for (row, power, reads), m in counts.items() if m)


def _inline_jacobian(product: Product, inlined: set[Argument]) -> list[Product]:
    """``product`` with each read of an ``inlined`` dressed state (or mixed cumulant) written out: on a dressed entry
    ``(p, q)``, ``(J X)_pq = W_pq X_pq + U_pq X_pp + U_qp X_qq``, so a state with ``j`` dressed entries becomes
    ``3^j`` products of the undressed state and ``j`` Jacobian weights."""
    out = [product]
    for read in product.reads:
        if read.argument not in inlined:
            continue
        size, dressed = read.argument.key
        first = 2 * (read.argument.kind == "mixed")  # a mixed cumulant's dressed entries follow the spectator's
        expanded = []
        for choice in itertools.product(range(3), repeat=dressed):
            indices, weights = list(read.indices), []
            for k, c in enumerate(choice):
                p, q = read.indices[first + 2 * k], read.indices[first + 2 * k + 1]
                weights.append(Read(JACOBIAN_W, (p, q)) if c == 0 else Read(JACOBIAN_U, (p, q) if c == 1 else (q, p)))
                indices[first + 2 * k: first + 2 * k + 2] = [(p, q), (p, p), (q, q)][c]
            expanded.append((Read(Argument(read.argument.kind, (size, 0)), tuple(indices), read.row), weights))
        out = [Product(pr.row, pr.multiplicity, pr.noise_power,
                       tuple(sorted([r for r in pr.reads if r != read] + [state] + weights, key=repr)))
               for pr in out for state, weights in expanded]
    return out


def _worth_inlining(argument: Argument, uses: int, entries: int, symmetries: int, order: int) -> bool:
    """Write a dressed state's Jacobian into the kernel (rather than pass ``kappa_s(J X, ..)`` as an array) when that
    costs fewer operations: inlining adds ``(3^j - 1) uses`` reads on each of ``M^(2 entries) / symmetries``
    canonical outputs, dressing is ``j`` passes over ``(order + 1) M^(2s)`` entries (``s`` counts a mixed
    cumulant's spectator); the first grows slower in ``M`` when ``s > entries``, and for ``s = entries`` the
    constants decide."""
    size, dressed = argument.key
    size += argument.kind == "mixed"
    if size != entries:
        return size > entries
    return (3**dressed - 1) * uses < dressed * (order + 1) * symmetries


def lower(terms: Sequence[Term], n: int, order: int, spectator: bool = False) -> TransferKernel:
    """The terms of ``kappa_n`` (``spectator``: of the mixed cumulant ``kappa(X^(l)_e, n entries)``) as products
    (equal products merged, a state's Jacobian written out where that is cheaper: ``_worth_inlining``), and the
    arguments they read."""
    products: list[Product] = []
    for term in terms:
        if len(term.outputs) != n + spectator or (term.outputs[0] == SPECTATOR.entry) != spectator:
            raise ValueError(f"lower(..., n={n}, spectator={spectator}) got a term with outputs {term.outputs}")
        products += _term_products(term, order)
    uses = Counter(r.argument for p in products for r in p.reads
                   if r.argument.kind in ("state", "mixed") and r.argument.key[1])
    symmetries = len(output_images(n, spectator))
    inlined = {a for a, count in uses.items() if _worth_inlining(a, count, n + spectator, symmetries, order)}
    products = _merged([q for p in _merged(products) for q in _inline_jacobian(p, inlined)])
    arguments = sorted({read.argument for p in products for read in p.reads}, key=lambda a: (a.kind, repr(a.key)))
    return TransferKernel(n, order, tuple(arguments), products, spectator)


def output_images(n: int, spectator: bool = False) -> np.ndarray:
    """``(G, 2n)``: for each symmetry of ``kappa_n`` (entry permutations, swaps inside entries) the position in the
    canonical index tuple that each output axis takes. ``spectator``: ``(G, 2n + 2)`` for the mixed cumulant
    ``kappa(X^(l)_e, n entries)``, whose entry ``e`` stays first (swapped inside or not)."""
    images = set()
    for perm in itertools.permutations(range(spectator, n + spectator)):
        for swaps in itertools.product((False, True), repeat=n + spectator):
            image = []
            for k, swap in zip((0,) * spectator + perm, swaps):
                image += [2 * k + 1, 2 * k] if swap else [2 * k, 2 * k + 1]
            images.add(tuple(image))
    return np.array(sorted(images), dtype=np.int64)


# ------------------------------------------------------------------------------------------------ printing
def _index_names(n: int) -> list[str]:
    return [f"{ab}{k}" for k in range(n) for ab in "ab"]


def _read_code(read: Read, position: int, names: list[str]) -> str:
    indices = ", ".join(names[i] for i in read.indices)
    return f"{read.argument.stack}[{position}, {'' if read.row is None else f'{read.row}, '}{indices}]"


def _loop_level(read: Read, outer: int) -> int:
    """The loop level at which all of a read's indices are bound (entry ``k`` at level ``max(0, k - outer + 1)``)."""
    return max(0, max(i // 2 for i in read.indices) - outer + 1)


def print_kernel(kernel: TransferKernel) -> str:
    """The Numba source of one cumulant's transfer (module docstring): a parallel loop over the outer pairs calling
    a serial body, which loads each distinct read once, at the outermost loop where its indices are known, and
    accumulates the products in registers. Point indices are unsigned (no negative-index wraparound to compile)."""
    if kernel.spectator:
        raise ValueError(f"{kernel.name}: a mixed cumulant's transfer runs from its table (tabulate), it is not printed")
    n, order = kernel.n, kernel.order
    names = _index_names(n)
    stacks = kernel.stacks
    position = {a: k for members in stacks.values() for k, a in enumerate(members)}
    arguments = "out, inv_width, pair_a, pair_b, outer, images, " + ", ".join(stacks)
    outer = min(n, 2)
    reads = sorted({read for p in kernel.products for read in p.reads}, key=repr)
    value = {read: f"v{k}" for k, read in enumerate(reads)}
    lines = [
        "@njit(cache=True)",
        f"def {kernel.name}_body(start, {arguments}):",
        f'    """The canonical entries of kappa_{n} whose outer pairs are outer[start]."""',
    ] + (["    n_pairs = pair_a.shape[0]"] if n > 2 else [])
    powers = sorted({p.noise_power for p in kernel.products} - {0})
    lines += [f"    iw{p} = inv_width ** {p}" for p in powers]
    lines.append(f"    idx = np.empty({2 * n}, np.uint64)")
    depth = 1
    for k in range(n):
        pad = "    " * depth
        if k < outer:
            lines.append(f"{pad}p{k} = outer[start, {k}]")
        else:
            lines.append(f"{pad}for p{k} in range(p{k - 1}, n_pairs):")
            depth += 1
            pad = "    " * depth
        lines.append(f"{pad}a{k} = pair_a[p{k}]")
        lines.append(f"{pad}b{k} = pair_b[p{k}]")
        if k >= outer - 1:
            level = max(0, k - outer + 1)
            lines += [f"{pad}{value[r]} = {_read_code(r, position[r.argument], names)}"
                      for r in reads if _loop_level(r, outer) == level]
    pad = "    " * depth
    lines += [f"{pad}r{r} = 0.0" for r in range(order + 1)]
    for product in sorted(kernel.products, key=lambda p: (p.row, repr(p.reads))):
        factors = ([] if product.multiplicity == 1 else [repr(float(product.multiplicity))])
        factors += ([f"iw{product.noise_power}"] if product.noise_power else [])
        factors += [value[read] for read in product.reads]
        lines.append(f"{pad}r{product.row} += {' * '.join(factors)}")
    lines += [f"{pad}idx[{k}] = {name}" for k, name in enumerate(names)]
    lines.append(f"{pad}for g in range(images.shape[0]):")
    image = ", ".join(f"idx[images[g, {k}]]" for k in range(2 * n))
    lines += [f"{pad}    out[{r}, {image}] = r{r}" for r in range(order + 1)]
    lines += [
        "",
        "",
        "@njit(cache=True, parallel=True)",
        f"def {kernel.name}({arguments}):",
        f'    """kappa_{n} of the next layer, order {order}: {len(kernel.products)} products per canonical entry, '
        f'{len(reads)} distinct reads."""',
        "    for start in prange(outer.shape[0]):",
        f"        {kernel.name}_body(np.int64(start), {arguments})",
    ]
    return "\n".join(lines) + "\n"


HEADER = '''"""Generated by perturbo {version}: the dense transfer of the cumulants kappa_1 .. kappa_{top}
through one layer, order {order}, curvatures {curvatures}. Each function is one cumulant (perturbo/compiler/fused_transfer.py).

Do not edit: the file name is a hash of this text, and perturbo rewrites it when it changes.
"""
import numpy as np
from numba import njit, prange

'''


def print_module(kernels: Mapping[int, TransferKernel], curvatures: tuple[Beta, ...]) -> str:
    from .._version import __version__

    order = next(iter(kernels.values())).order
    header = HEADER.format(version=__version__, top=max(kernels), order=order, curvatures=curvatures)
    return header + "\n\n".join(print_kernel(kernels[n]) for n in sorted(kernels))


# ------------------------------------------------------------------------------------------------ tabulating
@dataclass(frozen=True, eq=False)
class ProductTable:
    """A lowered kernel as plain arrays, for ``run_products``, which the package compiles once for every kernel (no
    source printed, nothing compiled per activation or order). ``reads``: the kernel's distinct reads, each an
    ``argument`` (its position in ``kernel.arguments``), a power ``row`` (``-1``: none) and the output ``positions``
    it is indexed by (``-1`` padded; ``arity`` of them, the argument's point axes in order), sorted by the last entry
    they depend on (``level_start[k]``: the first read that depends on entry ``k`` or later). ``products``: in
    compressed rows, ``product_reads[product_start[q]:product_start[q + 1]]`` the reads whose product, times
    ``multiplicity[q] N^-noise_power[q]``, goes to power row ``product_row[q]``."""

    kernel: TransferKernel
    read_argument: np.ndarray
    read_row: np.ndarray
    read_positions: np.ndarray
    read_arity: np.ndarray
    level_start: np.ndarray
    product_row: np.ndarray
    multiplicity: np.ndarray
    noise_power: np.ndarray
    product_start: np.ndarray
    product_reads: np.ndarray


def tabulate(kernel: TransferKernel) -> ProductTable:
    """The kernel's reads and products as arrays (``ProductTable``)."""
    def level(read: Read) -> int:
        return max(read.indices) // 2

    reads = sorted({read for p in kernel.products for read in p.reads}, key=lambda r: (level(r), repr(r)))
    number = {read: k for k, read in enumerate(reads)}
    argument = {a: k for k, a in enumerate(kernel.arguments)}
    positions = np.full((len(reads), max((len(r.indices) for r in reads), default=1)), -1, dtype=np.int64)
    for k, read in enumerate(reads):
        positions[k, :len(read.indices)] = read.indices
    lengths = [len(p.reads) for p in kernel.products]

    def integers(values) -> np.ndarray:
        return np.array(list(values), dtype=np.int64)

    return ProductTable(
        kernel,
        integers(argument[r.argument] for r in reads),
        integers(-1 if r.row is None else r.row for r in reads),
        positions,
        integers(len(r.indices) for r in reads),
        integers(sum(level(r) < k for r in reads) for k in range(kernel.entries + 1)),
        integers(p.row for p in kernel.products),
        np.array([float(p.multiplicity) for p in kernel.products]),
        integers(p.noise_power for p in kernel.products),
        integers(np.concatenate([[0], np.cumsum(lengths)])),
        integers(number[r] for p in kernel.products for r in p.reads),
    )


@njit(cache=True, parallel=True)
def run_products(out, buffers, read_buffer, read_base, read_positions, read_arity, level_start,
                 coefficient, product_row, product_start, product_reads, pair_a, pair_b, entries, images, M):
    """``out[r, canonical entry and its images] = sum_q coefficient[q] prod_reads`` over the products ``q`` of power
    row ``r`` (``ProductTable``), for each canonical entry (``entries``: ``n`` pair numbers, non-decreasing, in
    lexicographic order; ``pair_a``, ``pair_b`` the pairs ``a <= b``). Read ``k`` of an entry with indices ``idx`` is
    ``buffers[read_buffer[k]][read_base[k] + sum_j idx[read_positions[k, j]] M^(arity - 1 - j)]`` (``BUFFERS`` flat
    arrays, ``LayerArrays.packed``). Threads take contiguous blocks of entries; an entry reloads only the reads that
    depend on the entries where it differs from the one before (the outer pairs change rarely), then forms its
    products."""
    n_entries, n = entries.shape
    rows = out.shape[0]
    blocks = min(n_entries, 256)
    for block in prange(blocks):
        idx = np.empty(2 * n, np.int64)
        values = np.empty(read_base.shape[0])
        total = np.empty(rows)
        first = block * n_entries // blocks
        for e in range(first, (block + 1) * n_entries // blocks):
            changed = 0
            if e > first:
                while entries[e, changed] == entries[e - 1, changed]:
                    changed += 1
            for k in range(changed, n):
                idx[2 * k] = pair_a[entries[e, k]]
                idx[2 * k + 1] = pair_b[entries[e, k]]
            for k in range(level_start[changed], read_base.shape[0]):
                flat = 0
                for j in range(read_arity[k]):
                    flat = flat * M + idx[read_positions[k, j]]
                values[k] = buffers[read_buffer[k]][read_base[k] + flat]
            total[:] = 0.0
            for q in range(product_row.shape[0]):
                value = coefficient[q]
                for k in range(product_start[q], product_start[q + 1]):
                    value *= values[product_reads[k]]
                total[product_row[q]] += value
            for g in range(images.shape[0]):
                flat = 0
                for j in range(2 * n):
                    flat = flat * M + idx[images[g, j]]
                for r in range(rows):
                    out[r, flat] = total[r]


BUFFERS = 8
"""``run_products`` reads eight flat buffers: the seven largest arrays of a layer as they are (no copy), the others
packed into one (a copy of what is small: the weights, most noise coefficients, the lower cumulants)."""


class LayerArrays(dict):
    """``Argument -> array`` (C-contiguous): what the kernels read at one layer. ``packed()``: the ``BUFFERS`` flat
    buffers ``run_products`` reads and each argument's ``(buffer, offset)``, built once for the layer's tables."""

    def packed(self) -> tuple[tuple[np.ndarray, ...], dict[Argument, tuple[int, int]]]:
        if "_packed" not in self.__dict__:
            by_size = sorted(self, key=lambda a: (-self[a].size, a.kind, repr(a.key)))
            alone, rest = by_size[:BUFFERS - 1], by_size[BUFFERS - 1:]
            offsets = np.cumsum([0] + [self[a].size for a in rest[:-1]]).tolist()
            location = {a: (0, offset) for a, offset in zip(rest, offsets)}
            location.update({a: (k, 0) for k, a in enumerate(alone, start=1)})
            packed = np.concatenate([np.ravel(self[a]) for a in rest]) if rest else np.zeros(0)
            buffers = (packed, *(np.ravel(self[a]) for a in alone))
            self.__dict__["_packed"] = (buffers + (np.zeros(0),) * (BUFFERS - len(buffers)), location)
        return self.__dict__["_packed"]


@lru_cache(maxsize=16)
def _canonical_entries(M: int, n: int, spectator: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                         np.ndarray]:
    """The printed kernels' pairs ``a <= b`` and symmetry images (``_index_tables``), with every non-decreasing
    ``n``-tuple of pair numbers (the canonical entries of ``kappa_n``) in place of their outer pairs; ``spectator``:
    each preceded by every pair (the mixed cumulant's entry ``e``), and the mixed cumulant's images."""
    pair_a, pair_b, _, images = _index_tables(M, n)
    entries = multisets(len(pair_a), n)
    if not spectator:
        return pair_a, pair_b, entries, images
    pairs = len(pair_a)
    first = np.repeat(np.arange(pairs, dtype=np.int64), len(entries))
    return pair_a, pair_b, np.column_stack([first, np.tile(entries, (pairs, 1))]), output_images(n, spectator)


def run_table(table: ProductTable, width: int, arrays: Mapping[Argument, np.ndarray], M: int) -> np.ndarray:
    """``kappa_n`` of the next layer, ``(order + 1, M^(2n))`` (a mixed cumulant: ``M^(2n + 2)``), from the layer's
    ``arrays`` by ``run_products``: the same sum as the printed kernel of ``table.kernel`` (``print_kernel``), with its
    reads and products as data. ``arrays`` as ``LayerArrays`` is packed once for all the layer's tables."""
    kernel = table.kernel
    n, order, entries = kernel.n, kernel.order, kernel.entries
    buffers, location = (arrays if isinstance(arrays, LayerArrays) else LayerArrays(arrays)).packed()
    buffer, offset = (np.array([location[a][k] for a in kernel.arguments], dtype=np.int64) for k in (0, 1))
    row_size = np.array([M ** (2 * a.key[0] + 2 * (a.kind == "mixed")) if a.kind in ("state", "mixed") else 0
                         for a in kernel.arguments], dtype=np.int64)
    read_base = offset[table.read_argument] + np.maximum(table.read_row, 0) * row_size[table.read_argument]
    coefficient = table.multiplicity * (1.0 / width) ** table.noise_power
    out = np.empty((order + 1, M ** (2 * entries)))
    pair_a, pair_b, canonical, images = _canonical_entries(M, n, kernel.spectator)
    run_products(out, buffers, buffer[table.read_argument], read_base, table.read_positions, table.read_arity,
                 table.level_start, coefficient, table.product_row, table.product_start, table.product_reads, pair_a,
                 pair_b, canonical, images, M)
    return out.reshape((order + 1,) + (M,) * (2 * entries))


# ------------------------------------------------------------------------------------------------ running
PRINTED_PRODUCTS_LIMIT = 400
"""A cumulant with more products than this is not printed: Numba compiles about 20 products a second, so the
order-3 kernels (2,000 to 5,300 products) would take minutes the first time; ``run_products`` runs their tables."""


@lru_cache(maxsize=32)
def lowered_kernels(key: tuple, order: int) -> dict[int, TransferKernel]:
    """``n -> TransferKernel`` for the derived terms ``key`` (``terms_key``: ``((n, terms), ..)``)."""
    return {n: lower(terms, n, order) for n, terms in key}


def is_printed(kernel: TransferKernel) -> bool:
    return not kernel.spectator and len(kernel.products) <= PRINTED_PRODUCTS_LIMIT


@lru_cache(maxsize=32)
def transfer_module(
    key: tuple, order: int, curvatures: tuple[Beta, ...]
) -> tuple[dict[int, TransferKernel], ModuleType | None]:
    """The lowered kernels of the terms ``key`` (``terms_key``) that are printed, and their imported module."""
    from ..codegen.cache import load_module

    kernels = {n: k for n, k in lowered_kernels(key, order).items() if is_printed(k)}
    return kernels, load_module("transfer", print_module(kernels, curvatures)) if kernels else None


def terms_key(terms: Mapping[int, Sequence[Term]]) -> tuple:
    """The derived terms ``n -> terms`` as a hashable key."""
    return tuple((n, tuple(terms[n])) for n in sorted(terms))


@lru_cache(maxsize=16)
def _index_tables(M: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    pair_a, pair_b = (np.array(v, dtype=np.uint64) for v in zip(*itertools.combinations_with_replacement(range(M), 2)))
    return pair_a, pair_b, multisets(len(pair_a), min(n, 2)), output_images(n)


class CompiledTransfer:
    """One layer's transfer of every cumulant by its lowered kernel: the printed kernel (in ``module``) for the ``n``
    in ``printed``, ``run_products`` on its product table for the others (``Program.compiled_transfer``)."""

    def __init__(self, kernels: Mapping[int, TransferKernel], tables: Mapping[int, ProductTable],
                 printed: frozenset[int], module: ModuleType | None) -> None:
        self.kernels, self.tables, self.printed, self.module = kernels, tables, printed, module

    def arguments(self) -> set[Argument]:
        return {a for kernel in self.kernels.values() for a in kernel.arguments}

    def apply(self, n: int, width: int, arrays: Mapping[Argument, np.ndarray], M: int) -> np.ndarray:
        """``kappa_n`` (``(order + 1, M^(2n))``) of the next layer; ``arrays``: every argument of the kernel."""
        if n not in self.printed:
            return run_table(self.tables[n], width, arrays, M)
        kernel = self.kernels[n]
        return apply_kernel(getattr(self.module, kernel.name), tuple(kernel.stacks.values()), n, kernel.order, width,
                            arrays, M)


def apply_kernel(function: Callable, stacks: Sequence[Sequence[Argument]], n: int, order: int, width: int,
                 arrays: Mapping[Argument, np.ndarray], M: int) -> np.ndarray:
    """Run one printed kernel ``function`` (``print_kernel``): ``kappa_n`` of the next layer, ``(order + 1, M^(2n))``,
    from the layer's ``arrays``, stacked as the kernel's arguments ``stacks`` list them."""
    out = np.empty((order + 1,) + (M,) * (2 * n))
    pair_a, pair_b, outer, images = _index_tables(M, n)
    stacked = [arrays[members[0]][None] if len(members) == 1 else np.stack([arrays[a] for a in members])
               for members in stacks]
    function(out, 1.0 / width, pair_a, pair_b, outer, images, *stacked)
    return out
