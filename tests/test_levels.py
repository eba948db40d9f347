"""Scenario levels on common draws (mlimpact.study.levels)."""

import numpy as np

from mlimpact.study import levels


def test_aligned_uniforms_share_the_columns_of_the_same_inputs():
    base_columns = [("a", ""), ("b", "x"), ("b", "y")]
    u_base = np.arange(12, dtype=float).reshape(4, 3) / 12
    columns = [("b", "y"), ("c", ""), ("a", "")]
    u = levels.aligned_uniforms(base_columns, u_base, columns, seed=0)
    assert u.flags.f_contiguous and u.shape == (4, 3)
    np.testing.assert_array_equal(u[:, 0], u_base[:, 2])
    np.testing.assert_array_equal(u[:, 2], u_base[:, 0])
    assert 0 < u[:, 1].min() and u[:, 1].max() < 1  # a fresh column for the new input
    assert not np.isin(u[:, 1], u_base).any()


def test_sums_by_year_add_up_to_the_total():
    rng = np.random.default_rng(0)
    samples = rng.random((5, 6, len(levels.QUANTITIES)))
    dates = np.array([2019.2, 2019.9, 2020.1, 2021.5, 2021.6, 2021.7])
    for total, per_year in levels.sums(samples, dates).values():
        assert per_year.shape == (5, 3)
        np.testing.assert_allclose(per_year.sum(axis=1), total)
    assert np.isnan(levels.relative_change([1.0], [0.0]))[0]
