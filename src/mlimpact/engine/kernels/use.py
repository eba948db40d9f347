"""Use phase: node power and training energy (MLCA [1]_ after Green Algorithms [2]_).

::

    P_node [kW] = (u_gpu n_gpu TDP_gpu + P_host) / 1000
    P_host [W]  = u_cpu n_cpu TDP_cpu + 0.3725 W/GB * RAM_GB     (MLCA; no node rating known)
                = u_host * n_gpu * h_gpu                         (a node of known rating)
    E [kWh]     = repetitions * nodes * P_node * hours * DR
    E [kWh]     = E_m * (P_node / P_acc) * DR,  E_m * DR  or  E_m             (metered run)

The energy is also given at each scope: the accelerators (``P_acc = u_gpu n_gpu TDP_gpu``),
the host (the rest of the node's power) and the facility's overhead (``E (1 - 1/DR)``).

A metered run (``E_m`` [kWh], the energy measured at the scope of its meter: the accelerators,
the node or the facility) takes the measurement for what its meter counted and the model for the
rest: the host's share of the node's power and the facility's overhead DR.

The second host term is mlimpact's evidence power model (docs/methodology.md, "Host power"):
``h_gpu`` (``host_rated_w_per_gpu``) is the rated power of the accelerator's node less its
accelerators' TDPs, per accelerator (``(P_rated - n TDP_gpu) / n`` of the manufacturer's
rating, data/node_configurations.csv), ``u_host`` the share of it drawn during training
(``data/parameters.toml``, entry host_usage).

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
.. [2] L. Lannelongue, J. Grealey, M. Inouye, Adv. Sci. 2021, doi:10.1002/advs.202100707.
"""

from mlimpact._config import JIT_OPTIONS, njit
from mlimpact.tables.factors import RAM_POWER_W_PER_GB


@njit(**JIT_OPTIONS)
def node_power_kw(
    gpus, gpu_usage, gpu_tdp_w, cpus, cpu_usage, cpu_tdp_w, ram_gb, host_rated_w_per_gpu, host_usage
):
    """Mean electrical power of one node [kW]: its accelerators and its host, the host from its
    rating where ``host_rated_w_per_gpu`` [W per accelerator] is positive, else from MLCA's CPU
    and RAM terms. A node whose host is not counted passes ``cpus``, ``ram_gb`` and
    ``host_rated_w_per_gpu`` as 0."""
    if host_rated_w_per_gpu > 0.0:
        host_w = host_usage * gpus * host_rated_w_per_gpu
    else:
        host_w = cpu_usage * cpus * cpu_tdp_w + RAM_POWER_W_PER_GB * ram_gb
    return (gpu_usage * gpus * gpu_tdp_w + host_w) / 1000.0


@njit(**JIT_OPTIONS)
def accelerators_power_kw(gpus, gpu_usage, gpu_tdp_w):
    """Mean electrical power of one node's accelerators [kW]."""
    return gpu_usage * gpus * gpu_tdp_w / 1000.0


@njit(**JIT_OPTIONS)
def energy_by_scope(
    repetitions, nodes, hours, accelerators_kw, node_kw, dynamic_ratio, metered, scope
):
    """Energy of a run [kWh] at the three scopes: its accelerators, its nodes (accelerators
    and hosts) and the facility (nodes and overhead DR), returned in that order.

    A run with no meter (``scope`` 0) takes ``repetitions * nodes * P * hours`` at each scope;
    a metered run (``metered`` [kWh] at ``scope`` 1 accelerators, 2 node, 3 facility;
    :data:`mlimpact.runs.table.METERED_SCOPES`) takes the measurement at its scope and goes to
    the others with the node's ratio of total to accelerator power and the overhead DR.

    A DR below 1 (the catalogue's ratios are at least 1; a multiplicative energy scatter, as
    ``mlimpact calibrate`` writes, can draw below: the run drew less than its nodes' modelled
    power) scales the accelerators' and the nodes' energy down with the facility's, so that no
    scope is negative; a metered run keeps its measurement (its DR is taken at least 1).
    """
    if scope == 0.0:
        node = repetitions * nodes * node_kw * hours
        accelerators = repetitions * nodes * accelerators_kw * hours
        if dynamic_ratio < 1.0:
            return accelerators * dynamic_ratio, node * dynamic_ratio, node * dynamic_ratio
        return accelerators, node, node * dynamic_ratio
    dynamic_ratio = max(dynamic_ratio, 1.0)
    share = accelerators_kw / node_kw if node_kw > 0.0 else 1.0  # of the node's power
    if scope == 1.0:
        node = metered / share if share > 0.0 else metered
        return metered, node, node * dynamic_ratio
    if scope == 2.0:
        return metered * share, metered, metered * dynamic_ratio
    node = metered / dynamic_ratio
    return node * share, node, metered
