"""The main job's progress: its stages in order, each named and given its share of the bar.

:func:`study_stages` lists the stages of ``mlimpact run`` (:func:`mlimpact.study.claims.run_study`
and the report after it) for a set of options: compiling the kernels (only when numba's cache
holds none, :func:`kernels_cached`), sampling the cards, one stage per scenario, the Sobol'
analysis, the validation, the specifications and the figures. Each stage's share of the bar is
its expected share of the wall-clock time: :data:`STAGE_SECONDS` at the default options, the
sampling stages scaled by the number of samples and the specifications by theirs. A stage
reports ``(done, total)`` as it goes; :class:`Stages` turns that into
``progress(fraction of the whole job done, stage label)``.
"""

from dataclasses import dataclass, field

from mlimpact._config import cached_on_disk
from mlimpact.study.scenarios import REGISTRY

#: Seconds each stage of ``mlimpact run`` took at the default options, numba's cache warm
#: (2026-12-07, 2 cores, load about 1.4, in-process stage timings: docs/performance.md; only
#: the ratios matter, they give each stage its share of the bar). "compiling" is the extra
#: time of the whole job with an empty cache (22.7 s cold, the kernels compiled in two
#: processes by :mod:`mlimpact.study.warmup`, 11.6 s warm); "scenario" is each scenario's;
#: the Sobol' analysis reached N = 9,472 (:data:`SOBOL_BASE_POINTS`); "figures" is the
#: report's writing, two processes drawing (:mod:`mlimpact.render.figure_worker`).
STAGE_SECONDS = {
    "compiling": 11.1,
    "cards": 0.35,
    "scenario": 0.34,
    "sensitivity": 4.42,
    "validation": 0.17,
    "specifications": 2.54,
    "figures": 1.79,
}

#: What the progress bar shows during each stage (a scenario's label follows "scenario: ").
STAGE_LABELS = {
    "compiling": "compiling kernels (first run)",
    "cards": "sampling: cards",
    "sensitivity": "sensitivity (Sobol')",
    "validation": "validation",
    "specifications": "specifications",
    "figures": "figures and report",
}


#: Base points the report's Sobol' analysis reaches at the default options (its target met,
#: :func:`mlimpact.study.sensitivity.impact_sensitivity`): the stage's progress counts towards
#: it, since the N the target needs is known only as the analysis goes.
SOBOL_BASE_POINTS = 9472


def sobol_progress(report, expected=SOBOL_BASE_POINTS):
    """The ``report(done, total)`` of a Sobol' analysis, made monotone: ``done`` base points
    count against the larger of the N aimed at now (``total``, which grows with each
    extension) and the N ``expected`` at the end, never moving back; it calls
    ``report(fraction of the analysis done, 1)``."""
    reached = [0.0]

    def progress(done, total):
        reached[0] = max(reached[0], done / max(total, expected))
        report(reached[0], 1.0)

    return progress


def kernels_cached():
    """Whether numba's disk cache holds the fused Monte Carlo kernel: if not, the main job
    compiles its kernels first (tens of seconds, :mod:`mlimpact.study.warmup`), and the
    progress says so. A cheap check: one file's existence
    (:func:`mlimpact._config.cached_on_disk`)."""
    from mlimpact.engine.kernels.montecarlo import fused_kernel

    return cached_on_disk(fused_kernel)


def study_stages(options, progress=None, figures=False, compiling=None):
    """The stages of the main job under ``options``, in order.

    Parameters
    ----------
    options : mlimpact.study.options.StudyOptions
    progress : callable, optional
        ``progress(fraction done, label)``, fraction in [0, 1].
    figures : bool
        Whether the caller writes the figures and report after the study (a last stage).
    compiling : bool, optional
        Whether the first kernel call compiles (default: numba's cache is empty,
        :func:`kernels_cached`).
    """
    defaults = type(options)()  # the default options, without importing their module
    sampling = options.samples / defaults.samples
    compiling = not kernels_cached() if compiling is None else compiling
    stages = []
    if compiling:
        stages.append(("compiling", STAGE_LABELS["compiling"], STAGE_SECONDS["compiling"]))
    stages.append(("cards", STAGE_LABELS["cards"], STAGE_SECONDS["cards"] * sampling))
    for name in options.scenarios:
        label = f"scenario: {REGISTRY[name].label}"
        stages.append((name, label, STAGE_SECONDS["scenario"] * sampling))
    if options.sensitivity_samples:
        stages.append(("sensitivity", STAGE_LABELS["sensitivity"], STAGE_SECONDS["sensitivity"]))
    if options.validate and "baseline" in options.scenarios:
        seconds = STAGE_SECONDS["validation"] * sampling
        stages.append(("validation", STAGE_LABELS["validation"], seconds))
    if options.specifications:
        seconds = STAGE_SECONDS["specifications"] * (
            options.specification_samples / defaults.specification_samples
        )
        stages.append(("specifications", STAGE_LABELS["specifications"], seconds))
    if figures:
        stages.append(("figures", STAGE_LABELS["figures"], STAGE_SECONDS["figures"]))
    return Stages(progress, stages)


@dataclass
class Stages:
    """Stages ``[(name, label, expected seconds)]`` and the ``progress(fraction, label)`` they
    report to (None: nothing is reported)."""

    progress: object
    stages: list
    _starts: dict = field(init=False, repr=False)
    _shares: dict = field(init=False, repr=False)

    def __post_init__(self):
        total = sum(seconds for _, _, seconds in self.stages) or 1.0
        self._starts, self._shares, start = {}, {}, 0.0
        for name, _, seconds in self.stages:
            self._starts[name], self._shares[name] = start, seconds / total
            start += seconds / total

    def __contains__(self, name):
        return name in self._starts

    def shares(self):
        """Stage label -> its share of the bar (they add up to 1)."""
        return {label: self._shares[name] for name, label, _ in self.stages}

    def start(self, name):
        """Report that stage ``name`` begins."""
        self.step(name)(0, 1)

    def step(self, name):
        """The ``report(done, total)`` callback of stage ``name``: it reports the fraction of the
        whole job done once ``done`` of the stage's ``total`` units are."""
        label = next(label for n, label, _ in self.stages if n == name)
        start, share = self._starts[name], self._shares[name]

        def report(done, total):
            if self.progress is not None:
                self.progress(min(1.0, start + share * min(done / total, 1.0)), label)

        return report
