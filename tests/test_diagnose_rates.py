"""The observed hairpin failure rate against 1/N, with a two-sided binomial test."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pcapflow.diagnose.stats import binomial_p, check_rate, expected_rate, unknown_pool_rate


def test_expected_rate_is_one_over_the_members() -> None:
    assert expected_rate(2) == 0.5
    assert expected_rate(4) == 0.25
    assert expected_rate(0) is None


def test_half_of_sixteen_with_two_members_is_consistent() -> None:
    r = check_rate(8, 16, 2, "default")
    assert r.consistent and r.p_value == pytest.approx(1.0)
    assert r.observed_rate == 0.5 and "consistent with 1/2" in r.reason


def test_every_attempt_failing_with_two_members_is_not_one_in_n() -> None:
    r = check_rate(16, 16, 2, "default")
    assert r.consistent is False and r.p_value is not None and r.p_value < 0.01


def test_single_member_always_fails() -> None:
    assert check_rate(4, 4, 1, "default").consistent


def test_binomial_p_is_two_sided() -> None:
    assert binomial_p(0, 20, 0.5) == pytest.approx(binomial_p(20, 20, 0.5))
    assert binomial_p(0, 20, 0.5) == pytest.approx(2 * 0.5**20)


def test_source_ip_affinity_expects_all_or_nothing() -> None:
    assert check_rate(10, 10, 2, "source_ip").consistent
    assert check_rate(0, 10, 2, "source_ip").consistent
    mixed = check_rate(5, 10, 2, "source_ip")
    assert mixed.consistent is False and mixed.p_value is None and "affinity" in mixed.reason


def test_no_attempts_nothing_to_compare() -> None:
    assert check_rate(0, 0, 2, "default").consistent is None


def test_unknown_pool_gives_the_observed_rate_and_no_expectation() -> None:
    r = unknown_pool_rate(3, 4)
    assert r.expected_rate is None and r.p_value is None and r.consistent is None
    assert r.observed_rate == 0.75 and "unknown" in r.reason


@settings(max_examples=300, deadline=None)
@given(
    attempts=st.integers(min_value=1, max_value=400),
    members=st.integers(min_value=1, max_value=24),
    data=st.data(),
)
def test_binomial_p_is_scipys_exact_binomial_test(
    attempts: int, members: int, data: st.DataObject
) -> None:
    """The integer computation gives scipy.stats.binomtest's two-sided p-value (the reference)."""
    from scipy.stats import binomtest

    failures = data.draw(st.integers(min_value=0, max_value=attempts))
    reference = binomtest(failures, attempts, 1.0 / members).pvalue
    assert binomial_p(failures, attempts, 1.0 / members) == pytest.approx(reference, rel=1e-12)


# both sides of EXACT_ATTEMPTS (4000), far tails that a double still holds, and many attempts
@pytest.mark.parametrize(("failures", "attempts", "members"), [(1300, 4000, 3), (1600, 4000, 3),
                         (1300, 4001, 3), (1600, 4001, 3), (1028, 19327, 19), (2500, 9000, 4),
                         (4400, 9000, 2)])  # fmt: skip
def test_binomial_p_of_many_attempts_in_log_space(
    failures: int, attempts: int, members: int
) -> None:
    from scipy.stats import binomtest

    reference = binomtest(failures, attempts, 1.0 / members).pvalue
    assert reference > 1e-300  # a case a double holds: the comparison can fail
    assert binomial_p(failures, attempts, 1.0 / members) == pytest.approx(reference, rel=1e-9)


def test_the_rate_check_does_not_import_scipy_stats() -> None:
    code = (
        "import sys; from pcapflow.diagnose.stats import check_rate; "
        "r = check_rate(3, 9, 3, 'default'); assert r.p_value is not None; "
        "print('scipy.stats' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
