"""The hand-specialised kernel of ``benchmarks/kernel.py --roofline`` computes what the fused
kernel computes, on the same draws (docs/performance.md, "Roofline")."""

import importlib.util
from pathlib import Path

import pytest

from mlimpact.quantities import N_TRAINING_QUANTITIES
from mlimpact.uncertainty.catalogue import apply_uncertainty, default_catalogue

PATH = Path(__file__).resolve().parent.parent / "benchmarks" / "kernel.py"


@pytest.fixture(scope="module")
def kernel_script():
    spec = importlib.util.spec_from_file_location("benchmark_kernel", PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("act_weight", [None, 0.5])
def test_hand_specialised_kernel_matches_the_fused_one(kernel_script, act_weight):
    """Every quantity of every (sample, run) equal to 1e-9 relative (in fact bit for bit), and
    the folded accumulators identical, over spans that start off a tile's boundary; with ACT
    drawn half of the time, its branch is exercised too."""
    catalogue = default_catalogue()
    if act_weight is not None:
        weights = [1 - act_weight, act_weight]
        catalogue = apply_uncertainty(
            catalogue,
            {"production_model": {"type": "discrete", "values": [0, 1], "weights": weights}},
        )
    runs, bound, arguments = kernel_script.roofline_case(12, catalogue=catalogue)
    differences, identical = kernel_script.roofline_check(
        runs, bound, arguments, 2500, first_sample=1000
    )
    assert len(differences) == N_TRAINING_QUANTITIES
    assert max(differences.values()) <= 1e-9
    assert identical


def test_roofline_case_refuses_runs_it_does_not_model(kernel_script, monkeypatch):
    """The case's assumptions are checked: runs of several cards are refused."""
    several = kernel_script.synthetic_runs
    monkeypatch.setattr(
        kernel_script, "synthetic_runs", lambda n, seed, accelerator: several(n, seed)
    )
    with pytest.raises(ValueError, match="differ"):
        kernel_script.roofline_case(12)
