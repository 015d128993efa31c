"""kappa_3 alone (no words): list the cross-edge shapes with tw >= 3; and per-monomial tw breakdown for (ii)."""
import sys
from collections import Counter
from order2_graphs import variants, cumulant3_patterns, monomial_graph, e
from graphs import treewidth, canonical, degree_sequence
from perturbo.ir.words import readout_words, part_of_degree

for name in sys.argv[1:] or ["cubic", "linear_true"]:
    v = variants()[name]
    pats = cumulant3_patterns(v)
    shapes = {}
    for (sup, flags), cnt in pats.items():
        edges = frozenset(set(sup) | {(2 * k, 2 * k + 1) for k, f in enumerate(flags) if f})
        c = canonical(6, edges)
        if c not in shapes:
            shapes[c] = [treewidth(6, edges), 0, degree_sequence(6, edges), len(sup), sorted(sup)]
        shapes[c][1] += cnt
    print(f"== {name}: kappa_3 alone, shapes with tw >= 4 (tw, #mult.vectors, degree seq incl. blob edges, #cross edges, example cross edges; blobs (0,1),(2,3),(4,5))")
    for s in sorted(shapes.values(), key=lambda s: (-s[0], -s[1])):
        if s[0] >= 4:
            print("  ", s)
    print("  max cross edges in a support:", max(len(s) for s, _ in pats))
    w = readout_words(3)
    rows = {}
    for out, p in w.items():
        for mono in part_of_degree(p, 3):
            n, words, pairs, pinned = monomial_graph(mono)
            pts = [x for pq in pairs for x in pq]
            h = Counter()
            for (sup, flags), cnt in pats.items():
                edges = set(words) | {e(pts[a], pts[b]) for a, b in sup} | {e(*pairs[k]) for k, f in enumerate(flags) if f}
                h[treewidth(n, frozenset(edges))] += cnt
            key = tuple(x for x in mono if 'D' in x[1])
            rows[key] = dict(sorted(h.items()))
    print(f"  (ii) per D-carrying word set: max tw -> number of monomial shapes")
    print("  ", Counter(max(h) for h in rows.values()))
    for k, h in rows.items():
        if max(h) >= 5:
            print("   tw5:", k, h)
