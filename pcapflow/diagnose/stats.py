"""Is the observed hairpin failure rate what the balancer's choice predicts?

With the default 5-tuple distribution every new connection lands on one of N members at random,
so a member calling its own frontend fails at about 1/N: the number of failures among k attempts
is Binomial(k, 1/N).  A two-sided binomial test (``scipy.stats.binomtest``) tells whether the
observed count is consistent (p >= 0.01).  With source-IP affinity the choice does not change
between connections: a caller fails always or never.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    """Two-sided binomial test of ``failures`` in ``attempts`` against ``rate``."""
    from scipy.stats import binomtest  # imported here: scipy.stats costs ~0.5 s at start-up

    return float(binomtest(failures, attempts, rate, alternative="two-sided").pvalue)


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
