"""Graph shapes and treewidths of the tensor networks of an exact second order (see README in report).

(o1) sanity check: degree-2 read-out x one Cov (the compiled first order).
(i)  degree-4 read-out x Cov x Cov, for each of the 3 pairings of the 4 D letters.
(ii) degree-3 read-out x kappa_3 of one layer's pair-function noise (connected multigraphs on 3 blobs).

Vertices are the summed D indices of a monomial (free test indices X, Y are fixed, size T = 1).
Edges: word operands on two summed indices, pair kernels G on each D pair (unless the kernel is a
constant: the deep-linear G^(1,1) = 1), cross edges C^n = K^{o n}/n! where n >= 1.
"""
from __future__ import annotations

import itertools
import json
import sys
import time
from collections import Counter
from pathlib import Path

import sympy as sp

from perturbo.activation import t
from perturbo.ir.networks import _monomial_operands, cross_orders
from perturbo.ir.words import part_of_degree, readout_words
from perturbo.symbolic.derivative_kernels import local_algebra

from graphs import canonical, degree_sequence, treewidth

HERE = Path(__file__).resolve().parent


def variants():
    out = {}
    for name, phi in (("linear", t), ("cubic", t - t**3 / 20)):
        a = local_algebra(phi, sp.Integer(1))
        nonzero = set(a.kernels) | {(i, 0) for i in a.square_derivatives}
        nonzero |= {(j, i) for i, j in nonzero}
        constants = {k for k, e in a.kernels.items() if a.map_is_linear and e.is_number}
        out[name] = dict(nonzero=nonzero, constants=constants, maxv=a.max_vertex_derivative, point_cap=None)
    # deep linear as it really is: U = dm/dS_aa = 0 so Ghat^(2,0) = U Phi2^(2) = 0; only the constant G^(1,1)
    out["linear_true"] = dict(nonzero={(1, 1)}, constants={(1, 1)}, maxv=2, point_cap=None)
    # sensitivity: the brief's "at most 3 derivatives per point" for the cubic (the code allows 2*3 = 6)
    out["cubic_cap3"] = dict(out["cubic"], point_cap=3)
    return out


def cov_patterns(v):
    """Cov(X_pq, X_rs): (support of (pr, ps, qr, qs), G_pq is an edge, G_rs is an edge) -> number of n."""
    pats = Counter()
    for n in cross_orders(v["maxv"]):
        first, second = (n[0] + n[1], n[2] + n[3]), (n[0] + n[2], n[1] + n[3])
        if first not in v["nonzero"] or second not in v["nonzero"]:
            continue
        if v["point_cap"] and max(first + second) > v["point_cap"]:
            continue
        pats[(tuple(k > 0 for k in n), first not in v["constants"], second not in v["constants"])] += 1
    return pats


def monomial_graph(monomial):
    """Vertices (summed D indices), word edges, D pairs, pinned vertices (x.I: equal to a test point)."""
    operands, d_pairs = _monomial_operands(monomial)
    names = sorted({i for p in d_pairs for i in p}, key=lambda s: int(s[1:]))
    idx = {s: k for k, s in enumerate(names)}
    word_edges, pinned = set(), set()
    for name, ind in operands:
        summed = [i for i in ind if not i.isupper()]
        if len(summed) == 2:
            a, b = idx[summed[0]], idx[summed[1]]
            if a != b:
                word_edges.add((min(a, b), max(a, b)))
        if name == "x.I":
            pinned.add(idx[summed[0]])
    pairs = [(idx[p], idx[q]) for p, q in d_pairs]
    return len(names), word_edges, pairs, pinned


def e(a, b):
    return (min(a, b), max(a, b))


def remove_vertices(n, edges, gone):
    keep = [v for v in range(n) if v not in gone]
    new = {v: k for k, v in enumerate(keep)}
    return len(keep), frozenset(e(new[a], new[b]) for a, b in edges if a in new and b in new)


