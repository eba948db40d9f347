"""Figures for people. Each function takes tables or Datasets and returns a matplotlib figure;
nothing here computes impacts."""

import datetime as dt

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: One colour per production model, the same in every figure.
MODEL_COLOURS = {"mlca": "#1f77b4", "act": "#d95f02", "mixture": "#555555"}
MODEL_LABELS = {"mlca": "MLCA (per-area and per-GB factors)",
                "act": "ACT (fab energy, gases, yield)", "mixture": "mixture of both"}


def card_timeline(rows, criterion="gwp", unit="kg CO2eq"):
    """Total production impact of each card against its release date: median and 95 % interval
    per production model, log scale. ``rows`` are dicts with the columns of the cards table."""
    figure, axis = plt.subplots(figsize=(9, 5.5))
    models = [m for m in MODEL_COLOURS if any(r["model"] == m for r in rows)]
    for offset, model in zip((-40, 0, 40), models):
        selected = [r for r in rows if r["model"] == model and r["criterion"] == criterion
                    and r["component"] == "total"]
        dates = [dt.date.fromisoformat(r["release_date"]) + dt.timedelta(days=offset)
                 for r in selected]
        median = [r["median"] for r in selected]
        low = [r["median"] - r["q025"] for r in selected]
        high = [r["q975"] - r["median"] for r in selected]
        axis.errorbar(dates, median, yerr=[low, high], fmt="o", ms=4, capsize=2, lw=0.8,
                      color=MODEL_COLOURS[model], label=MODEL_LABELS[model], alpha=0.85)
    axis.set_yscale("log")
    axis.set_xlabel("release date of the card")
    axis.set_ylabel(f"production {criterion.upper()} of one card [{unit}]")
    axis.set_title(f"Production {criterion.upper()} of data-centre and workstation GPUs "
                   "(median and 95 % interval)")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(loc="upper left", frameon=False)
    figure.tight_layout()
    return figure
