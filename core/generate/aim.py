"""AIM (McKenna et al. 2022) on smartnoise-synth's measurements, with a NumPy estimate of the model each round.

smartnoise's AIM re-estimates its graphical model after every measurement with mbi's JAX mirror descent, and
a fresh estimate compiles a fresh XLA program (its loss closes over the measurements); selecting the next
marginal then projects the model onto every candidate by JAX variable elimination, op by op (each new shape
compiles). On the 16,000-row census demo at epsilon 1 that is about 4 s and 5 s a round on an idle machine
(33 s for the first selection), and each sample compiles once more.

Here the estimate is the same algorithm in NumPy (`core/generate/estimate.py`), warm-started from the previous
round's potentials (as mbi's own AIM does) with `round_iters` iterations, candidates are projected by NumPy
variable elimination, and the final model gets `final_iters` iterations (smartnoise: 1,000 every time, from
zero). The estimate and the selection's model answers are post-processing of the noisy
measurements: the privacy accounting is smartnoise's, line for line (same zCDP split between one-way
measurements, selection and measurement, same annealing, same final round), and every measurement and
selection is logged in `privacy_ledger` so a test can add it up.
"""
from __future__ import annotations

import numpy as np
from snsynth.aim.aim import AIMSynthesizer, compile_workload, filter_candidates
from snsynth.utils import gaussian_noise

from core.generate.estimate import Clique, Measurements, mirror_descent


class FastAIMSynthesizer(AIMSynthesizer):
    """smartnoise's AIM with each round's model estimated in NumPy, warm-started; the same privacy accounting."""

    def __init__(self, epsilon=1.0, delta=1e-9, max_model_size=80, degree=2, num_marginals=None,
                 max_cells: int = 10000, rounds=None, verbose=False, *, round_iters: int = 250,
                 final_iters: int = 1000):
        super().__init__(epsilon=epsilon, delta=delta, max_model_size=max_model_size, degree=degree,
                         num_marginals=num_marginals, max_cells=max_cells, rounds=rounds, verbose=verbose)
        self.round_iters = int(round_iters)
        self.final_iters = int(final_iters)
        self.privacy_ledger: list[dict] = []
        self.rounds_run = 0

    def _measure(self, data, clique, sigma, log):
        """One noisy marginal (Gaussian, OpenDP's sampler) appended to `log`, its zCDP cost to the ledger."""
        x = np.asarray(data.project(clique).datavector())
        y = x + np.asarray(gaussian_noise(sigma, x.size))
        log.append((clique, y, sigma))
        self.privacy_ledger.append({"step": "measure", "clique": clique, "sigma": float(sigma),
                                    "rho": 0.5 / sigma ** 2})
        return y

    def AIM(self, data, workload):  # noqa: N802 - smartnoise's hook name
        """smartnoise's AIM loop (snsynth/aim/aim.py), budget lines unchanged, estimates in NumPy."""
        rounds = self.rounds or 16 * len(data.domain)
        candidates = compile_workload(workload)
        answers = {cl: np.asarray(data.project(cl).datavector()) for cl in candidates}
        oneway = [cl for cl in candidates if len(cl) == 1]

        sigma = np.sqrt(rounds / (2 * 0.9 * self.rho))
        epsilon = np.sqrt(8 * 0.1 * self.rho / rounds)

        log: list[tuple[Clique, np.ndarray, float]] = []
        rho_used = len(oneway) * 0.5 / sigma ** 2
        for cl in oneway:
            self._measure(data, cl, sigma, log)
        model = mirror_descent(data.domain, Measurements.from_log(data.domain, log), iters=self.final_iters)

        t = 0
        terminate = False
        while not terminate:
            t += 1
            if self.rho - rho_used < 2 * (0.5 / sigma ** 2 + 1.0 / 8 * epsilon ** 2):
                # Just use up whatever remaining budget there is for one last round
                remaining = self.rho - rho_used
                sigma = np.sqrt(1 / (2 * 0.9 * remaining))
                epsilon = np.sqrt(8 * 0.1 * remaining)
                terminate = True

            rho_used += 1.0 / 8 * epsilon ** 2 + 0.5 / sigma ** 2
            size_limit = self.max_model_size * rho_used / self.rho

            small_candidates = filter_candidates(candidates, model, size_limit)
            cl = self._worst_approximated(small_candidates, answers, model, epsilon, sigma)
            self.privacy_ledger.append({"step": "select", "clique": cl, "epsilon": float(epsilon),
                                        "rho": epsilon ** 2 / 8})

            n = data.domain.size(cl)
            z = model.project(cl).datavector()
            self._measure(data, cl, sigma, log)
            model = mirror_descent(data.domain, Measurements.from_log(data.domain, log), model.potentials,
                                   iters=self.round_iters)
            w = model.project(cl).datavector()
            if np.linalg.norm(w - z, 1) <= sigma * np.sqrt(2 / np.pi) * n:
                sigma /= 2
                epsilon *= 2
        self.rounds_run = t
        model = mirror_descent(data.domain, Measurements.from_log(data.domain, log), model.potentials,
                               iters=self.final_iters)
        self.synthesizer = model


def ledger_rho(ledger: list[dict]) -> float:
    """Total zCDP spent by the logged measurements and selections."""
    return float(sum(entry["rho"] for entry in ledger))
