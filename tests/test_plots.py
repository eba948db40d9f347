"""Figures: readable tick labels on log axes."""

import re

import numpy as np
import pytest

from mlimpact.errors import MlimpactError
from mlimpact.render import plots

SUPERSCRIPTS = "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
FROM_SUPERSCRIPTS = str.maketrans(SUPERSCRIPTS, "-0123456789")


def _trend(values):
    dates = np.linspace(2013, 2025, values.size)
    slope = np.log(values[-1] / values[0]) / 12
    slopes = np.full(50, slope)
    intercepts = np.full(50, np.log(values[0]) - slope * 2013)
    return plots.trend_figure(
        dates,
        values,
        values / 1.5,
        values * 1.5,
        slopes,
        intercepts,
        "title",
        "value",
        xlabel="release date of the card",
    )


def _labels(figure):
    figure.canvas.draw()
    axis = figure.axes[0]
    return axis.get_xlabel(), [t.get_text() for t in axis.get_yticklabels() if t.get_text()]


def test_a_narrow_log_axis_gets_plain_numbers_and_a_wide_one_powers_of_ten():
    xlabel, narrow = _labels(_trend(np.geomspace(40, 110, 30)))
    assert xlabel == "release date of the card"
    assert {"50", "100"} <= set(narrow)
    assert all(re.fullmatch(r"[0-9.]+", label) for label in narrow)
    _, wide = _labels(_trend(np.geomspace(1e3, 1e9, 30)))
    # powers of ten in Unicode superscripts (not mathtext, which every figure parsed again)
    assert wide and all(re.fullmatch(f"10[{SUPERSCRIPTS}]+", label) for label in wide)
    assert {"10\N{SUPERSCRIPT THREE}", "10\N{SUPERSCRIPT FIVE}"} <= set(wide)
    _, small = _labels(_trend(np.geomspace(1e-9, 1e-3, 30)))
    assert "10\N{SUPERSCRIPT MINUS}\N{SUPERSCRIPT FIVE}" in small


def test_log_labels_are_matplotlibs_with_unicode_powers():
    """The labels of a log axis are matplotlib's mathtext labels (the minor ones of a narrow
    axis, 2x10^6, included) written in plain text with superscript powers."""
    from matplotlib.ticker import LogFormatterSciNotation

    def as_mathtext(label):
        label = re.sub(
            f"([{SUPERSCRIPTS}]+)$", lambda p: "^{" + p[1].translate(FROM_SUPERSCRIPTS) + "}", label
        )
        label = label.replace("\N{MULTIPLICATION SIGN}", r"\times").replace("\N{MINUS SIGN}", "-")
        return r"$\mathdefault{" + label + "}$"

    figure = plots._figure((4, 3))
    axes = figure.subplots()
    axes.plot([2e6, 9e6], [1e-7, 3e-7])
    plots._log_scale(axes, "x", "y")
    for axis in (axes.xaxis, axes.yaxis):
        for labels, locations, mathtext in (
            (axis.get_majorticklabels, axis.get_majorticklocs, LogFormatterSciNotation(10)),
            (
                axis.get_minorticklabels,
                axis.get_minorticklocs,
                LogFormatterSciNotation(10, labelOnlyBase=False),
            ),
        ):
            ours = [label.get_text() for label in labels()]
            mathtext.set_axis(axis)
            mathtext.set_locs(locations())
            assert sum(bool(label) and "$" not in label for label in ours) >= 2
            assert [as_mathtext(label) if label else "" for label in ours] == [
                mathtext(x) for x in locations()
            ]


def _indices(values):
    import xarray as xr

    names = ["mfu", "grid_gwp_error", "lifetime_years"]
    data = np.asarray(values, dtype=float)
    return xr.Dataset(
        {
            "ST": ("parameter", data),
            "ST_low": ("parameter", np.clip(data * 0.9, 0, 1)),
            "ST_high": ("parameter", np.clip(data * 1.1, 0, 1)),
            "S1": ("parameter", data / 2),
        },
        coords={"parameter": names},
    )


def test_sensitivity_figure_uses_short_names_and_labels_every_lowest_axis():
    from mlimpact.uncertainty.catalogue import default_catalogue

    catalogue = default_catalogue()
    labels = {name: p.display_name for name, p in catalogue.items()}
    assert labels["mfu"] == "utilisation (MFU)"
    figure = plots.sensitivity_figure(
        [
            ("a", _indices([0.6, 0.3, 0.0])),
            ("b", _indices([0.1, 0.9, 0.0])),
            ("c", _indices([0.2, 0.2, 0.1])),
        ],
        labels=labels,
    )
    figure.canvas.draw()
    first, second, third = figure.axes[:3]
    names = [t.get_text() for t in first.get_yticklabels()]
    assert names[-1] == "grid GWP factor" and "utilisation (MFU)" in names
    # with three panels in two columns the upper right panel is its column's lowest
    assert second.get_xlabel() == third.get_xlabel() == "Sobol' index"
    assert any(t.get_text() for t in second.get_xticklabels())
    assert figure.get_size_inches()[0] <= 7.5


