"""mlimpact from Python: the steps of a notebook, as a script (CI runs it).

Run: ``python examples/from_python.py``. Every number printed is computed here; nothing is
written to disk.
"""

import mlimpact

# 1. One training run: hardware, count, hours, country (and the mean draw, which a setup always
#    states). Names are matched loosely: "H100 SXM" finds the one H100 SXM card.
run = mlimpact.Setup(
    name="my-run", gpu="H100 SXM", gpus=8, nodes=16, hours=240, country="FRA", gpu_usage=0.7
)
result = mlimpact.estimate(run, samples=4096, seed=0)
gwp = result.gwp.sel(model="my-run", phase="total")
print(
    f"{run}: GWP median {float(gwp.sel(statistic='median')):.0f} kg CO2eq, 95 % interval "
    f"[{float(gwp.sel(statistic='q025')):.0f}, {float(gwp.sel(statistic='q975')):.0f}]; "
    f"point estimate {float(result.gwp_point.sel(model='my-run', phase='total')):.0f}"
)

# 2. The same run from its accelerator-hours alone.
same = mlimpact.Setup(
    name="my-run", gpu="H100 SXM", gpu_hours=8 * 16 * 240, country="FRA", gpu_usage=0.7
)
print(
    "from accelerator-hours:",
    round(float(mlimpact.estimate(same, point=True).gwp_point.sel(phase="total")[0])),
    "kg",
)

# 3. The tables.
cards = mlimpact.hardware("H100")
print(f"{len(cards)} accelerators match 'H100':", ", ".join(cards.name))
print(f"{len(mlimpact.models())} notable models in the embedded Epoch AI snapshot")

# 4. Sobol' indices of any function of independent uncertain inputs.
indices = mlimpact.sobol(
    lambda v: v["a"] * v["b"] ** 2,
    {"a": {"type": "uniform", "low": 1, "high": 2}, "b": {"type": "uniform", "low": 1, "high": 3}},
    1024,
    seed=0,
)
print(
    "total-order indices:",
    {str(p): round(float(indices.ST.sel(parameter=p)), 2) for p in indices.parameter.values},
)
