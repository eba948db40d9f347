"""Plain numpy references of every kernel, written from the equations of docs/methodology.md
without sharing code with the kernels (only the factor table and column names).

Factors may be one table (item, 3) or one table per sample broadcast against the inputs, e.g.
(sample, 1, item, 3) for inputs of shape (sample, run)."""

import numpy as np

from mlimpact.quantities import IMPACT_CRITERIA
from mlimpact.runs.table import RUN_FIELDS, VARIANT_FIELDS
from mlimpact.tables.factors import PRODUCTION_FACTORS as F

ITEM = {
    name: i
    for i, name in enumerate(
        (
            "gpu_die",
            "gpu_base",
            "gpu_memory_die",
            "gpu_memory_base",
            "cpu_die",
            "cpu_base",
            "ram_die",
            "ram_base",
            "ssd_die",
            "ssd_base",
            "psu_per_kg",
            "motherboard",
            "rack_case",
            "assembly",
        )
    )
}


def card(die_area_cm2, memory_gb, density, factors=F):
    """Per-card production, shape (..., 3 criteria): die, memory, other parts and their sum."""
    die_area_cm2, memory_gb, density = (
        np.asarray(x, float)[..., None] for x in (die_area_cm2, memory_gb, density)
    )
    die = die_area_cm2 * factors[..., ITEM["gpu_die"], :]
    memory = np.where(
        memory_gb > 0,
        memory_gb / density * factors[..., ITEM["gpu_memory_die"], :]
        + factors[..., ITEM["gpu_memory_base"], :],
        0.0,
    )
    other = np.broadcast_to(
        factors[..., ITEM["gpu_base"], :], np.broadcast_shapes(die.shape, factors[..., 0, :].shape)
    )
    return die, memory, other, die + memory + other


def server(cpus, cpu_die, ram_modules, ram_module_gb, ssd_gb, psus, density, factors=F):
    """Per-server production, shape (..., 3)."""
    col = lambda x: np.asarray(x, float)[..., None]  # noqa: E731
    cpus, cpu_die, ram_modules, ram_module_gb, ssd_gb, psus, density = map(
        col, (cpus, cpu_die, ram_modules, ram_module_gb, ssd_gb, psus, density)
    )
    return (
        cpus * (cpu_die * factors[..., ITEM["cpu_die"], :] + factors[..., ITEM["cpu_base"], :])
        + ram_modules
        * (
            ram_module_gb / density * factors[..., ITEM["ram_die"], :]
            + factors[..., ITEM["ram_base"], :]
        )
        + np.where(
            ssd_gb > 0,
            ssd_gb / 48.5 * factors[..., ITEM["ssd_die"], :] + factors[..., ITEM["ssd_base"], :],
            0.0,
        )
        + psus * 2.99 * factors[..., ITEM["psu_per_kg"], :]
        + factors[..., ITEM["motherboard"], :]
        + factors[..., ITEM["rack_case"], :]
        + factors[..., ITEM["assembly"], :]
    )


def act_card_gwp(v):
    """ACT's die (packaging included) and memory GWP of one card [kg CO2eq] (Gupta et al.
    2022): CPA = (CI_fab EPA + GPA + MPA) / Y; memory = CPS C / 0.875."""
    area = v["gpu_die_area_cm2"]
    d0 = v["defect_density_low"] + v["defect_density_quantile"] * (
        v["defect_density_high"] - v["defect_density_low"]
    )
    x = d0 * area
    with np.errstate(invalid="ignore", divide="ignore"):
        murphy = np.where(x < 1e-8, 1 - x, ((1 - np.exp(-x)) / x) ** 2)
    good = np.select(
        [v["yield_model"] == 0, v["yield_model"] == 1], [v["yield_constant"], np.exp(-x)], murphy
    )
    gpa = v["gpa_95"] + v["gpa_abatement"] * (v["gpa_99"] - v["gpa_95"])
    die = area * (v["fab_intensity"] * v["epa"] + gpa + 0.5) / good + 0.150
    with np.errstate(invalid="ignore", divide="ignore"):
        per_gb = np.where(
            v["memory_gwp_low"] > 0,
            v["memory_gwp_low"]
            * (v["memory_gwp_high"] / v["memory_gwp_low"]) ** v["memory_gwp_quantile"],
            0.0,
        )
    return die, per_gb * v["gpu_memory_gb"] / 0.875


