"""Distinct connected *components* (labelled tensor networks up to relabelling) across all outputs.

This is what a compiled order 2 would actually have to contract once per layer (the first order's
factored plan also contracts each distinct step once and shares it between z, zm, zs). Operand
labels: word matrices (e.g. "AKA", oriented), end vectors (unary, with their free index),
G^(i,j) on each blob (oriented), C^n on cross edges. Scalars (closed words) are dropped.

usage: python components.py {ii|i_dense|i_terms} {cubic|linear_true|cubic_cap3} [outputs, e.g. z or z,zm]
"""
from __future__ import annotations

import itertools
import json
import sys
import time
from collections import Counter
from pathlib import Path

from perturbo.ir.networks import _monomial_operands
from perturbo.ir.words import part_of_degree, readout_words

from graphs import cell_relabellings, treewidth
from order2_graphs import CROSS, PAIRINGS, cumulant3_vectors, variants

HERE = Path(__file__).resolve().parent

M = 61


def rev(name):
    if name.startswith("G"):
        return f"G{name[2]}{name[1]}"
    if name.startswith("C") or name.startswith("V"):
        return name
    return name[::-1]


def connected_groups(operands):
    """Operands linked by shared summed (lower-case) indices; one without summed indices is a group alone."""
    groups = []
    for operand in operands:
        summed = {i for i in operand[1] if not i.isupper()}
        joined = [g for g in groups if g[0] & summed]
        merged_indices, merged_ops = set(summed), [operand]
        for g in joined:
            merged_indices |= g[0]
            merged_ops += g[1]
            groups.remove(g)
        groups.append((merged_indices, merged_ops))
    return [ops for _, ops in groups]


def split_components(operands):
    """Connected groups of operands with summed indices (scalar factors dropped)."""
    return [ops for ops in connected_groups(operands) if any(not i.isupper() for _, idx in ops for i in idx)]


def canonical_component(ops):
    """Exact canonical form of a labelled network (refinement + brute force in cells); also its graph."""
    verts = sorted({i for _, idx in ops for i in idx if not i.isupper()})
    k = {v: n for n, v in enumerate(verts)}
    n = len(verts)
    vlabel = [[] for _ in range(n)]
    elabel = {}
    hyper = []
    for name, idx in ops:
        s = [i for i in idx if not i.isupper()]
        free = "".join(i for i in idx if i.isupper())
        if len(s) == 1:
            vlabel[k[s[0]]].append(name + "@" + free + str(idx.index(s[0])))
        elif len(s) == 2 and len(idx) == 2:
            a, b = k[idx[0]], k[idx[1]]
            elabel.setdefault((a, b), []).append(name)
            elabel.setdefault((b, a), []).append(rev(name))
        else:  # a 4-index tensor V(p,q,r,s): symmetric under (p,q)<->(r,s), p<->q with r<->s simultaneously
            hyper.append((name, tuple(k[i] for i in idx)))
    vlabel = [tuple(sorted(x)) for x in vlabel]
    elab = {key: tuple(sorted(v)) for key, v in elabel.items()}
    nbrs = [[] for _ in range(n)]
    for (a, b), lab in elab.items():
        nbrs[a].append((b, lab))
    for name, idx in hyper:
        for pos, a in enumerate(idx):
            for pos2, b in enumerate(idx):
                if a != b:
                    nbrs[a].append((b, (name, min(pos, pos2) , max(pos, pos2))))
    colors = vlabel
    order = sorted(set(colors))
    colors = [order.index(c) for c in colors]
    while True:
        sig = [(colors[v], tuple(sorted((lab, colors[w]) for w, lab in nbrs[v]))) for v in range(n)]
        order = sorted(set(sig))
        new = [order.index(s) for s in sig]
        if len(set(new)) == len(set(colors)):
            colors = new
            break
        colors = new
    best = None
    # V(p,q,r,s) symmetries: (pqrs) ~ (rspq) ~ (qpsr) ~ (srqp)
    vsym = [(0, 1, 2, 3), (2, 3, 0, 1), (1, 0, 3, 2), (3, 2, 1, 0)]
    for perm in cell_relabellings(n, colors):
        form = tuple(sorted((perm[a], perm[b], lab) for (a, b), lab in elab.items()))
        hform = tuple(sorted(min((name,) + tuple(perm[idx[j]] for j in s) for s in vsym) for name, idx in hyper))
        vform = tuple(vlabel[v] for v in sorted(range(n), key=lambda v: perm[v]))
        key = (vform, form, hform)
        if best is None or key < best:
            best = key
    edges = set()
    for (a, b) in elab:
        edges.add((min(a, b), max(a, b)))
    for _, idx in hyper:
        for a, b in itertools.combinations(idx, 2):
            edges.add((min(a, b), max(a, b)))
    return (n, best), treewidth(n, frozenset(edges))