class Stats:
    def __init__(self):
        self.terms = 0
        self.labelled = set()
        self.tw_terms = Counter()  # tw -> number of terms (networks before merging)
        self.tw_terms_pinned = Counter()
        self.canon = {}  # canonical form -> tw
        self.worst = None

    def add(self, n, edges, pinned, count, where):
        edges = frozenset(edges)
        tw = treewidth(n, edges)
        n2, e2 = remove_vertices(n, edges, pinned)
        twp = treewidth(n2, e2) if n2 else -1
        self.terms += count
        self.tw_terms[tw] += count
        self.tw_terms_pinned[twp] += count
        key = (n, edges)
        if key not in self.labelled:
            self.labelled.add(key)
            c = canonical(n, edges)
            self.canon[c] = tw
            if self.worst is None or tw > self.worst[0]:
                self.worst = (tw, where, sorted(edges))

    def summary(self):
        hist = Counter(self.canon.values())
        return dict(
            terms=self.terms,
            labelled_graphs=len(self.labelled),
            distinct_graphs=len(self.canon),
            tw_hist_distinct_graphs=dict(sorted(hist.items())),
            tw_hist_terms=dict(sorted(self.tw_terms.items())),
            tw_hist_terms_xI_fixed=dict(sorted(self.tw_terms_pinned.items())),
            max_tw=max(self.canon.values()) if self.canon else None,
            worst_example=self.worst,
        )


def first_order(v, poly):
    st = Stats()
    pats = cov_patterns(v)
    for mono in part_of_degree(poly, 2):
        n, words, pairs, pinned = monomial_graph(mono)
        (p, q), (r, s) = pairs
        for (sup, g1, g2), cnt in pats.items():
            edges = set(words)
            edges |= {e(a, b) for on, (a, b) in zip(sup, ((p, r), (p, s), (q, r), (q, s))) if on}
            if g1:
                edges.add(e(p, q))
            if g2:
                edges.add(e(r, s))
            st.add(n, edges, pinned, cnt, (mono, sup))
    return st


PAIRINGS = (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2)))


def structure_i(v, poly):
    st, dense = Stats(), Stats()
    pats = list(cov_patterns(v).items())
    for mono in part_of_degree(poly, 4):
        n, words, pairs, pinned = monomial_graph(mono)
        for pairing in PAIRINGS:
            covs = [(pairs[i], pairs[j]) for i, j in pairing]
            # dense-V alternative: the layer-summed Cov as one M^4 tensor per pair -> a 4-clique each
            dedges = set(words)
            for (p, q), (r, s) in covs:
                dedges |= {e(a, b) for a, b in itertools.combinations((p, q, r, s), 2)}
            dense.add(n, dedges, pinned, 1, (mono, pairing, "dense"))
            for (sup1, g11, g12), c1 in pats:
                for (sup2, g21, g22), c2 in pats:
                    edges = set(words)
                    for ((p, q), (r, s)), sup, ga, gb in zip(covs, (sup1, sup2), (g11, g21), (g12, g22)):
                        edges |= {e(a, b) for on, (a, b) in zip(sup, ((p, r), (p, s), (q, r), (q, s))) if on}
                        if ga:
                            edges.add(e(p, q))
                        if gb:
                            edges.add(e(r, s))
                    st.add(n, edges, pinned, c1 * c2, (mono, pairing, sup1, sup2))
    return st, dense


