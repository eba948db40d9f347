"""What the two calibrations (:mod:`mlimpact.study.calibration`, the power model's class-level
inputs; :mod:`mlimpact.study.card_calibration`, the cards' production models) share: the
discrepancy model of a published value (a lognormal discrepancy of log-uniform scale, plus a
measurement error), the proposal stream, and the weighted quantiles of their summaries.
"""

import math

import numpy as np

#: Log-uniform prior bounds of the discrepancy scales (log units): from 1 % to a factor e.
SIGMA_PRIOR = (0.01, 1.0)
#: Measurement error (log units) of a published metered energy or measured-power value: 10 %,
#: our assumption for meters and reported mean powers (docs/calibration.md).
MEASUREMENT_ERROR = math.log(1.10)
#: Seed of the proposals' normal scores (a stream of its own).
PROPOSAL_STREAM = 104_729


def log_normal_density(log_y, log_f, tau):
    """Log-density of the published logarithms ``log_y`` under N(``log_f``, ``tau``^2)
    (broadcast)."""
    z = (log_y - log_f) / tau
    return -0.5 * z * z - np.log(tau) - 0.5 * math.log(2 * math.pi)


def sigma_of(u):
    """Discrepancy scales from uniforms: log-uniform on :data:`SIGMA_PRIOR`."""
    low, high = np.log(SIGMA_PRIOR)
    return np.exp(low + (high - low) * u)


def column_values(bound, u, column):
    """The values of one bound column for the uniforms ``u`` (its distribution's quantile
    function: the engine's values to the last bit or so, without computing every column)."""
    return bound.distributions[column].ppf(u[:, column])


def weighted_quantiles(values, weights, levels):
    """Quantiles of ``values`` under normalised ``weights`` (inverse of the weighted CDF, the
    mid-point rule)."""
    order = np.argsort(values)
    v, w = np.asarray(values)[order], np.asarray(weights)[order]
    cumulative = np.cumsum(w) - 0.5 * w
    return np.interp(levels, cumulative, v)


def quantile_row(label, values, prior_weights, posterior_weights):
    """A row of calibration.csv: the prior and posterior 2.5 %, 50 % and 97.5 % quantiles."""
    levels = np.array([0.025, 0.5, 0.975])
    prior = weighted_quantiles(values, prior_weights, levels)
    posterior = weighted_quantiles(values, posterior_weights, levels)
    return {
        "input": label,
        "prior_q025": prior[0],
        "prior_median": prior[1],
        "prior_q975": prior[2],
        "posterior_q025": posterior[0],
        "posterior_median": posterior[1],
        "posterior_q975": posterior[2],
    }
