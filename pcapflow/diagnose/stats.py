"""Is the observed hairpin failure rate what the balancer's choice predicts?

With the default 5-tuple distribution every new connection lands on one of N members at random,
so a member calling its own frontend fails at about 1/N: the number of failures among k attempts
is Binomial(k, 1/N).  A two-sided binomial test (the exact test of ``scipy.stats.binomtest`` and
R's ``binom.test``) tells whether the observed count is consistent (p >= 0.01).  It is computed
here, in integers, rather than through ``scipy.stats``: importing that costs about 0.5 s of every
``analyze`` that has a finding, for a sum of a few hundred terms (the tests check it against
``scipy.stats.binomtest``).  With source-IP affinity the choice does not change
between connections: a caller fails always or never.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from pcapflow.model.lb import Distribution

ALPHA = 0.01


@dataclass(frozen=True, slots=True)
class RateCheck:
    expected_rate: float | None
    observed_rate: float | None
    p_value: float | None
    consistent: bool | None  # None: nothing to compare
    reason: str


def expected_rate(pool_size: int) -> float | None:
    """1/N for a pool of N members the rule can pick (None for an empty pool)."""
    return 1.0 / pool_size if pool_size > 0 else None


def binomial_p(failures: int, attempts: int, rate: float) -> float:
    """Two-sided exact binomial test of ``failures`` in ``attempts`` against ``rate``: the
    probability, under Binomial(attempts, rate), of every count no more likely than the observed
    one (with scipy's and R's relative tolerance of 1e-7)."""
    if not 0 <= failures <= attempts:
        raise ValueError(f"failures {failures} outside 0..{attempts}")
    p = Fraction(rate).limit_denominator(1 << 20)  # 1/N exactly
    if p in (0, 1):
        return 1.0 if failures == attempts * p else 0.0
    if attempts > EXACT_ATTEMPTS:
        return _binomial_p_float(failures, attempts, float(p))
    weights = _binomial_weights(attempts, p.numerator, p.denominator)
    limit = weights[failures] * TOLERANCE.numerator  # w <= observed * (1 + 1e-7), in integers
    tail = sum(w for w in weights if w * TOLERANCE.denominator <= limit)
    return min(1.0, float(Fraction(tail, p.denominator**attempts)))


TOLERANCE = Fraction(10**7 + 1, 10**7)  # scipy.stats.binomtest's rerr (R's relErr)
EXACT_ATTEMPTS = 4000  # integers up to here (a few ms); log-space floats beyond


def _binomial_weights(n: int, a: int, b: int) -> list[int]:
    """``C(n, i) * a**i * (b - a)**(n - i)`` for i in 0..n: Binomial(n, a/b) times ``b**n``."""
    weights = [(b - a) ** n]
    for i in range(n):
        weights.append(weights[-1] * (n - i) * a // ((i + 1) * (b - a)))  # exact
    return weights


def _binomial_p_float(failures: int, attempts: int, rate: float) -> float:
    """The same test in log space, for counts too large for exact integers."""
    log_p, log_q = math.log(rate), math.log1p(-rate)

    def log_pmf(i: int) -> float:
        choose = math.lgamma(attempts + 1) - math.lgamma(i + 1) - math.lgamma(attempts - i + 1)
        return choose + i * log_p + (attempts - i) * log_q

    limit = log_pmf(failures) + math.log(float(TOLERANCE))
    terms = [log_pmf(i) for i in range(attempts + 1)]
    return min(1.0, math.fsum(math.exp(t) for t in terms if t <= limit))


def unknown_pool_rate(failures: int, attempts: int) -> RateCheck:
    """The observed rate only: without a declared pool the number of members N is unknown
    (a discovered config lists only the members the captures happened to show)."""
    observed = failures / attempts if attempts else None
    return RateCheck(
        None,
        observed,
        None,
        None,
        f"{failures}/{attempts} failed; no expected rate: the pool size N is unknown (no "
        "load-balancer config was declared and the discovered one lists only the members seen "
        "in the captures); declare the pool (--lb, or --vip with --backend) to test against 1/N",
    )


def check_rate(failures: int, attempts: int, pool_size: int, distribution: str) -> RateCheck:
    rate = expected_rate(pool_size)
    if attempts == 0 or rate is None:
        return RateCheck(rate, None, None, None, "no attempts to compare")
    observed = failures / attempts
    if distribution != Distribution.DEFAULT.value:
        consistent = failures in (0, attempts)
        how = "all-or-nothing, as" if consistent else "mixed, which contradicts"
        return RateCheck(
            rate,
            observed,
            None,
            consistent,
            f"{failures}/{attempts} failed: {how} {distribution} affinity predicts "
            "(a caller always lands on the same member)",
        )
    p = binomial_p(failures, attempts, rate)
    consistent = p >= ALPHA
    verdict = "consistent with" if consistent else "inconsistent with"
    return RateCheck(
        rate,
        observed,
        p,
        consistent,
        f"{failures}/{attempts} failed, {verdict} 1/{pool_size} (two-sided binomial p={p:.3g})",
    )