CROSS = [(a, b) for a in range(6) for b in range(a + 1, 6) if a // 2 != b // 2]
"""The 12 cross edges between the three blobs B_k = points (2k, 2k+1) of kappa_3."""


def cumulant3_vectors(v):
    """kappa_3(X_B0, X_B1, X_B2): yield (kernel orders per blob, multiplicities on CROSS).

    Each point's cross-edge multiplicities add up to its derivative order, and the blob graph
    (which blobs the edges join) is connected.
    """
    allowed = [pr for pr in v["nonzero"] if pr != (0, 0)]
    cap = v["point_cap"] or v["maxv"]
    allowed = [pr for pr in allowed if max(pr) <= cap]
    for o in itertools.product(allowed, repeat=3):
        deg = [o[0][0], o[0][1], o[1][0], o[1][1], o[2][0], o[2][1]]

        def rec(k, rem, ns):
            if k == len(CROSS):
                if not any(rem):
                    yield tuple(ns)
                return
            a, b = CROSS[k]
            for m in range(0, min(rem[a], rem[b]) + 1):
                rem[a] -= m
                rem[b] -= m
                # prune: a point's remaining degree must be coverable by later edges
                if all(not rem[w] or any(w in CROSS[j] for j in range(k + 1, len(CROSS))) for w in (a, b)):
                    yield from rec(k + 1, rem, ns + [m])
                rem[a] += m
                rem[b] += m

        for ns in rec(0, list(deg), []):
            if len({frozenset((a // 2, b // 2)) for (a, b), m in zip(CROSS, ns) if m}) >= 2:
                yield o, ns


def cumulant3_patterns(v):
    """{(support frozenset of cross edges, G-edge flags per blob): number of multiplicity vectors}."""
    out = Counter()
    for o, ns in cumulant3_vectors(v):
        support = frozenset(edge for edge, m in zip(CROSS, ns) if m)
        out[(support, tuple(pr not in v["constants"] for pr in o))] += 1
    return out


def structure_ii(v, poly):
    st = Stats()
    pats = cumulant3_patterns(v)
    for mono in part_of_degree(poly, 3):
        n, words, pairs, pinned = monomial_graph(mono)
        pts = [x for pq in pairs for x in pq]  # blob k = pairs[k] = (pts[2k], pts[2k+1])
        for (sup, flags), cnt in pats.items():
            edges = set(words) | {e(pts[a], pts[b]) for a, b in sup}
            for k, f in enumerate(flags):
                if f:
                    edges.add(e(*pairs[k]))
            st.add(n, edges, pinned, cnt, (mono, sorted(sup), flags))
    return st, pats


def pattern_report(pats):
    """Distinct cross-edge supports of kappa_3 alone (no words), with the treewidth of support + G edges."""
    shapes = {}
    for (sup, flags), cnt in pats.items():
        edges = set(sup) | {(2 * k, 2 * k + 1) for k, f in enumerate(flags) if f}
        c = canonical(6, frozenset(edges))
        shapes.setdefault(c, [treewidth(6, frozenset(edges)), 0, degree_sequence(6, frozenset(edges))])
        shapes[c][1] += cnt
    hist = Counter(tw for tw, _, _ in shapes.values())
    return dict(multiplicity_vectors=sum(pats.values()), supports=len({s for s, _ in pats}),
                distinct_shapes=len(shapes), tw_hist=dict(sorted(hist.items())),
                max_tw=max(hist), max_degree=max(d[0] for _, _, d in shapes.values()))


def main():
    which = sys.argv[1:] or ["linear_true", "linear", "cubic", "cubic_cap3"]
    words = readout_words(4)
    results = {}
    for name in which:
        v = variants()[name]
        print(f"=== {name}: cov patterns {len(cov_patterns(v))}, n-vectors {sum(cov_patterns(v).values())}", flush=True)
        res = {}
        t0 = time.time()
        _, pats = structure_ii(v, {})
        res["kappa3_alone"] = pattern_report(pats)
        print(" kappa3 alone", res["kappa3_alone"], flush=True)
        for out, poly in words.items():
            r = {}
            r["order1"] = first_order(v, poly).summary()
            st, dense = structure_i(v, poly)
            r["i"] = st.summary()
            r["i_denseV"] = dense.summary()
            r["ii"] = structure_ii(v, poly)[0].summary()
            r["n_monomials"] = {k: len(part_of_degree(poly, k)) for k in (2, 3, 4)}
            res[out] = r
            for k in ("order1", "i", "i_denseV", "ii"):
                s = dict(r[k])
                s.pop("worst_example")
                print(f" {out:3s} {k:9s} {s}", flush=True)
            print(f"   ({time.time() - t0:.0f}s)", flush=True)
        results[name] = res
        with open(HERE / f"results_{name}.json", "w") as f:
            json.dump(res, f, indent=1, default=str)


if __name__ == "__main__":
    main()
