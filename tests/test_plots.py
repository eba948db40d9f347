"""Figures: readable tick labels on log axes."""

import numpy as np

from mlimpact.render import plots


def _trend(values):
    dates = np.linspace(2013, 2025, values.size)
    slope = np.log(values[-1] / values[0]) / 12
    slopes = np.full(50, slope)
    intercepts = np.full(50, np.log(values[0]) - slope * 2013)
    return plots.trend_figure(dates, values, values / 1.5, values * 1.5, slopes, intercepts,
                              "title", "value", xlabel="release date of the card")


def _labels(figure):
    figure.canvas.draw()
    axis = figure.axes[0]
    return axis.get_xlabel(), [t.get_text() for t in axis.get_yticklabels() if t.get_text()]


def test_a_narrow_log_axis_gets_plain_numbers_and_a_wide_one_powers_of_ten():
    xlabel, narrow = _labels(_trend(np.geomspace(40, 110, 30)))
    assert xlabel == "release date of the card"
    assert {"50", "100"} <= set(narrow)
    assert not any("times" in label or "^" in label for label in narrow)
    _, wide = _labels(_trend(np.geomspace(1e3, 1e9, 30)))
    assert wide and all("10^" in label for label in wide)