def card_of_run(v, factors=F):
    """Per-card parts (die, memory, other) of runs given as a dict of field arrays, with the
    run's production model deciding the GWP of die and memory; shape (..., 3) each."""
    die, memory, other, _ = card(
        v["gpu_die_area_cm2"], v["gpu_memory_gb"], v["memory_density"], factors
    )
    act = v["production_model"] >= 0.5
    act_die, act_memory = act_card_gwp(v)
    die, memory = die.copy(), memory.copy()
    die[..., 0] = np.where(act, act_die, die[..., 0])
    memory[..., 0] = np.where(act, act_memory, memory[..., 0])
    return die, memory, np.broadcast_to(other, die.shape)


def training(values, factors=F):
    """Energy (...), production (..., criterion), use (..., criterion) and energy by scope (..., 3:
    accelerators, host, overhead) of run rows of shape (..., field)."""
    v = {name: values[..., j] for j, name in enumerate(RUN_FIELDS)}
    on = v["server"]
    ram_gb = v["ram_modules"] * v["ram_module_gb"] * on
    mlca_host_w = v["cpu_usage"] * v["cpus"] * on * v["cpu_tdp_w"] + 0.3725 * ram_gb
    rated_host_w = v["host_usage"] * v["gpus"] * v["host_rated_w_per_gpu"] * on
    host_w = np.where(v["host_rated_w_per_gpu"] * on > 0, rated_host_w, mlca_host_w)
    accelerators_kw = v["gpu_usage"] * v["gpus"] * v["gpu_tdp_w"] / 1000
    power_kw = accelerators_kw + host_w / 1000
    node = v["repetitions"] * v["nodes"] * v["hours"] * power_kw
    # a metered run: the measurement at its scope, the nodes' energy from it
    scope, metered = v["metered_scope"], v["metered_energy_kwh"]
    # a ratio below 1 scales an unmetered run's nodes down with it; a metered run's is >= 1
    ratio = np.where(scope == 0, v["dynamic_ratio"], np.maximum(v["dynamic_ratio"], 1.0))
    node = np.select(
        [scope == 1, scope == 2, scope == 3],
        [metered * power_kw / accelerators_kw, metered, metered / ratio],
        node,
    )
    energy = np.where(scope == 3, metered, node * ratio)
    node = np.where((scope == 0) & (ratio < 1), node * ratio, node)
    accelerators = np.where(scope == 1, metered, node * accelerators_kw / power_kw)
    scopes = np.stack([accelerators, node - accelerators, energy - node], axis=-1)
    gpu = sum(card_of_run(v, factors))
    host = (
        server(
            v["cpus"],
            v["cpu_die_area_cm2"],
            v["ram_modules"],
            v["ram_module_gb"],
            v["ssd_gb"],
            v["psus"],
            v["memory_density"],
            factors,
        )
        * on[..., None]
    )
    allocation = (
        v["repetitions"]
        * v["nodes"]
        * v["hours"]
        / (v["lifetime_years"] * 8760 * v["lifetime_usage"])
    )
    production = allocation[..., None] * (v["gpus"][..., None] * gpu + host)
    grid = np.stack([v[f"grid_{c}"] for c in IMPACT_CRITERIA], axis=-1)
    use = energy[..., None] * grid * v["intensity_ratio"][..., None]
    # water: hydropower's off site, and the facility's on site per kWh of the nodes' energy
    water = IMPACT_CRITERIA.index("water")
    use[..., water] += (
        energy * v["hydro_share"] * v["hydro_water"] * v["intensity_ratio"] + node * v["wue"]
    )
    return energy, production, use, scopes


VARIANT = RUN_FIELDS.index("variant")


def select_variant(inputs, runs):
    """Copy into inputs (..., run, field) the hardware variant that each row's ``variant``
    position selects among the run's cumulative weights."""
    index = [RUN_FIELDS.index(f) for f in VARIANT_FIELDS]
    cdf = runs.variant_cdf  # (run, variant)
    k = (inputs[..., VARIANT][..., None] > cdf[:, :-1]).sum(axis=-1)  # (..., run)
    table = runs.variant_values.reshape((1,) * (inputs.ndim - 2) + runs.variant_values.shape)
    chosen = np.take_along_axis(table, k[..., None, None], axis=-2)[..., 0, :]
    inputs[..., index] = chosen
    return k


