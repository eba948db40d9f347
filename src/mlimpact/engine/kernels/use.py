"""Use phase: node power and training energy (MLCA [1]_ after Green Algorithms [2]_).

::

    P_node [kW] = (u_cpu n_cpu TDP_cpu + u_gpu n_gpu TDP_gpu + 0.3725 W/GB * RAM_GB) / 1000
    E [kWh]     = repetitions * nodes * P_node * hours * DR

References
----------
.. [1] C. Morand, A.-L. Ligozat, A. Névéol, ICT4S 2024, doi:10.1109/ICT4S64576.2024.00031.
.. [2] L. Lannelongue, J. Grealey, M. Inouye, Adv. Sci. 2021, doi:10.1002/advs.202100707.
"""


from mlimpact._config import JIT_OPTIONS, njit
from mlimpact.tables.factors import RAM_POWER_W_PER_GB


@njit(**JIT_OPTIONS)
def node_power_kw(gpus, gpu_usage, gpu_tdp_w, cpus, cpu_usage, cpu_tdp_w, ram_gb):
    """Mean electrical power of one node [kW]."""
    return (cpu_usage * cpus * cpu_tdp_w + gpu_usage * gpus * gpu_tdp_w
            + RAM_POWER_W_PER_GB * ram_gb) / 1000.0


@njit(**JIT_OPTIONS)
def energy_kwh(repetitions, nodes, power_kw, hours, dynamic_ratio):
    """Electricity of the whole run [kWh], facility overhead included through DR."""
    return repetitions * nodes * power_kw * hours * dynamic_ratio
