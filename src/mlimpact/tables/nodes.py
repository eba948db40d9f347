"""Node configurations: the rated power of the nodes that hold data-centre accelerators.

``data/node_configurations.csv`` lists, per node design (NVIDIA's DGX systems), the
accelerators it holds, their TDP and the manufacturer's maximum power rating of the whole node;
every row with its source (``data/README.md``). The evidence power model draws a host power
per accelerator of ``host_usage x (rating - n x TDP) / n``
(:func:`mlimpact.engine.kernels.use.node_power_kw`): the rating less the accelerators' TDPs is
what the node's CPUs, memory, network cards, switches, fans and power conversion may draw. Every
run on an accelerator of the table is taken to sit in a node rated like that design (an SXM
part in NVIDIA's DGX of its generation, or an OEM or cloud node built on the same baseboard).

An accelerator without a row keeps MLCA's host terms (CPU and RAM power of a default server):
no rating is published for it (Google's TPU hosts, PCIe cards in third-party servers). The
loader checks every number, and that every accelerator named is a row of ``data/hardware.csv``
with the same TDP.
"""

from dataclasses import dataclass, replace
from functools import cache

from mlimpact._io import packaged_csv
from mlimpact.errors import MlimpactError
from mlimpact.tables.sources import row_keys

SOURCE = "data/node_configurations.csv"


@dataclass(frozen=True)
class NodeConfiguration:
    """A node design: ``accelerators`` cards of ``accelerator_tdp_w`` [W] each in a node rated
    ``rated_power_w`` [W] (the manufacturer's maximum input power); ``source_keys``: the keys
    of ``data/sources.csv`` of the documents the row was read in."""

    node: str
    hardware: tuple
    accelerators: int
    accelerator_tdp_w: float
    rated_power_w: float
    source_keys: tuple = ()

    @property
    def host_rated_w_per_accelerator(self):
        """The node's rating less its accelerators' TDPs, per accelerator [W]."""
        return (self.rated_power_w - self.accelerators * self.accelerator_tdp_w) / self.accelerators


def _number(row, key):
    try:
        value = float(row[key])
    except ValueError:
        raise MlimpactError(f"{SOURCE}: {key} of {row['node']!r} is not a number") from None
    if not value > 0:
        raise MlimpactError(f"{SOURCE}: {key} of {row['node']!r} must be > 0")
    return value


def parse_configurations(rows):
    """Accelerator name -> :class:`NodeConfiguration` from the rows of the table (dicts of
    strings), checked: every accelerator is a row of ``data/hardware.csv`` with the row's
    TDP, in one configuration only, every node is rated above its accelerators' TDPs, and
    every row names its documents by keys of ``data/sources.csv``."""
    from mlimpact.tables.hardware import hardware_table

    table = hardware_table()
    out = {}
    for row in rows:
        names = tuple(n.strip() for n in row["hardware"].split(";") if n.strip())
        accelerators = _number(row, "accelerators")
        if accelerators != int(accelerators):
            raise MlimpactError(f"{SOURCE}: accelerators of {row['node']!r} must be a whole number")
        config = NodeConfiguration(
            row["node"],
            names,
            int(accelerators),
            _number(row, "accelerator_tdp_w"),
            _number(row, "rated_power_w"),
        )
        if not row.get("source", "").strip():
            raise MlimpactError(f"{SOURCE}: {config.node!r} has no source")
        config = replace(config, source_keys=row_keys(row, f"{SOURCE}: {config.node!r}"))
        if config.host_rated_w_per_accelerator <= 0:
            raise MlimpactError(
                f"{SOURCE}: {config.node!r} is rated at or below its accelerators' TDP"
            )
        for name in names:
            hardware = table.find(name, field=f"{SOURCE} hardware")
            if hardware.name != name or hardware.tdp_w != config.accelerator_tdp_w:
                raise MlimpactError(
                    f"{SOURCE}: {config.node!r} names {name!r}, which is not a "
                    "row of data/hardware.csv with its TDP"
                )
            if name in out:
                raise MlimpactError(f"{SOURCE}: {name!r} is in two node configurations")
            out[name] = config
    return out


@cache
def node_configurations():
    """Accelerator name (of ``data/hardware.csv``) -> its :class:`NodeConfiguration`."""
    return parse_configurations(packaged_csv("node_configurations.csv"))


def host_rated_w_per_gpu(hardware_name):
    """The rated host power per accelerator [W] of an accelerator's node: its configuration's
    rating less the accelerators' TDPs, over their number; 0 if no configuration is known (the
    host then draws MLCA's CPU and RAM terms)."""
    config = node_configurations().get(hardware_name)
    return 0.0 if config is None else config.host_rated_w_per_accelerator