def impute(inputs):
    """Fill hours (code 1) or nodes (code 2) from compute, peak rate and MFU."""
    v = {name: inputs[..., j] for j, name in enumerate(RUN_FIELDS)}
    rate = v["peak_flops"] * v["mfu"] * 3600
    with np.errstate(divide="ignore", invalid="ignore"):
        hours = v["training_compute"] / (v["nodes"] * v["gpus"] * rate)
        nodes = v["training_compute"] / (v["hours"] * rate) / v["gpus"]
    inputs[..., RUN_FIELDS.index("hours")] = np.where(v["imputation"] == 1, hours, v["hours"])
    inputs[..., RUN_FIELDS.index("nodes")] = np.where(v["imputation"] == 2, nodes, v["nodes"])


def apply_parameters(runs, values, bound):
    """Inputs of every (sample, run): the run rows with the sampled parameters applied, the
    variant selected and imputed fields filled, shape (sample, run, field); and the
    per-sample production factors (sample, item, 3)."""
    inputs = np.repeat(runs.values[None], values.shape[0], axis=0)

    def apply(field, mode, columns, by_variant):
        # a column per (sample, run): the run's own, or that of its chosen variant
        if by_variant is not None:
            columns = np.where(
                columns >= 0,
                columns,
                np.take_along_axis(by_variant[None], chosen[..., None], -1)[..., 0],
            )
        columns = np.broadcast_to(columns, inputs.shape[:2])
        active = columns >= 0
        sampled = np.take_along_axis(values, np.where(active, columns, 0), axis=1)
        if mode == 0:
            inputs[..., field] = np.where(active, sampled, inputs[..., field])
        else:
            inputs[..., field] = np.where(active, inputs[..., field] * sampled, inputs[..., field])

    applications = list(
        zip(bound.apply_field, bound.apply_mode, bound.apply_column, bound.variant_column)
    )
    for field, mode, columns, _ in applications:
        if field == VARIANT:
            apply(field, mode, columns, None)
    chosen = select_variant(inputs, runs)  # (sample, run)
    for field, mode, columns, by_variant in applications:
        if field != VARIANT:
            apply(field, mode, columns, by_variant)
    impute(inputs)
    scale = np.ones((values.shape[0], *F.shape))
    for c in range(F.shape[1]):
        for item in range(F.shape[0]):
            column = bound.factor_column[c, item]
            if column >= 0:
                scale[:, item, c] = values[:, column]
    return inputs, F[None] * scale


def point_inputs(runs):
    """The run rows at their point values: point variant selected, imputed fields filled."""
    inputs = runs.values.copy()
    select_variant(inputs, runs)
    impute(inputs)
    return inputs


def monte_carlo(runs, values, bound):
    """The quantities of every (sample, run), by (criterion, phase or scope): energy, then
    production, use and total of each impact criterion, and the energy by scope."""
    inputs, factors = apply_parameters(runs, values, bound)
    energy, production, use, scopes = training(inputs, factors[:, None])
    out = {("energy", "use"): energy}
    for c, criterion in enumerate(IMPACT_CRITERIA):
        out[criterion, "production"] = production[..., c]
        out[criterion, "use"] = use[..., c]
        out[criterion, "total"] = production[..., c] + use[..., c]
    for k, scope_name in enumerate(("accelerators", "host", "overhead")):
        out["energy", scope_name] = scopes[..., k]
    return out


