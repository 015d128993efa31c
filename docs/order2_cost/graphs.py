"""Small-graph utilities: exact treewidth (DP over vertex subsets) and exact canonical form.

Graphs are (n, frozenset of edges (i, j) with i < j) on vertices 0..n-1, n <= ~10.
"""
from __future__ import annotations

import itertools
from functools import lru_cache


def adjacency(n, edges):
    adj = [0] * n
    for i, j in edges:
        adj[i] |= 1 << j
        adj[j] |= 1 << i
    return adj


def _q_size(adj, S, v, n):
    """|Q(S, v)|: vertices outside S u {v} reachable from v through paths with interior in S."""
    seen = 1 << v
    frontier = [v]
    out = 0
    while frontier:
        u = frontier.pop()
        nb = adj[u] & ~seen
        seen |= nb
        out |= nb & ~S
        inside = nb & S
        while inside:
            w = (inside & -inside).bit_length() - 1
            inside &= inside - 1
            frontier.append(w)
    return bin(out).count("1")


@lru_cache(maxsize=None)
def treewidth(n, edges):
    """Exact treewidth by the O*(2^n) DP of Bodlaender, Fomin, Koster, Kratsch, Thilikos (2006):
    TW(S) = min_{v in S} max(TW(S - v), |Q(S - v, v)|); tw = TW(V)."""
    if n == 0:
        return -1
    adj = adjacency(n, edges)
    full = (1 << n) - 1
    TW = {0: -1}
    for size in range(1, n + 1):
        for combo in itertools.combinations(range(n), size):
            S = 0
            for c in combo:
                S |= 1 << c
            best = n
            for v in combo:
                rest = S & ~(1 << v)
                val = max(TW[rest], _q_size(adj, rest, v, n))
                if val < best:
                    best = val
            TW[S] = best
    return TW[full]


def treewidth_bruteforce(n, edges):
    """Check: min over elimination orders of the max neighbourhood size at elimination."""
    best = n
    for order in itertools.permutations(range(n)):
        adj = [set() for _ in range(n)]
        for i, j in edges:
            adj[i].add(j)
            adj[j].add(i)
        width = 0
        alive = set(range(n))
        for v in order:
            nb = adj[v] & alive
            width = max(width, len(nb))
            for a in nb:
                adj[a] |= nb - {a}
            alive.discard(v)
        best = min(best, width)
    return best


def _refine(n, adj_sets, colors):
    while True:
        sig = [(colors[v], tuple(sorted(colors[w] for w in adj_sets[v]))) for v in range(n)]
        order = sorted(set(sig))
        new = [order.index(s) for s in sig]
        if len(set(new)) == len(set(colors)):
            return new
        colors = new


def cell_relabellings(n, colors):
    """Every relabelling ``{vertex: new label}`` that keeps the colour cells in colour order."""
    cells = [sorted(v for v in range(n) if colors[v] == c) for c in sorted(set(colors))]
    for choice in itertools.product(*(itertools.permutations(cell) for cell in cells)):
        yield {v: k for k, v in enumerate(v for cell in choice for v in cell)}


@lru_cache(maxsize=None)
def canonical(n, edges, vertex_colors=None):
    """Exact canonical form: 1-WL colour refinement, then all permutations respecting the ordered cells."""
    adj_sets = [set() for _ in range(n)]
    for i, j in edges:
        adj_sets[i].add(j)
        adj_sets[j].add(i)
    colors = list(vertex_colors) if vertex_colors else [0] * n
    # make initial colours canonical
    order = sorted(set(colors))
    colors = [order.index(c) for c in colors]
    colors = _refine(n, adj_sets, colors)
    best = None
    for perm in cell_relabellings(n, colors):
        form = tuple(sorted(tuple(sorted((perm[i], perm[j]))) for i, j in edges))
        if best is None or form < best:
            best = form
    return (n, tuple(sorted(colors)), best)


def degree_sequence(n, edges):
    deg = [0] * n
    for i, j in edges:
        deg[i] += 1
        deg[j] += 1
    return tuple(sorted(deg, reverse=True))


if __name__ == "__main__":
    import random

    random.seed(1)
    for _ in range(300):
        n = random.randint(1, 7)
        edges = frozenset((i, j) for i in range(n) for j in range(i + 1, n) if random.random() < 0.5)
        assert treewidth(n, edges) == treewidth_bruteforce(n, edges), (n, edges)
        perm = list(range(n))
        random.shuffle(perm)
        e2 = frozenset(tuple(sorted((perm[i], perm[j]))) for i, j in edges)
        assert canonical(n, edges) == canonical(n, e2)
    K = lambda m: frozenset((i, j) for i in range(m) for j in range(i + 1, m))
    print("K4", treewidth(4, K(4)), "K6", treewidth(6, K(6)), "K8", treewidth(8, K(8)))
    octa = frozenset(e for e in K(6) if e not in {(0, 1), (2, 3), (4, 5)})
    print("octahedron", treewidth(6, octa))
    print("self-test ok")
