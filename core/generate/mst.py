"""MST (McKenna et al. 2021) on smartnoise-synth's measurements, with a closed-form selection step.

smartnoise's MST spends most of its time (and XLA compilations) estimating the independent model that the
selection step compares every column pair against: mirror descent over only one-way measurements, 1,000
iterations. That estimate has a closed form: each one-way marginal is the Euclidean projection of its noisy
measurement onto {p >= 0, sum p = n}, the optimum mirror descent converges to, and the model is their
product. Selection and the final estimate are post-processing of the noisy measurements, so the privacy
guarantee (the same measurements, the same exponential mechanism, the same zCDP budget split) is unchanged.
The final estimate is mbi's mirror descent in NumPy (`core/generate/estimate.py`: no XLA compilation, the
same iterations); its iteration count is a parameter (smartnoise uses 5,000) recorded in the manifest.
"""
from __future__ import annotations

import itertools

import numpy as np
from snsynth.mst.mst import MSTSynthesizer
from snsynth.utils import cdp_rho

from core.generate.estimate import Measurements, mirror_descent


def simplex_projection(y: np.ndarray, total: float) -> np.ndarray:
    """The point of {p >= 0, sum p = total} nearest to y (Euclidean; Duchi et al. 2008)."""
    y = np.asarray(y, dtype=float)
    if total <= 0:
        return np.zeros_like(y)
    u = np.sort(y)[::-1]
    cumulative = np.cumsum(u) - total
    index = np.arange(1, y.size + 1)
    rho = np.nonzero(u - cumulative / index > 0)[0][-1]
    tau = cumulative[rho] / (rho + 1)
    return np.maximum(y - tau, 0.0)


def _spanning_tree(candidates, weights, epsilon, choose) -> list[tuple[str, str]]:
    """Kruskal's tree with each edge picked by the exponential mechanism among edges joining two components."""
    component = {}

    def find(a):
        while component.get(a, a) != a:
            a = component[a]
        return a

    nodes = {a for edge in candidates for a in edge}
    edges = []
    for _ in range(len(nodes) - 1):
        open_edges = [e for e in candidates if find(e[0]) != find(e[1])]
        if not open_edges:
            break
        pick = open_edges[choose(np.array([weights[e] for e in open_edges]), epsilon, 1.0)]
        component[find(pick[0])] = find(pick[1])
        edges.append(pick)
    return edges


class FastMSTSynthesizer(MSTSynthesizer):
    """smartnoise's MST with the closed-form independent model in selection and a set number of iterations."""

    def __init__(self, epsilon=0.1, delta=1e-9, *ignore, iters: int = 1000, verbose=False):
        super().__init__(epsilon=epsilon, delta=delta, verbose=verbose)
        self.iters = int(iters)

    def select(self, data, rho, measurement_log, total, cliques=()):
        """The MST edges: pairs whose real two-way table is farthest from the independent DP estimate."""
        marginals = {m.clique[0]: simplex_projection(np.asarray(m.noisy_measurement), float(total)) / float(total)
                     for m in measurement_log}
        candidates = list(itertools.combinations(data.domain.attrs, 2))
        weights = {}
        for a, b in candidates:
            x = np.asarray(data.project([a, b]).datavector(), dtype=float)
            xhat = float(total) * np.outer(marginals[a], marginals[b]).ravel()
            weights[a, b] = float(np.abs(x - xhat).sum())
        r = len(data.domain.attrs)
        epsilon = np.sqrt(8 * rho / max(r - 1, 1))
        return _spanning_tree(candidates, weights, epsilon, self.exponential_mechanism)

    def MST(self, data, epsilon, delta):  # noqa: N802 - smartnoise's hook name
        """smartnoise's MST with `self.iters` iterations of the final estimate, in NumPy."""
        rho = cdp_rho(epsilon, delta)
        sigma = np.sqrt(3 / (2 * rho))
        total = len(data.df)
        log1 = self.measure(data, [(col,) for col in data.domain], sigma)
        data, log1, self.undo_compress_fn = self.compress_domain(data, log1)
        cliques = self.select(data, rho / 3.0, log1, total)
        log2 = self.measure(data, cliques, sigma)
        self.synthesizer = mirror_descent(data.domain, Measurements.from_log(data.domain, log1 + log2, float(total)),
                                          iters=self.iters)
