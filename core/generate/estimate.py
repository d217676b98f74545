"""Graphical-model estimation from noisy marginals in NumPy: mbi's mirror descent, message passing and sampling.

mbi (the library under smartnoise's MST and AIM) runs these in JAX, and every estimate compiles a new XLA
program: its loss closes over the measurements, so no compiled program is ever reused. On the tables this desk
generates (tens of columns, marginals of a few hundred cells) the compile is nearly all of the time: 3-5 s an
estimate on an idle machine, against a fraction of a second for the same iterations in NumPy. The algorithms
here are mbi's, step for step (`tests/core/test_dp_estimate.py` checks them against mbi): log-space Hugin
message passing on mbi's junction tree, mirror descent with its Armijo step rule and starting step, variable
elimination in its greedy order, and its randomized-rounding sampler (conditioning on the junction tree's
fill-in edges too, so samples of a cyclic model keep its marginals). All of it is post-processing of the noisy
measurements: it spends no privacy.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from mbi import Dataset, junction_tree
from mbi.clique_utils import clique_mapping, maximal_subset

Clique = tuple[str, ...]


def _expand(values: np.ndarray, attrs: Clique, target: Clique, domain) -> np.ndarray:
    """A factor over `attrs` broadcastable over `target` (both in the domain's order, attrs within target)."""
    return values.reshape([domain[a] if a in attrs else 1 for a in target])


def _logsumexp(values: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """log(sum(exp(values))) over `axes`, stable, those axes removed."""
    if not axes:
        return values
    peak = values.max(axis=axes, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return (np.log(np.exp(values - peak).sum(axis=axes, keepdims=True)) + peak).squeeze(axis=axes)


def _sum_to(values: np.ndarray, attrs: Clique, keep: Clique) -> np.ndarray:
    """Marginal of a factor over `attrs` onto `keep` (a subset, same order)."""
    axes = tuple(i for i, a in enumerate(attrs) if a not in keep)
    return values.sum(axis=axes) if axes else values


@dataclass(frozen=True)
class Measurements:
    """Noisy counts merged per clique. For the squared loss, measurements y_i of one marginal with noise
    sigma_i act as one with precision sum 1/sigma_i^2 and weighted sum sum y_i/sigma_i^2 (the loss differs by
    a constant, which mirror descent never sees)."""

    precision: dict[Clique, float]
    weighted: dict[Clique, np.ndarray]  # sum y_i / sigma_i^2, shaped as the clique
    total: float

    @classmethod
    def from_log(cls, domain, log, known_total: float | None = None) -> "Measurements":
        """Merge (clique, noisy counts, sigma) entries, or mbi LinearMeasurements with identity queries;
        the total is `known_total` or mbi's minimum-variance estimate from the measurements."""
        precision: dict[Clique, float] = {}
        weighted: dict[Clique, np.ndarray] = {}
        estimates, variances = [], []
        for entry in log:
            clique, y, sigma = _entry(entry)
            y = np.asarray(y, dtype=float).reshape(domain.project(clique).shape)
            precision[clique] = precision.get(clique, 0.0) + 1.0 / sigma ** 2
            weighted[clique] = weighted.get(clique, 0.0) + y / sigma ** 2
            estimates.append(y.sum())
            variances.append(sigma ** 2 * y.size)
        if known_total is None:
            variance = 1.0 / np.sum(1.0 / np.array(variances))
            known_total = max(1.0, float(variance * np.sum(np.array(estimates) / np.array(variances))))
        return cls(precision, weighted, float(known_total))


def _entry(entry) -> tuple[Clique, np.ndarray, float]:
    """(clique, y, sigma) from a tuple or an mbi LinearMeasurement (identity query only)."""
    if isinstance(entry, tuple):
        return entry
    from mbi import Factor

    if entry.query != Factor.datavector:
        raise ValueError("only identity-query measurements are supported")
    return tuple(entry.clique), np.asarray(entry.noisy_measurement), float(entry.stddev)


class _Tree:
    """The junction tree of a set of cliques (mbi's), its message order and where each clique lives in it."""

    def __init__(self, domain, cliques: list[Clique]):
        self.domain = domain
        tree, self.elimination_order = junction_tree.make_junction_tree(domain, cliques)
        self.nodes = junction_tree.maximal_cliques(tree)
        self.order = junction_tree.message_passing_order(tree)
        self.home = clique_mapping(self.nodes, cliques, domain=domain)

    def marginals(self, potentials: dict[Clique, np.ndarray], total: float) -> dict[Clique, np.ndarray]:
        """Counts on every junction-tree node (each sums to total): log-space Hugin message passing."""
        domain = self.domain
        beliefs = {node: np.zeros(domain.project(node).shape) for node in self.nodes}
        for clique, theta in potentials.items():
            node = self.home[clique]
            beliefs[node] = beliefs[node] + _expand(theta, clique, node, domain)
        messages = {}
        for i, j in self.order:
            separator = tuple(a for a in i if a in j)
            tau = beliefs[i]
            if (j, i) in messages:
                tau = tau - _expand(messages[j, i], separator, i, domain)
            messages[i, j] = _logsumexp(tau, tuple(k for k, a in enumerate(i) if a not in separator))
            beliefs[j] = beliefs[j] + _expand(messages[i, j], separator, j, domain)
        out = {}
        for node, belief in beliefs.items():
            log_z = _logsumexp(belief, tuple(range(belief.ndim)))
            out[node] = np.exp(belief - log_z + np.log(total))
        return out


class NumpyModel:
    """A graphical model over log-potentials on cliques, with what smartnoise asks of mbi's
    MarkovRandomField: domain, cliques, total, project(clique).datavector() and synthetic_data(rows)."""

    def __init__(self, domain, potentials: dict[Clique, np.ndarray], total: float):
        self.domain = domain
        self.cliques = list(potentials)
        self.potentials = potentials
        self.total = float(total)
        self._tree = _Tree(domain, self.cliques)
        self.beliefs = self._tree.marginals(potentials, self.total)
        self._projections: dict[Clique, np.ndarray] = {}

    def project(self, clique) -> "Counts":
        """The model's counts on `clique` (canonical order), from a junction-tree node or by elimination."""
        clique = self.domain.canonical(tuple(clique))
        if clique not in self._projections:
            home = next((c for c in self._tree.nodes if set(clique) <= set(c)), None)
            self._projections[clique] = (_sum_to(self.beliefs[home], home, clique) if home is not None else
                                         _eliminate(self.domain, self.potentials, clique, self.total))
        return Counts(self._projections[clique])

    def synthetic_data(self, rows: int | None = None) -> Dataset:
        """Rows drawn from the model: mbi's randomized-rounding sampler (np.random), exact on cyclic models."""
        return _synthetic_data(self, max(1, int(rows or self.total)))


@dataclass(frozen=True)
class Counts:
    """A marginal's counts, shaped by its clique."""

    values: np.ndarray

    def datavector(self, flatten: bool = True) -> np.ndarray:
        """The counts as mbi's Factor gives them: flattened in C order."""
        return self.values.ravel() if flatten else self.values


def _eliminate(domain, potentials: dict[Clique, np.ndarray], clique: Clique, total: float) -> np.ndarray:
    """Counts on a clique no junction-tree node holds: variable elimination in log space (mbi's order)."""
    factors = list(potentials.items())
    eliminate = [a for a in domain.attributes if a not in clique]
    order, _ = junction_tree.greedy_order(domain, [cl for cl, _ in factors] + [clique], elim=eliminate)
    for z in order:
        touching = [f for f in factors if z in f[0]]
        factors = [f for f in factors if z not in f[0]]
        union = domain.canonical(set().union(*(cl for cl, _ in touching)))
        combined = np.broadcast_to(sum(_expand(theta, cl, union, domain) for cl, theta in touching),
                                   domain.project(union).shape)
        factors.append((tuple(a for a in union if a != z), _logsumexp(combined, (union.index(z),))))
    joint = np.broadcast_to(sum(_expand(theta, cl, clique, domain) for cl, theta in factors),
                            domain.project(clique).shape)
    return np.exp(joint - _logsumexp(joint, tuple(range(joint.ndim))) + np.log(total))


def mirror_descent(domain, measured: Measurements, potentials: dict[Clique, np.ndarray] | None = None,
                   iters: int = 1000) -> NumpyModel:
    """mbi's mirror descent (Armijo steps: x1.01 on sufficient decrease, x0.5 otherwise) on the squared loss of
    the measurements, over the maximal measured cliques, from `potentials` (a warm start) or zeros."""
    cliques = maximal_subset(list(measured.precision))
    home = clique_mapping(cliques, list(measured.precision), domain=domain)
    theta = {cl: np.zeros(domain.project(cl).shape) for cl in cliques}
    for clique, values in (potentials or {}).items():  # the old model, re-expressed on the new cliques
        target = next(c for c in cliques if set(clique) <= set(c))
        theta[target] = theta[target] + _expand(values, clique, target, domain)
    tree = _Tree(domain, cliques)
    total = measured.total

    def marginals(theta):
        beliefs = tree.marginals(theta, total)
        return {cl: _sum_to(beliefs[tree.home[cl]], tree.home[cl], cl) for cl in cliques}

    def loss_and_gradient(mu):
        loss, grad = 0.0, {cl: np.zeros_like(mu[cl]) for cl in cliques}
        for clique, precision in measured.precision.items():
            target = home[clique]
            counts = _sum_to(mu[target], target, clique)
            loss += 0.5 * precision * float(np.vdot(counts, counts)) - float(np.vdot(measured.weighted[clique], counts))
            grad[target] = grad[target] + _expand(precision * counts - measured.weighted[clique], clique, target,
                                                  domain)
        return loss, grad

    # The loss's Hessian is block diagonal over the maximal cliques; each block sum_m P_m'P_m / sigma_m^2 has
    # the all-ones vector as its top eigenvector (eigenvalue sum_m |C|/|m| / sigma_m^2): the constant mbi
    # estimates by power iteration.
    lipschitz = max(sum(precision * domain.size(home[m]) / domain.size(m)
                        for m, precision in measured.precision.items() if home[m] == c) for c in cliques)
    alpha = 2.0 / (lipschitz * total)
    mu = marginals(theta)
    loss, grad = loss_and_gradient(mu)
    for _ in range(iters):
        # mbi recomputes mu from theta at every step; it is the last accepted point's, so it is kept instead.
        theta2 = {cl: theta[cl] - alpha * grad[cl] for cl in cliques}
        mu2 = marginals(theta2)
        loss2, grad2 = loss_and_gradient(mu2)
        decrease = sum(float(np.vdot(grad[cl], mu[cl] - mu2[cl])) for cl in cliques)
        if loss - loss2 >= 0.5 * alpha * decrease:
            theta, mu, loss, grad = theta2, mu2, loss2, grad2
            alpha *= 1.01
        else:
            alpha *= 0.5
    return NumpyModel(domain, theta, total)


def _synthetic_column(counts: np.ndarray, total: int) -> np.ndarray:
    """`total` values with these relative counts, by randomized rounding (mbi's synthetic_col)."""
    options = np.arange(counts.size, dtype=np.min_scalar_type(counts.size))
    counts = counts * (total / counts.sum())
    frac, integ = np.modf(counts)
    integ = integ.astype(int)
    extra = total - integ.sum()
    if extra > 0:
        integ[np.random.choice(options, extra, False, frac / frac.sum())] += 1
    values = np.repeat(options, integ)
    np.random.shuffle(values)
    return values


def _marginal(model: NumpyModel, attrs: tuple[str, ...]) -> np.ndarray:
    """The model's marginal on `attrs`, axes in the order given."""
    canonical = model.domain.canonical(attrs)
    return np.transpose(model.project(canonical).values, [canonical.index(a) for a in attrs])


def _synthetic_data(model: NumpyModel, total: int) -> Dataset:
    """mbi's MarkovRandomField.synthetic_data, method "round": columns in reverse elimination order, each drawn
    given the sampled columns it shares a junction-tree node with, by stratified uniforms per configuration."""
    domain = model.domain
    # mbi conditions on the model's cliques only, which misses the fill-in edges of a cyclic model (its AIM
    # models are); the junction tree's nodes hold them, and in reverse elimination order a column's sampled
    # neighbours there are exactly what it depends on given the rest.
    cliques = [set(node) for node in model._tree.nodes]
    order = model._tree.elimination_order[::-1]
    data = {order[0]: _synthetic_column(_marginal(model, (order[0],)), total)}
    used = {order[0]}
    for col in order[1:]:
        relevant = used.intersection(set().union(*[cl for cl in cliques if col in cl]))
        parents = tuple(a for a in domain.attributes if a in relevant)
        used.add(col)
        if not parents:
            data[col] = _synthetic_column(_marginal(model, (col,)), total)
            continue
        joint = _marginal(model, parents + (col,))
        given = joint.sum(axis=-1, keepdims=True)
        cdfs = np.divide(joint, given, out=np.zeros_like(joint), where=given != 0).cumsum(axis=-1)
        uniques, inverse, counts = np.unique(np.stack([data[p] for p in parents], -1), axis=0,
                                             return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        perm = np.argsort(inverse, kind="stable")
        starts = np.zeros(len(counts), dtype=int)
        np.cumsum(counts[:-1], out=starts[1:])
        ranks = np.empty(total, dtype=int)
        ranks[perm] = np.arange(total) - starts[inverse[perm]]
        u = (ranks + np.random.rand(total)) / counts[inverse]
        unique_cdfs = cdfs[tuple(uniques.T)]
        choices = np.empty(total, dtype=np.min_scalar_type(domain[col]))
        u_sorted = u[perm]
        start = 0
        for i, count in enumerate(counts):
            end = start + count
            picked = np.searchsorted(unique_cdfs[i], u_sorted[start:end], side="right")
            choices[perm[start:end]] = np.minimum(picked, domain[col] - 1)
            start = end
        data[col] = choices
    return Dataset(data, domain)