def test_a_parameter_label_is_read_and_defaults_to_its_name():
    from mlimpact.uncertainty.catalogue import parse_parameters

    spec = {
        "distribution": {"type": "uniform", "low": 0.1, "high": 1.0},
        "scope": "global",
        "target": "gpu_usage",
        "mode": "replace",
    }
    parsed = parse_parameters({"gpu_usage_a": dict(spec, label="GPU power"), "gpu_usage_b": spec})
    assert parsed["gpu_usage_a"].display_name == "GPU power"
    assert parsed["gpu_usage_b"].display_name == "gpu usage b"
    with pytest.raises(MlimpactError, match="label must be a string"):
        parse_parameters({"gpu_usage_c": dict(spec, label=3)})


def _card_rows(model, points):
    return [
        {
            "model": model,
            "criterion": "adpe",
            "component": "total",
            "release_date": f"20{15 + i}-01-01",
            "point": p,
            "median": p,
            "q025": p / 2,
            "q975": p * 2,
        }
        for i, p in enumerate(points)
    ]


def test_card_series_that_agree_are_drawn_once_under_their_joint_name():
    figure = plots.card_timeline(
        _card_rows("mlca", [1.0, 2.0])
        + _card_rows("act", [1.0, 2.0])
        + _card_rows("mixture", [1.0, 2.5]),
        "adpe",
        "kg Sb eq",
    )
    names = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert names == ["MLCA = ACT (same point values)", plots.MODEL_LABELS["mixture"]]
    assert figure.axes[0].get_ylabel() == "production ADPe of one card [kg Sb eq]"


def test_an_unknown_scenario_is_an_error_everywhere():
    from mlimpact.study import claims
    from mlimpact.study.scenarios import scenario_runs

    row = {"scenario": "nope", "criterion": "energy", "estimate": 2.0, "low": 1.5, "high": 2.5}
    for call in (
        lambda: scenario_runs("nope"),
        lambda: claims._claim_of("energy", "nope"),
        lambda: plots.scenario_figure([row]),
        lambda: plots.scenario_colour("nope"),
    ):
        with pytest.raises(MlimpactError, match="scenario must be one of baseline, "):
            call()


def test_every_scenario_is_one_entry_with_a_known_claim():
    from mlimpact.study.claims import CLAIMS
    from mlimpact.study.scenarios import REGISTRY

    for name, scenario in REGISTRY.items():
        assert scenario.name == name and scenario.claim in CLAIMS
        assert plots.scenario_colour(name).startswith("#") and scenario.label
    colours = [plots.scenario_colour(name) for name in (*REGISTRY, "cards")]
    assert len(set(colours)) == len(colours)  # told apart in the figures


def test_the_trend_legend_names_what_its_bootstrap_resamples():
    """The card figure's trend resamples cards, not "models in the dataset"."""
    dates = np.linspace(2012.0, 2024.0, 30)
    values = np.geomspace(40, 110, 30)
    rng = np.random.default_rng(0)
    slopes = rng.normal(0.08, 0.01, 100)
    intercepts = np.log(40) - slopes * 2012.0
    figure = plots.trend_figure(
        dates,
        values,
        values / 1.5,
        values * 1.5,
        slopes,
        intercepts,
        "title",
        "value",
        resampled="which cards are priced",
    )
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    trend = next(text for text in legend if text.startswith("trend: x"))
    assert trend.endswith("(inputs and which cards are priced, as the claims)")
    assert not any("models" in text for text in legend)


def test_a_scenario_that_leaves_a_criterion_unchanged_does_not_hide_the_baseline():
    """Location shifting leaves the energy as it is: its line would cover the baseline's."""
    rng = np.random.default_rng(0)
    years = np.arange(2013, 2026)
    baseline = rng.lognormal(10, 1, (64, years.size))
    levels = {
        "years": years,
        "baseline": {"energy": (None, baseline), "gwp": (None, baseline)},
        "location_shifting": {"energy": (None, baseline.copy()), "gwp": (None, baseline / 5)},
    }
    figure = plots.levels_figure(levels)
    energy, gwp = ([t.get_text() for t in a.get_legend().get_texts()] for a in figure.axes)
    assert energy == ["baseline", "location shifting (the same as baseline)"]
    assert gwp == ["baseline", "location shifting"]
    assert figure.axes[0].get_lines()[1].get_linestyle() == "--"
