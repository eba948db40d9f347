"""The one vocabulary of results: criteria, phases, card components, and the quantities of runs.

Every stage names results with these words, and every array of results orders them as here:
the kernels write a run's outputs in :data:`TRAINING_QUANTITIES` order and a card's in
:data:`CARD_QUANTITIES` order; accumulators, Datasets, trends, Sobol' outputs and reports find a
quantity with :func:`training_index` or :func:`card_index`, never by a bare integer.

- criterion: ``energy`` [kWh] (use phase only: electricity drawn by the run), and the impact
  criteria ``gwp`` (climate change) [kg CO2eq], ``adpe`` (abiotic depletion, elements)
  [kg Sb eq], ``pe`` (primary energy) [MJ], ``water`` (freshwater consumption: water
  withdrawn and not returned, evaporated mostly) [L];
- phase: ``production`` (of the hardware, allocated to the run), ``use``, ``total``;
- scope of the energy: ``accelerators`` (the graphics cards), ``host`` (the rest of the
  nodes: CPUs, memory, fans...), ``overhead`` (the facility beyond the nodes, PUE and
  non-training overhead); they add up to the energy;
- component of a card's production: ``die``, ``memory``, ``other``, ``total``.
"""

#: Criteria of the results, in report order.
CRITERIA = ("energy", "gwp", "adpe", "pe", "water")
#: Criteria with a production phase (life-cycle impact categories), in kernel order.
IMPACT_CRITERIA = ("gwp", "adpe", "pe", "water")
#: Their number: every kernel array of impact criteria has this length.
N_IMPACTS = len(IMPACT_CRITERIA)
#: Phases of the life cycle.
PHASES = ("production", "use", "total")
#: Scopes of the energy, from the accelerators out: accelerators + host = node, node +
#: overhead = the energy (facility).
ENERGY_SCOPES = ("accelerators", "host", "overhead")
#: Components of the production of one graphics card.
COMPONENTS = ("die", "memory", "other", "total")
#: Units of every criterion.
UNITS = {"energy": "kWh", "gwp": "kg CO2eq", "adpe": "kg Sb eq", "pe": "MJ", "water": "L"}
#: Units of every criterion as NetCDF files write them: UDUNITS-2 spellings, which the CF
#: conventions require (``kWh`` is not one: ``kW h`` is). UDUNITS has no unit for an
#: equivalent, so an impact counted in a reference substance's mass (kg CO2eq, kg Sb eq) is
#: written as the mass, ``kg``, and the files name the equivalent in ``long_name`` and
#: ``comment`` (:func:`mlimpact.render.files.describe_dataset`). A criterion whose unit is a
#: plain physical unit writes it as is (water: ``L``).
CF_UNITS = {"energy": "kW h", "gwp": "kg", "adpe": "kg", "pe": "MJ", "water": "L"}
#: Long names for attrs and tables.
LONG_NAMES = {
    "energy": "electricity used by the training run",
    "gwp": "climate change (global warming potential)",
    "adpe": "abiotic depletion potential, elements",
    "pe": "primary energy",
    "water": "water consumption (freshwater withdrawn and not returned)",
}
#: Short labels for tables and figures.
LABELS = {"energy": "energy", "gwp": "GWP", "adpe": "ADPe", "pe": "PE", "water": "water"}
#: Names in running text and figure titles.
PROSE = {
    "energy": "energy",
    "gwp": "GWP",
    "adpe": "ADPe",
    "pe": "primary energy",
    "water": "water consumption",
}
#: Titles of the report's sections and figures.
TITLES = {
    "energy": "Energy",
    "gwp": "Climate change (GWP)",
    "adpe": "Abiotic depletion (ADPe)",
    "pe": "Primary energy",
    "water": "Water consumption",
}
#: Largest valid grid factor of each impact criterion [its unit per kWh]: far outside any real
#: grid, and finite in float64 (GWP 10 kg CO2eq/kWh, eight times the dirtiest grid's; ADPe
#: 1 kg Sb eq/kWh; PE 1000 MJ/kWh; water 1000 L/kWh, four times the gross reservoir
#: evaporation of hydropower, 245 L/kWh, of Mekonnen and Hoekstra 2012; docs/setup.md).
GRID_FACTOR_MAX = {"gwp": 10.0, "adpe": 1.0, "pe": 1000.0, "water": 1000.0}
#: Keys of the criteria in JSON documents (name and unit, so that a number is never unitless).
JSON_KEYS = {
    "energy": "energy_kwh",
    "gwp": "gwp_kgco2eq",
    "adpe": "adpe_kgsbeq",
    "pe": "pe_mj",
    "water": "water_l",
}

#: Quantities of a training run, as (criterion, phase or scope), in the order of the kernels'
#: output: energy, production and use of each impact criterion, the energy by scope, then the
#: total of each impact criterion. The kernels write the first :data:`N_KERNEL_OUT` (all but
#: the totals); totals are added when accumulated.
TRAINING_QUANTITIES = (
    ("energy", "use"),
    *((c, "production") for c in IMPACT_CRITERIA),
    *((c, "use") for c in IMPACT_CRITERIA),
    *(("energy", s) for s in ENERGY_SCOPES),
    *((c, "total") for c in IMPACT_CRITERIA),
)
N_TRAINING_QUANTITIES = len(TRAINING_QUANTITIES)
#: Quantities of one card, as (criterion, component), criterion by criterion.
CARD_QUANTITIES = tuple((c, k) for c in IMPACT_CRITERIA for k in COMPONENTS)
N_CARD_QUANTITIES = len(CARD_QUANTITIES)
#: Parts of a card that the kernel computes (the total is their sum).
N_CARD_PARTS = len(COMPONENTS) - 1


def training_index(criterion, phase="total"):
    """Position of a training quantity in :data:`TRAINING_QUANTITIES`; the energy's total is
    asked as phase ``use`` or ``total``, its parts by their scope (:data:`ENERGY_SCOPES`)."""
    if criterion == "energy":
        if phase in ENERGY_SCOPES:
            return TRAINING_QUANTITIES.index(("energy", phase))
        if phase not in ("use", "total"):
            raise KeyError(f"energy has no {phase} phase or scope")
        return 0
    return TRAINING_QUANTITIES.index((criterion, phase))


def card_index(criterion, component="total"):
    """Position of a card quantity in :data:`CARD_QUANTITIES`."""
    return CARD_QUANTITIES.index((criterion, component))


#: First position of each block of the training layout: the kernels write criterion c of a
#: phase at ``block + c`` (c in IMPACT_CRITERIA order).
ENERGY = training_index("energy")
PRODUCTION = training_index(IMPACT_CRITERIA[0], "production")
USE = training_index(IMPACT_CRITERIA[0], "use")
SCOPES = training_index("energy", ENERGY_SCOPES[0])
TOTAL = training_index(IMPACT_CRITERIA[0], "total")
#: Outputs of the training kernel for one run (energy, production, use, scopes: no totals).
N_KERNEL_OUT = TOTAL
#: Position of water in :data:`IMPACT_CRITERIA`: the one criterion whose use phase has an
#: on-site term besides the grid's (the facility's cooling water per kWh of IT energy, its WUE).
WATER = IMPACT_CRITERIA.index("water")