def fit_slopes(t, y, weights=None, huber=False, k=1.345, iterations=30):
    """Weighted least squares of ``y`` (..., point) on ``t`` (point) with whole-array numpy,
    then (``huber``) Huber's reweighting (threshold ``k`` x 1.4826 x the weighted median absolute
    residual) until every row's slope changes by less than 1e-12 + 1e-10 of itself: the
    (slope, intercept) of :func:`mlimpact.analysis.trends.fit_slopes`."""
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if weights is None else np.broadcast_to(weights, y.shape).astype(float)
    w = np.where(np.isfinite(y), w, 0.0)
    y = np.where(np.isfinite(y), y, 0.0)

    def least_squares(w):
        total = w.sum(axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            t_mean = (w * t).sum(axis=-1) / total
            y_mean = (w * y).sum(axis=-1) / total
            dt = t - t_mean[..., None]
            variance = (w * dt * dt).sum(axis=-1)
            slope = (w * dt * (y - y_mean[..., None])).sum(axis=-1) / variance
        slope = np.where(variance > 1e-12 * np.maximum(total, 1), slope, np.nan)
        return slope, y_mean - slope * t_mean

    slope, intercept = least_squares(w)
    done = ~np.isfinite(slope) | (not huber)
    for _ in range(iterations if huber else 0):
        absolute = np.abs(y - (intercept[..., None] + slope[..., None] * t))
        scale = np.empty(y.shape[:-1])
        for index in np.ndindex(scale.shape):
            keep = w[index] > 0
            values, counts = absolute[index][keep], w[index][keep]
            order = np.argsort(values, kind="stable")
            running = np.cumsum(counts[order])
            half = running[-1] / 2 if running.size else np.nan
            lower = values[order][np.argmax(running >= half)] if running.size else np.nan
            upper = values[order][np.argmax(running > half)] if running.size else np.nan
            scale[index] = 1.4826 * (lower + upper) / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = absolute / (k * np.maximum(scale, 1e-12)[..., None])
            reweight = np.where(ratio <= 1.0, 1.0, 1.0 / ratio)
        new_slope, new_intercept = least_squares(w * reweight)
        step = np.abs(new_slope - slope) <= 1e-12 + 1e-10 * np.abs(slope)
        slope = np.where(done, slope, new_slope)
        intercept = np.where(done, intercept, new_intercept)
        done = done | step
        if done.all():
            break
    return slope, intercept


def stage_plan(runs, apply_field, apply_mode, apply_column, variant_column):
    """The fused kernel's stage plan (:func:`mlimpact.engine.kernels.montecarlo.stage_plan`)
    built run by run in Python: a unit per distinct key of a run's inputs and columns (a dict
    of byte strings), each run's applications by a loop over the applications. Returns the
    plan's arrays in :class:`StagePlan`'s field order."""
    from mlimpact.engine.kernels.montecarlo import BY_VARIANT, CARD_STAGE, HOST_STAGE
    from mlimpact.engine.kernels.production import CARD_INPUTS
    from mlimpact.engine.kernels.training import HOST_INPUTS, RUN_INPUTS
    from mlimpact.runs.table import VARIANT, VARIANT_INDEX

    applications, unit_run, unit_stage, unit_ptr, variant_columns = [], [], [], [0], []

    def applications_of(r, fields):
        chosen = [
            a
            for a in range(len(apply_field))
            if apply_field[a] in fields
            and (apply_column[a, r] >= 0 or variant_column[a, r].max(initial=-1) >= 0)
        ]
        chosen.sort(key=lambda a: apply_field[a] != VARIANT)  # the variant first
        rows = []
        for a in chosen:
            if apply_column[a, r] >= 0:
                rows.append((int(apply_field[a]), int(apply_mode[a]), int(apply_column[a, r])))
            else:
                rows.append(
                    (int(apply_field[a]), int(apply_mode[a]) + BY_VARIANT, len(variant_columns))
                )
                variant_columns.append(variant_column[a, r])
        return rows

    def fields_of(inputs):
        fields = set(int(f) for f in inputs)
        uses_variant = bool(fields & set(int(f) for f in VARIANT_INDEX))
        return fields | ({VARIANT} if uses_variant else set()), uses_variant

    def group(stage, inputs):
        fields, uses_variant = fields_of(inputs)
        columns = sorted(fields)
        relevant = [a for a in range(len(apply_field)) if apply_field[a] in fields]
        unit_of_key, unit_of_run = {}, np.empty(len(runs), np.int64)
        for r in range(len(runs)):
            key = (
                runs.values[r, columns].tobytes(),
                apply_column[relevant, r].tobytes(),
                variant_column[relevant, r].tobytes(),
            )
            if uses_variant:
                key += (runs.variant_values[r].tobytes(), runs.variant_cdf[r].tobytes())
            if key not in unit_of_key:
                unit_of_key[key] = len(unit_run)
                unit_run.append(r)
                unit_stage.append(stage)
                applications.extend(applications_of(r, fields))
                unit_ptr.append(len(applications))
            unit_of_run[r] = unit_of_key[key]
        return unit_of_run

    card_of_run = group(CARD_STAGE, CARD_INPUTS)
    host_of_run = group(HOST_STAGE, HOST_INPUTS)
    run_fields, _ = fields_of(RUN_INPUTS)
    run_ptr = [len(applications)]
    for r in range(len(runs)):
        applications.extend(applications_of(r, run_fields))
        run_ptr.append(len(applications))
    as_array = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    return (
        as_array(applications).reshape(len(applications), 3),
        as_array(variant_columns).reshape(len(variant_columns), runs.variant_cdf.shape[1]),
        as_array(unit_run),
        as_array(unit_stage),
        as_array(unit_ptr),
        card_of_run,
        host_of_run,
        as_array(run_ptr),
    )
