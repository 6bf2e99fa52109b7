"""Always-valid (sequential) confidence intervals: the normal-mixture confidence sequence.

A fixed-horizon interval is valid once, at a sample size chosen in advance. A pilot is looked
at every day; checking a fixed interval at each look and stopping at the first "pass" makes
false passes far more likely than alpha. A confidence sequence holds at every look at once:
the chance that it ever misses the true effect, however often it is checked, is at most alpha.

No maintained Python library ships this boundary for an asymptotically normal estimate given
only its variance (``confseq`` needs a C++ build), so it is written here, from the papers.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ("mixture_half_width", "optimal_mixing_ratio")

Number = float | npt.NDArray[np.float64]


def optimal_mixing_ratio(alpha: float) -> float:
    """``tau^2 / V*``: the mixing variance, in units of the estimator's variance ``V*`` at the
    planned sample size, that makes the boundary (nearly) tightest there.

    Howard et al. (2021, Section 3, the normal-mixture boundary) give the ``rho`` that makes
    the boundary nearly tightest at a target intrinsic time ``v*`` (the choice of
    ``confseq``'s ``TwoSidedNormalMixture::best_rho``):
    ``rho = v* / (2 log(1/alpha) + log(1 + 2 log(1/alpha)))``; in the estimator's scale
    ``rho = 1 / tau^2`` and ``v* = 1 / V*``, so ``tau^2 / V*`` is that denominator.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    two_log = 2.0 * np.log(1.0 / alpha)
    return float(two_log + np.log1p(two_log))


def mixture_half_width(variance: Number, planned_variance: Number, alpha: float) -> Number:
    """Half-width of the two-sided normal-mixture confidence sequence around an estimate.

    For an estimate ``theta_hat`` that is asymptotically normal with variance ``V`` (shrinking
    like 1/n), mixing the likelihood ratio over ``theta ~ N(0, tau^2)`` gives the mixture
    SPRT of Johari, Koomen, Pekelis and Walsh ("Always valid inference: continuous monitoring
    of A/B tests", Operations Research 70(3), 2022):
    ``Lambda = sqrt(V / (V + tau^2)) exp(tau^2 theta_hat^2 / (2 V (V + tau^2)))``; the set of
    ``theta`` with ``Lambda < 1/alpha`` is

        |theta_hat - theta| <= sqrt( V (V + tau^2) / tau^2 * log((V + tau^2) / (V alpha^2)) ).

    This is Howard, Ramdas, McAuliffe and Sekhon's two-sided normal-mixture boundary
    ("Time-uniform, nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49(2),
    2021): ``u(v) = sqrt((v + rho) log((v + rho) / (rho alpha^2)))`` for a sum ``S`` with
    intrinsic time ``v``, divided by ``v = 1/V``, with ``rho = 1/tau^2``. With the variance
    estimated from the data it is the asymptotic confidence sequence of Waudby-Smith, Arbour,
    Sinha, Kennedy and Ramdas ("Time-uniform central limit theory and asymptotic confidence
    sequences", Ann. Statist. 2024): valid at every look, and at any stopping time, as the
    samples grow (Bibaut, Kallus and Lindon 2024 show the same for a normal-mixture SPRT
    with a burn-in, which the plan's minimum samples per cohort provides).

    ``tau^2 = optimal_mixing_ratio(alpha) * planned_variance``: the sequence is tightest where
    the pilot plans to end (``planned_variance``: the estimator's variance at the planned
    sample size per cohort), and there it is about 1.3-1.5 times wider than the fixed interval.
    Works element-wise on arrays; a non-positive variance gives ``nan``.
    """
    v = np.asarray(variance, dtype=float)
    tau2 = optimal_mixing_ratio(alpha) * np.asarray(planned_variance, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = tau2 / v
        squared = v * (1.0 + 1.0 / ratio) * (np.log1p(ratio) - 2.0 * np.log(alpha))
        half = np.where((v > 0) & (tau2 > 0), np.sqrt(squared), np.nan)
    return half if half.ndim else float(half)