def run_ii(v, words):
    """Components of kappa_3 networks; the multiplicity vectors keep their C^n labels (they matter for distinctness)."""
    vectors = list(cumulant3_vectors(v))
    print(f" kappa_3 multiplicity vectors: {len(vectors)}", flush=True)
    for out, poly in words.items():
        for mono in part_of_degree(poly, 3):
            operands, pairs = _monomial_operands(mono)
            pts = [x for pq in pairs for x in pq]
            for o, ns in vectors:
                ops = list(operands)
                for (p, q), pr in zip(pairs, o):
                    if pr not in v["constants"]:
                        ops.append((f"G{pr[0]}{pr[1]}", (p, q)))
                for (a, b), m in zip(CROSS, ns):
                    if m:
                        ops.append((f"C{m}", (pts[a], pts[b])))
                yield out, ops


def run_i_dense(v, words):
    for out, poly in words.items():
        for mono in part_of_degree(poly, 4):
            operands, pairs = _monomial_operands(mono)
            for pairing in PAIRINGS:
                ops = list(operands)
                for i, j in pairing:
                    ops.append(("V", pairs[i] + pairs[j]))
                yield out, ops


def run_i_terms(v, words):
    from perturbo.ir.networks import cross_orders

    ns = []
    for n in cross_orders(v["maxv"]):
        first, second = (n[0] + n[1], n[2] + n[3]), (n[0] + n[2], n[1] + n[3])
        if first in v["nonzero"] and second in v["nonzero"]:
            if not v["point_cap"] or max(first + second) <= v["point_cap"]:
                ns.append((n, first, second))
    for out, poly in words.items():
        for mono in part_of_degree(poly, 4):
            operands, pairs = _monomial_operands(mono)
            for pairing in PAIRINGS:
                covs = [(pairs[i], pairs[j]) for i, j in pairing]
                for n1 in ns:
                    for n2 in ns:
                        ops = list(operands)
                        for ((p, q), (r, s)), (n, first, second), tag in zip(covs, (n1, n2), ("", "'")):
                            # tag: the two covariances may come from different layers (distinct matrices)
                            if first not in v["constants"]:
                                ops.append((f"G{first[0]}{first[1]}{tag}", (p, q)))
                            if second not in v["constants"]:
                                ops.append((f"G{second[0]}{second[1]}{tag}", (r, s)))
                            for k, pair in zip(n, ((p, r), (p, s), (q, r), (q, s))):
                                if k:
                                    ops.append((f"C{k}{tag}", pair))
                        yield out, ops


def main():
    structure, name = sys.argv[1], sys.argv[2]
    suffix = "_" + sys.argv[3] if len(sys.argv) > 3 else ""
    v = variants()[name]
    words = readout_words(4)
    if len(sys.argv) > 3:
        words = {k: words[k] for k in sys.argv[3].split(",")}
    gen = {"ii": run_ii, "i_dense": run_i_dense, "i_terms": run_i_terms}[structure](v, words)
    t0 = time.time()
    comps = {}  # canonical -> tw
    per_out = Counter()
    seen_labelled = {}
    terms = 0
    for out, ops in gen:
        terms += 1
        for comp in split_components(ops):
            key = tuple(sorted(comp))
            if key in seen_labelled:
                c = seen_labelled[key]
            else:
                c = canonical_component(comp)
                seen_labelled[key] = c
            comps[c[0]] = c[1]
        if terms % 200000 == 0:
            print(f"  {terms} terms, {len(comps)} components, {time.time() - t0:.0f}s", flush=True)
    hist = Counter(comps.values())
    nverts = Counter(k[0] for k in comps)
    flops = {tw: cnt * M ** (tw + 1) for tw, cnt in hist.items()}
    res = dict(structure=structure, variant=name, terms=terms, distinct_components=len(comps),
               tw_hist=dict(sorted(hist.items())), vertices_hist=dict(sorted(nverts.items())),
               flops_M61_by_tw={k: f"{f:.3g}" for k, f in sorted(flops.items())},
               flops_M61_total=f"{sum(flops.values()):.3g}", seconds=round(time.time() - t0))
    print(res, flush=True)
    with open(HERE / f"components_{structure}_{name}{suffix}.json", "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
