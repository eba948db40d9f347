"""Probability distributions of uncertain inputs, defined by their inverse CDF.

Every distribution is a frozen dataclass with a vectorised quantile function ``ppf`` (the
inverse cumulative distribution function, F^-1). Sampling is by inversion [1]_: a column of
uniforms u in (0, 1) -- pseudo-random, Latin hypercube or Sobol' -- becomes values
x = F^-1(u), so the stratification of a quasi-random design carries over to the inputs, and the
same design can be reused for every input whatever its distribution. Each distribution also gives
its exact ``mean()``, its ``median()``, its ``support()`` and a ``to_spec()`` table that
:func:`from_spec` turns back into an equal distribution (the TOML form of the parameter catalogue).
The unit of the quantity travels with it in ``unit`` (a string, only shown, never interpreted).
Parameters whose name is also a method are stored under another attribute: the ``mean`` of
``Normal`` and ``TruncatedNormal`` as ``mu``, the ``median`` of ``LogNormal`` as ``scale``;
constructors, specs and ``str`` use the parameter names below.

Distributions and parameterisations
-----------------------------------
``Uniform(low, high)``
    Nothing known but bounds. F^-1(u) = low + (high - low) u.
``LogUniform(low, high)``, 0 < low < high
    A positive quantity known to within orders of magnitude (uniform in ln x).
    F^-1(u) = low (high / low)^u; mean (high - low) / ln(high / low).
``Normal(mean, sd)``, sd > 0
    Symmetric measurement error. F^-1(u) = mean + sd Phi^-1(u).
``TruncatedNormal(mean, sd, low, high)``, sd > 0, low < high
    A normal error restricted to physically possible values. With a = (low - mean) / sd,
    b = (high - mean) / sd: F^-1(u) = mean + sd Phi^-1(Phi(a) + u (Phi(b) - Phi(a))), evaluated in
    log space (``log_ndtr``, ``ndtri_exp``, the Mills ratio through ``erfcx``) on whichever side
    of the mean keeps Phi(a) a lower-tail probability, so a window far in a tail (a = 40, say)
    stays accurate [2]_;
    mean = mean + sd (phi(a) - phi(b)) / (Phi(b) - Phi(a)).
``LogNormal(median, gsd)``, median > 0, gsd > 1
    Multiplicative uncertainty ("within a factor of gsd", 68 % of the mass in
    [median / gsd, median gsd]), parameterised by median and geometric standard deviation as
    recommended by Limpert et al. [3]_: ln X ~ N(ln median, (ln gsd)^2),
    F^-1(u) = median gsd^Phi^-1(u); mean = median exp((ln gsd)^2 / 2).
``Triangular(low, mode, high)``, low <= mode <= high, low < high
    Expert judgement as minimum, most likely and maximum. With c = (mode - low) / (high - low):
    F^-1(u) = low + sqrt(u (high - low)(mode - low)) for u < c, else
    high - sqrt((1 - u)(high - low)(high - mode)); mean (low + mode + high) / 3.
``PERT(low, mode, high)``, low <= mode <= high, low < high
    The same three-point judgement with less weight in the tails than the triangle: the Beta-PERT
    distribution [4]_, [5]_ with lambda = 4, i.e. a beta distribution on [low, high] with
    alpha = 1 + 4 (mode - low) / (high - low), beta = 1 + 4 (high - mode) / (high - low);
    F^-1(u) = low + (high - low) I^-1_u(alpha, beta); mean (low + 4 mode + high) / 6.
``Beta(a, b, low=0, high=1)``, 0 < a, b <= 1e6, low < high
    A fraction or a bounded quantity with a known shape.
    F^-1(u) = low + (high - low) I^-1_u(a, b); mean low + (high - low) a / (a + b).
``Discrete(values, weights=None)``
    A choice between scenarios (numeric values) with non-negative weights of positive sum,
    normalised to probabilities p_i = w_i / sum(w); equal weights when omitted. With the values
    sorted and P_k the cumulative probabilities, F^-1(u) = x_k for the smallest k with P_k >= u.
    Zero-weight values are never drawn.
``Empirical(values)``
    Resampling of observations x_(1) <= ... <= x_(n): the inverse of the empirical CDF,
    F^-1(u) = x_(k) with k the smallest index with k / n >= u (definition 1 of Hyndman and
    Fan [6]_, ``numpy.quantile(..., method="inverted_cdf")``); the mean is the sample mean.
``Constant(value)``
    A fixed input; F^-1(u) = value.

All parameters are checked when a distribution is built: finite real numbers (not booleans),
the orderings and positivity above, and a quantile function finite on all of (0, 1) (bounds
whose difference passes 1.8e308, a normal or log-normal whose tails do, are refused); a
violation raises :class:`~mlimpact.errors.MlimpactError` with a one-line message naming the
distribution and the parameter. ``ppf`` takes levels u in the open interval (0, 1) and refuses
anything else (0, 1, NaN, None, text) with the same error; it returns float64 values of the
shape of u, inside ``support()``.

References
----------
.. [1] L. Devroye, "Non-Uniform Random Variate Generation", Springer, 1986, ch. II.2 (the
   inversion method), doi:10.1007/978-1-4613-8643-8.
.. [2] N. L. Johnson, S. Kotz, N. Balakrishnan, "Continuous Univariate Distributions", vol. 1,
   2nd ed., Wiley, 1994, ch. 13 (the normal distribution and its truncated forms).
.. [3] E. Limpert, W. A. Stahel, M. Abbt, "Log-normal distributions across the sciences: keys
   and clues", BioScience 51(5), 341-352, 2001,
   doi:10.1641/0006-3568(2001)051[0341:LNDATS]2.0.CO;2.
.. [4] D. Vose, "Risk Analysis: A Quantitative Guide", 3rd ed., Wiley, 2008 (the PERT
   distribution).
.. [5] D. G. Malcolm, J. H. Roseboom, C. E. Clark, W. Fazar, "Application of a technique for
   research and development program evaluation", Operations Research 7(5), 646-669, 1959,
   doi:10.1287/opre.7.5.646.
.. [6] R. J. Hyndman, Y. Fan, "Sample quantiles in statistical packages", The American
   Statistician 50(4), 361-365, 1996, doi:10.1080/00031305.1996.10473566.
"""

import abc
import inspect
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from mlimpact.errors import MlimpactError

__all__ = [
    "Distribution",
    "Uniform",
    "LogUniform",
    "Normal",
    "TruncatedNormal",
    "LogNormal",
    "Triangular",
    "PERT",
    "Beta",
    "Discrete",
    "Empirical",
    "Constant",
    "DISTRIBUTIONS",
    "from_spec",
]


def _format_number(x):
    """Shortest exact text of a float, without a trailing ``.0`` (``6.0`` -> ``6``)."""
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _real(kind, name, value):
    """``value`` as a float if it is a finite real number (not a bool), else MlimpactError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise MlimpactError(f"{kind}: {name} must be a finite number (got {value!r})")
    try:
        x = float(value)
    except OverflowError:
        raise MlimpactError(
            f"{kind}: {name} must be a finite number (got an integer of "
            f"{len(str(abs(int(value))))} digits)"
        ) from None
    if not math.isfinite(x):
        raise MlimpactError(f"{kind}: {name} must be a finite number (got {x!r})")
    return x


def _reals(kind, name, values):
    """A non-empty sequence of finite real numbers as a tuple of floats, else MlimpactError."""
    if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__"):
        raise MlimpactError(f"{kind}: {name} must be a list of numbers (got {values!r})")
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise MlimpactError(
                f"{kind}: {name} must be one-dimensional (got shape {values.shape})"
            )
        if values.dtype.kind not in "iuf":
            raise MlimpactError(f"{kind}: {name} must hold numbers (got dtype {values.dtype})")
        array = values.astype(np.float64)
        if not np.all(np.isfinite(array)):
            bad = array[~np.isfinite(array)][0]
            raise MlimpactError(
                f"{kind}: {name} must be finite numbers (got {_format_number(bad)})"
            )
        result = tuple(array.tolist())
    else:
        result = tuple(_real(kind, f"{name}[{i}]", v) for i, v in enumerate(values))
    if not result:
        raise MlimpactError(f"{kind}: {name} must not be empty")
    return result


def _ordered(kind, low, high):
    if not low < high:
        raise MlimpactError(
            f"{kind}: low must be < high (got low={_format_number(low)}, "
            f"high={_format_number(high)})"
        )
    if not math.isfinite(high - low):
        raise MlimpactError(
            f"{kind}: low={_format_number(low)} and high={_format_number(high)} are too far "
            "apart: high - low passes double precision (1.8e308)"
        )


def _positive(kind, name, value):
    if not value > 0:
        raise MlimpactError(f"{kind}: {name} must be > 0 (got {name}={_format_number(value)})")


def _mode_inside(kind, low, mode, high):
    if not low <= mode <= high:
        raise MlimpactError(
            f"{kind}: mode must lie in [low, high] (got low={_format_number(low)}, "
            f"mode={_format_number(mode)}, high={_format_number(high)})"
        )


def _as_u(kind: str, u: ArrayLike) -> np.ndarray:
    """Probability levels ``u`` as float64, checked to lie in the open interval (0, 1).

    ``None``, text, booleans, NaN and levels at or outside 0 and 1 raise MlimpactError: a
    quantile function silently returning NaN (or a discrete value for NaN) would spread a
    wrong draw through every result.
    """
    if u is None or isinstance(u, (str, bytes, bool, np.bool_, Mapping)):
        raise MlimpactError(f"{kind}: ppf needs probability levels in (0, 1) (got {u!r:.60})")
    try:
        array = np.asarray(u)
        if array.dtype.kind not in "iuf":
            raise TypeError(array.dtype)
        array = array.astype(np.float64, copy=False)
    except (TypeError, ValueError, OverflowError):
        raise MlimpactError(
            f"{kind}: ppf needs probability levels in (0, 1) (got {u!r:.60})"
        ) from None
    inside = (array > 0.0) & (array < 1.0)
    if not inside.all():
        bad = array[~inside].flat[0]
        raise MlimpactError(
            f"{kind}: ppf needs probability levels in the open interval (0, 1) (got {float(bad)!r})"
        )
    return array


#: Largest shape of a beta distribution (its sd is then below 1e-3 of its range).
MAX_BETA_SHAPE = 1e6
#: Smallest shape of a beta distribution: below it the mass sits at a bound but for a
#: fraction of about the shape, and betaincinv's quantiles step back (a shape of 5e-324 gave
#: 0 then -1.8e-12 on [-1, 0]).
MIN_BETA_SHAPE = 1e-3
#: Probability levels at which a constructor evaluates its quantile function: the smallest
#: positive double, the most extreme uniforms of a sampling design (2^-54, 1 - 2^-53) and
#: levels between. A monotone quantile function finite at both ends is finite on all of (0, 1).
_PROBE_LEVELS = np.array(
    [5e-324, 2.0**-54, 1e-9, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1 - 1e-9, 1 - 2.0**-53]
)


def _result(x, low, high):
    """Clip to the support (rounding can step one ulp outside) and unwrap 0-d arrays."""
    out = np.clip(x, low, high)
    return out[()]


def _beta_quantile(a, b, u):
    """Quantiles [-] of the beta distribution of shapes a, b at levels u in (0, 1).

    ``scipy.special.betaincinv`` returns NaN for levels below about 1e-300 (subnormal u, say);
    there the leading term of I_x(a, b) = x^a / (a B(a, b)) (1 + O(x)) gives
    x = (u a B(a, b))^(1/a), computed in logarithms.
    """
    x = special.betaincinv(a, b, u)
    failed = np.isnan(x)
    if failed.any():
        with np.errstate(divide="ignore"):
            tail = np.exp((np.log(u) + math.log(a) + special.betaln(a, b)) / a)
        x = np.where(failed, np.minimum(tail, 1.0), x)
    return x


class Distribution(abc.ABC):
    """Base of all distributions: a quantile function, moments, a support and a TOML spec.

    Subclasses are frozen dataclasses. Their compared fields are the parameters, in constructor
    order, then the keyword-only ``unit``. A parameter whose name is taken by a method
    (``Normal(mean=...)``, ``LogNormal(median=...)``) is stored under another attribute, listed
    in ``_renamed``; constructor, spec, ``str`` and ``repr`` use the parameter's own name.
    """

    #: Name of the distribution in specs and messages.
    kind: ClassVar[str] = ""
    #: Constructor name -> attribute name, for parameters stored under another name.
    _renamed: ClassVar[dict[str, str]] = {}
    #: Unit of the quantity (a dataclass field of every subclass).
    unit: str

    def _set(self, name, value):
        object.__setattr__(self, name, value)

    def _set_reals(self, **given):
        """Store each parameter, given by its constructor name, as a checked real number under
        its attribute name (``_renamed``)."""
        for name, value in given.items():
            self._set(self._renamed.get(name, name), _real(self.kind, name, value))

    def _check_unit(self):
        if not isinstance(self.unit, str):
            raise MlimpactError(f"{self.kind}: unit must be a string (got {self.unit!r})")

    def _check_quantiles(self):
        """Refuse parameters whose quantile function is not finite on (0, 1): a normal whose
        sd times 38.5 (the standard quantile at the smallest positive double) overflows, a
        log-normal whose tails pass 1.8e308... (:data:`_PROBE_LEVELS`)."""
        with np.errstate(all="ignore"):
            values = np.asarray(self.ppf(_PROBE_LEVELS), dtype=np.float64)
            mean = self.mean()
        if not np.isfinite(values).all():
            k = int(np.argmin(np.isfinite(values)))
            raise MlimpactError(
                f"{self.kind}: parameters {self._describe()} give a quantile function that "
                f"is not finite (ppf({_PROBE_LEVELS[k]:.3g}) = {values[k]!r}); they exceed "
                "double precision (1.8e308)"
            )
        if not math.isfinite(mean):
            raise MlimpactError(
                f"{self.kind}: parameters {self._describe()} give a mean that is not finite "
                f"({mean!r}); it exceeds double precision (1.8e308)"
            )

    @abc.abstractmethod
    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        """Quantile function (inverse CDF).

        Parameters
        ----------
        u : array_like of float
            Probability levels [-] in the open interval (0, 1); anything else (0, 1, NaN,
            None, text) raises :class:`~mlimpact.errors.MlimpactError`.

        Returns
        -------
        numpy.ndarray of float64
            Values [unit] of the shape of ``u`` (a NumPy scalar for a scalar ``u``), inside
            :meth:`support`, non-decreasing in ``u``.
        """

    @abc.abstractmethod
    def mean(self) -> float:
        """Exact mean [unit] as a float."""

    def median(self) -> float:
        """Median [unit] as a float: ``ppf(0.5)``."""
        return float(self.ppf(0.5))

    @abc.abstractmethod
    def support(self) -> tuple[float, float]:
        """Smallest and largest possible values ``(low, high)`` [unit]; infinite if unbounded."""

    def _parameters(self):
        """(constructor name, value) of every parameter but ``unit``, in constructor order."""
        names = {attribute: name for name, attribute in self._renamed.items()}
        return [
            (names.get(f.name, f.name), getattr(self, f.name))
            for f in fields(self)
            if f.compare and f.name != "unit"
        ]

    def to_spec(self) -> dict[str, Any]:
        """The distribution as a TOML-ready table that :func:`from_spec` turns back into it.

        Returns
        -------
        dict
            ``{"type": kind, <parameter>: value, ..., "unit": unit}``; sequences become lists;
            an empty ``unit`` and optional parameters left at ``None`` are omitted.
        """
        spec: dict[str, Any] = {"type": self.kind}
        for name, value in self._parameters():
            if value is not None:
                spec[name] = list(value) if isinstance(value, tuple) else value
        if self.unit:
            spec["unit"] = self.unit
        return spec

    def _describe(self):
        parts = []
        for name, value in self._parameters():
            if value is None:
                continue
            if isinstance(value, tuple):
                value = "[" + ", ".join(_format_number(v) for v in value) + "]"
            else:
                value = _format_number(value)
            parts.append(f"{name}={value}")
        return ", ".join(parts)

    def __str__(self) -> str:
        text = f"{self.kind}({self._describe()})"
        return f"{text} [{self.unit}]" if self.unit else text

    def __repr__(self) -> str:
        arguments = [f"{name}={value!r}" for name, value in self._parameters()]
        if self.unit:
            arguments.append(f"unit={self.unit!r}")
        return f"{type(self).__name__}({', '.join(arguments)})"


@dataclass(frozen=True, repr=False)
class Uniform(Distribution):
    """Uniform distribution on [low, high].

    Parameters
    ----------
    low, high : float
        Bounds [unit], low < high.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    low: float
    high: float
    unit: str = field(default="", kw_only=True)
    kind = "uniform"

    def __post_init__(self):
        self._set_reals(low=self.low, high=self.high)
        _ordered(self.kind, self.low, self.high)
        self._check_unit()
        self._check_quantiles()

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        return _result(self.low + (self.high - self.low) * u, self.low, self.high)

    def mean(self) -> float:
        return 0.5 * self.low + 0.5 * self.high  # halves first: low + high may overflow

    def median(self) -> float:
        return self.mean()

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True, repr=False)
class LogUniform(Distribution):
    """Log-uniform (reciprocal) distribution on [low, high]: ln X ~ U(ln low, ln high).

    Parameters
    ----------
    low, high : float
        Bounds [unit], 0 < low < high.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    low: float
    high: float
    unit: str = field(default="", kw_only=True)
    kind = "loguniform"

    def __post_init__(self):
        self._set_reals(low=self.low, high=self.high)
        _positive(self.kind, "low", self.low)
        _ordered(self.kind, self.low, self.high)
        self._check_unit()
        self._check_quantiles()

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        log_ratio = math.log(self.high) - math.log(self.low)
        with np.errstate(over="ignore"):  # a range too wide to draw from: the check refuses it
            return _result(self.low * np.exp(u * log_ratio), self.low, self.high)

    def mean(self) -> float:
        return (self.high - self.low) / (math.log(self.high) - math.log(self.low))

    def median(self) -> float:
        return math.sqrt(self.low) * math.sqrt(self.high)

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True, init=False, repr=False)
class Normal(Distribution):
    """Normal distribution N(mean, sd^2).

    Parameters
    ----------
    mean : float
        Mean [unit]; stored as ``mu`` since ``mean()`` is the method every distribution has.
    sd : float
        Standard deviation [unit], > 0.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    mu: float
    sd: float
    unit: str = field(default="", kw_only=True)
    kind = "normal"
    _renamed = {"mean": "mu"}

    def __init__(self, mean: float, sd: float, *, unit: str = "") -> None:
        self._set_reals(mean=mean, sd=sd)
        self._set("unit", unit)
        _positive(self.kind, "sd", self.sd)
        self._check_unit()
        self._check_quantiles()

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        return (self.mu + self.sd * special.ndtri(u))[()]

    def mean(self) -> float:
        return self.mu

    def median(self) -> float:
        return self.mu

    def support(self) -> tuple[float, float]:
        return (-math.inf, math.inf)


@dataclass(frozen=True, init=False, repr=False)
class TruncatedNormal(Distribution):
    """Normal distribution N(mean, sd^2) restricted to [low, high].

    Parameters
    ----------
    mean : float
        Mean of the parent normal [unit], not of the truncated distribution; stored as ``mu``.
    sd : float
        Standard deviation of the parent normal [unit], > 0.
    low, high : float
        Truncation bounds [unit], low < high.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).

    Notes
    -----
    With a = (low - mean) / sd and b = (high - mean) / sd, quantiles are computed in the standard
    frame and mapped back by mean + sd z, so they are resolved to about 1e-16 (|a| + |b|) sd.
    Windows many sd into a tail are accurate (relative 1e-13 or better at 40 sd); in a window
    narrower than that resolution, quantiles may step back by that much between close levels.
    """

    mu: float
    sd: float
    low: float
    high: float
    unit: str = field(default="", kw_only=True)
    kind = "truncnormal"
    _renamed = {"mean": "mu"}

    def __init__(self, mean: float, sd: float, low: float, high: float, *, unit: str = "") -> None:
        self._set_reals(mean=mean, sd=sd, low=low, high=high)
        self._set("unit", unit)
        _positive(self.kind, "sd", self.sd)
        _ordered(self.kind, self.low, self.high)
        self._check_unit()
        self._check_tail()
        self._check_quantiles()

    def _check_tail(self):
        """Refuse a window so far in a tail (about 1.9e154 sd) that Phi of its nearer bound
        underflows even in logarithms: its quantiles would all collapse on one bound,
        maybe the wrong one."""
        with np.errstate(all="ignore"):
            a, b, _ = self._window()
            nearer = special.log_ndtr(b) if np.isfinite(a) and np.isfinite(b) else -math.inf
        if not np.isfinite(nearer):
            distance = min(abs(self.low - self.mu), abs(self.high - self.mu)) / self.sd
            raise MlimpactError(
                f"{self.kind}: the window [{_format_number(self.low)}, "
                f"{_format_number(self.high)}] lies {distance:.3g} sd from the mean "
                f"{_format_number(self.mu)}; at most 1e154 sd can be computed"
            )

    def _window(self):
        """Standardised window (a, b) with a + b <= 0, and whether it was mirrored.

        On this side of the mean Phi(a) <= 1/2 is a lower-tail probability that ``log_ndtr``
        gives to full relative precision however far the window lies in the tail.
        """
        a = (self.low - self.mu) / self.sd
        b = (self.high - self.mu) / self.sd
        if a + b > 0:
            return -b, -a, True
        return a, b, False

    def _shift(self, z, mirrored):
        return self.mu - self.sd * z if mirrored else self.mu + self.sd * z

    @staticmethod
    def _log_ratio(a, b):
        """log(Phi(a) / Phi(b)) for a < b, a + b <= 0.

        For b <= 0, Phi(x) = phi(x) m(x) with the Mills ratio m(x) = sqrt(pi / 2) erfcx(-x / sqrt 2)
        gives log(m(a) / m(b)) - (a^2 - b^2) / 2: no difference of two large logarithms, so the
        ratio stays accurate for windows thousands of sd into the tail.
        """
        if b > 0:
            return special.log_ndtr(a) - special.log_ndtr(b)
        mills = special.erfcx(-a / math.sqrt(2.0)) / special.erfcx(-b / math.sqrt(2.0))
        return math.log(mills) - 0.5 * (b - a) * -(a + b)

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        a, b, mirrored = self._window()
        # p is the CDF level in the (possibly mirrored) standard window, q = 1 - p.
        p, q = (1.0 - u, u) if mirrored else (u, 1.0 - u)
        log_phi_b = special.log_ndtr(b)
        log_ratio = self._log_ratio(a, b)
        ratio = math.exp(log_ratio)  # Phi(a) / Phi(b)
        share = -math.expm1(log_ratio)  # (Phi(b) - Phi(a)) / Phi(b)
        if share == 0 or self._unresolved():
            return self._flat_ppf(u)
        # Phi(z) = Phi(b) (1 - q share) = Phi(b) (ratio + p share): log1p keeps 1 - Phi(z)
        # accurate near the top of the window, the sum keeps Phi(z) accurate near its bottom.
        shortfall = q * share
        with np.errstate(divide="ignore"):
            log_level = log_phi_b + np.where(
                shortfall < 0.5, np.log1p(-shortfall), np.log(ratio + p * share)
            )
        z = np.clip(special.ndtri_exp(log_level), a, b)
        return _result(self._shift(z, mirrored), self.low, self.high)

    def _unresolved(self):
        """Whether the window is too narrow for its place on the real line: under 2^20 units
        in the last place of its bounds and mean, the shift ``mean + sd z`` loses the window's
        detail to rounding (its quantiles would not even be monotone), and quantiles that
        close together could not show the shape of the density across the window anyway."""
        scale = max(abs(self.low), abs(self.high), abs(self.mu))
        with np.errstate(over="ignore"):  # the largest double's spacing overflows: unresolved
            return self.high - self.low < 2.0**20 * np.spacing(scale)

    def _flat_ppf(self, u):
        """Uniform quantiles, for a window so narrow that Phi(a) = Phi(b) in double precision
        (the density is then constant across it to double precision), or too narrow to resolve
        (:meth:`_unresolved`)."""
        return _result(self.low + (self.high - self.low) * u, self.low, self.high)

    def mean(self) -> float:
        """Exact mean [unit]: mean + sd (phi(a) - phi(b)) / (Phi(b) - Phi(a)).

        In the frame where |a| >= |b|, phi(a) - phi(b) = phi(b) expm1(-t) with
        t = (a^2 - b^2) / 2 >= 0, and Phi(b) - Phi(a) = Phi(b) s with s = 1 - Phi(a) / Phi(b)
        from :meth:`_log_ratio`. For b <= 0 the mean is then expm1(-t) / (m(b) s) with the Mills
        ratio m(b) = Phi(b) / phi(b), free of overflow and of large cancellations however far
        the window lies in the tail.
        """
        a, b, mirrored = self._window()
        share = -math.expm1(self._log_ratio(a, b))
        if share == 0:
            return 0.5 * self.low + 0.5 * self.high
        t = 0.5 * (b - a) * -(a + b)
        if b <= 0:
            mills = math.sqrt(0.5 * math.pi) * special.erfcx(-b / math.sqrt(2.0))
            z = math.expm1(-t) / (mills * share)
        else:
            log_mass = special.log_ndtr(b) + math.log(share)
            z = math.exp(-0.5 * b * b - 0.5 * math.log(2.0 * math.pi) - log_mass) * math.expm1(-t)
        return min(max(self._shift(z, mirrored), self.low), self.high)

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True, init=False, repr=False)
class LogNormal(Distribution):
    """Log-normal distribution by median and geometric standard deviation.

    ln X ~ N(ln median, (ln gsd)^2), so that X lies within a factor gsd of its median with
    probability 68.3 % (Limpert et al., BioScience 51(5), 2001).

    Parameters
    ----------
    median : float
        Median (geometric mean) [unit], > 0; stored as ``scale`` (as in ``scipy.stats.lognorm``)
        since ``median()`` is the method every distribution has.
    gsd : float
        Geometric standard deviation [-], > 1.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    scale: float
    gsd: float
    unit: str = field(default="", kw_only=True)
    kind = "lognormal"
    _renamed = {"median": "scale"}

    def __init__(self, median: float, gsd: float, *, unit: str = "") -> None:
        self._set_reals(median=median, gsd=gsd)
        self._set("unit", unit)
        _positive(self.kind, "median", self.scale)
        if not self.gsd > 1:
            raise MlimpactError(
                f"{self.kind}: gsd must be > 1 (got gsd={_format_number(self.gsd)})"
            )
        self._check_unit()
        self._check_quantiles()

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        x = self.scale * np.exp(math.log(self.gsd) * special.ndtri(u))
        return _result(x, 0.0, math.inf)

    def mean(self) -> float:
        log_factor = 0.5 * math.log(self.gsd) ** 2
        return self.scale * math.exp(log_factor) if log_factor < 709.0 else math.inf

    def median(self) -> float:
        return self.scale

    def support(self) -> tuple[float, float]:
        return (0.0, math.inf)


@dataclass(frozen=True, repr=False)
class _Peaked(Distribution):
    """Base of the distributions given by (low, mode, high): shared fields and validation."""

    low: float
    mode: float
    high: float
    unit: str = field(default="", kw_only=True)

    def __post_init__(self):
        self._set_reals(low=self.low, mode=self.mode, high=self.high)
        _ordered(self.kind, self.low, self.high)
        _mode_inside(self.kind, self.low, self.mode, self.high)
        self._check_unit()
        self._check_quantiles()

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True, repr=False)
class Triangular(_Peaked):
    """Triangular distribution on [low, high] with its peak at mode.

    Parameters
    ----------
    low : float
        Minimum [unit].
    mode : float
        Most likely value [unit], low <= mode <= high.
    high : float
        Maximum [unit], > low.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    kind = "triangular"

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        width = self.high - self.low
        c = (self.mode - self.low) / width
        # Each branch is clamped at the mode so that rounding cannot make ppf step down where
        # the branches meet.
        with np.errstate(invalid="ignore"):
            # square roots of each factor: the product width (mode - low) overflows for
            # bounds beyond 1e154 while its root does not
            below = np.minimum(
                self.low + np.sqrt(u * width) * math.sqrt(self.mode - self.low), self.mode
            )
            above = np.maximum(
                self.high - np.sqrt((1.0 - u) * width) * math.sqrt(self.high - self.mode),
                self.mode,
            )
        x = np.where(u < c, below, above)
        return _result(x, self.low, self.high)

    def mean(self) -> float:
        return self.low / 3.0 + self.mode / 3.0 + self.high / 3.0  # a sum may overflow


@dataclass(frozen=True, repr=False)
class PERT(_Peaked):
    """Beta-PERT distribution on [low, high] with mode ``mode`` and lambda = 4.

    A beta distribution scaled to [low, high] with shapes
    alpha = 1 + 4 (mode - low) / (high - low) and beta = 1 + 4 (high - mode) / (high - low), so
    that its mean is (low + 4 mode + high) / 6 (Vose, Risk Analysis, 2008).

    Parameters
    ----------
    low : float
        Minimum [unit].
    mode : float
        Most likely value [unit], low <= mode <= high.
    high : float
        Maximum [unit], > low.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    kind = "pert"

    @property
    def shapes(self) -> tuple[float, float]:
        """Beta shape parameters (alpha, beta) [-]."""
        width = self.high - self.low
        return (
            1.0 + 4.0 * (self.mode - self.low) / width,
            1.0 + 4.0 * (self.high - self.mode) / width,
        )

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        alpha, beta = self.shapes
        x = self.low + (self.high - self.low) * _beta_quantile(alpha, beta, u)
        return _result(x, self.low, self.high)

    def mean(self) -> float:
        return self.low / 6.0 + self.mode * (4.0 / 6.0) + self.high / 6.0  # a sum may overflow


@dataclass(frozen=True, repr=False)
class Beta(Distribution):
    """Beta distribution with shapes a, b, scaled to [low, high].

    Parameters
    ----------
    a, b : float
        Shape parameters [-], from 1e-3 (:data:`MIN_BETA_SHAPE`) to 1e6
        (:data:`MAX_BETA_SHAPE`).
    low, high : float, optional
        Bounds [unit], low < high; default [0, 1].
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    a: float
    b: float
    low: float = 0.0
    high: float = 1.0
    unit: str = field(default="", kw_only=True)
    kind = "beta"

    def __post_init__(self):
        self._set_reals(a=self.a, b=self.b, low=self.low, high=self.high)
        _positive(self.kind, "a", self.a)
        _positive(self.kind, "b", self.b)
        for name, shape in (("a", self.a), ("b", self.b)):
            if shape < MIN_BETA_SHAPE:
                raise MlimpactError(
                    f"{self.kind}: {name} must be at least {MIN_BETA_SHAPE:g} (got "
                    f"{name}={_format_number(shape)}: all but a fraction of about {name} of the "
                    "mass at one bound; a constant says the same)"
                )
            if shape > MAX_BETA_SHAPE:
                # betaincinv is slow there and its quantiles lose monotonicity (1e-8 steps
                # back at shapes of 1e15), for a distribution already a point to 1e-3
                raise MlimpactError(
                    f"{self.kind}: {name} must be at most {MAX_BETA_SHAPE:g} (got "
                    f"{name}={_format_number(shape)}: narrower than 1e-3 of [low, high]; "
                    "a constant or a normal says the same)"
                )
        _ordered(self.kind, self.low, self.high)
        self._check_unit()
        self._check_quantiles()

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        x = self.low + (self.high - self.low) * _beta_quantile(self.a, self.b, u)
        return _result(x, self.low, self.high)

    def mean(self) -> float:
        return self.low + (self.high - self.low) * self.a / (self.a + self.b)

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


@dataclass(frozen=True, repr=False)
class Discrete(Distribution):
    """Categorical distribution over numeric values (scenarios).

    Parameters
    ----------
    values : sequence of float
        The possible values [unit], in any order; duplicates add up.
    weights : sequence of float, optional
        Relative weights [-], non-negative with a positive sum, one per value; normalised to
        probabilities. Equal weights when omitted.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    values: tuple
    weights: tuple | None = None
    unit: str = field(default="", kw_only=True)
    _sorted_values: np.ndarray = field(init=False, repr=False, compare=False)
    _cumulative: np.ndarray = field(init=False, repr=False, compare=False)
    kind = "discrete"

    def __post_init__(self):
        values = _reals(self.kind, "values", self.values)
        self._set("values", values)
        if self.weights is None:
            weights = np.ones(len(values))
        else:
            self._set("weights", _reals(self.kind, "weights", self.weights))
            if len(self.weights) != len(values):
                raise MlimpactError(
                    f"{self.kind}: weights must have one entry per value "
                    f"(got {len(self.weights)} weights for {len(values)} values)"
                )
            weights = np.array(self.weights)
            if np.any(weights < 0):
                raise MlimpactError(
                    f"{self.kind}: weights must be >= 0 (got {_format_number(weights.min())})"
                )
            if not weights.max() > 0:
                raise MlimpactError(f"{self.kind}: weights must have a positive sum")
            weights = weights / weights.max()  # huge weights must not overflow their sum
        self._check_unit()
        # Zero-weight values are dropped so that no u, not even 0, can select them.
        drawn = weights > 0
        order = np.argsort(np.array(values)[drawn], kind="stable")
        sorted_values = np.array(values)[drawn][order]
        cumulative = np.cumsum(weights[drawn][order])
        cumulative /= cumulative[-1]
        cumulative[-1] = 1.0
        sorted_values.flags.writeable = False
        cumulative.flags.writeable = False
        self._set("_sorted_values", sorted_values)
        self._set("_cumulative", cumulative)

    @property
    def probabilities(self) -> np.ndarray:
        """Probability of each entry of ``values`` [-] (weights / sum of weights)."""
        if self.weights is None:
            return np.full(len(self.values), 1.0 / len(self.values))
        weights = np.array(self.weights)
        weights = weights / weights.max()
        return weights / weights.sum()

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        index = np.searchsorted(self._cumulative, u, side="left")
        return self._sorted_values[np.minimum(index, len(self._cumulative) - 1)][()]

    @property
    def quantile_table(self) -> tuple[np.ndarray, np.ndarray]:
        """``(cumulative, values)``: the drawn values sorted [unit] and their cumulative
        probabilities [-] (the last exactly 1), read-only; :meth:`ppf` of u is the value of
        the first cumulative probability >= u."""
        return self._cumulative, self._sorted_values

    def mean(self) -> float:
        low, high = self.support()
        return min(max(float(np.dot(self.probabilities, np.array(self.values))), low), high)

    def support(self) -> tuple[float, float]:
        return (float(self._sorted_values[0]), float(self._sorted_values[-1]))


@dataclass(frozen=True, repr=False)
class Empirical(Distribution):
    """Empirical distribution of observed values (resampling by the inverse empirical CDF).

    Parameters
    ----------
    values : sequence of float
        Observations [unit], at least one, in any order.
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    values: tuple
    unit: str = field(default="", kw_only=True)
    _sorted_values: np.ndarray = field(init=False, repr=False, compare=False)
    kind = "empirical"

    def __post_init__(self):
        self._set("values", _reals(self.kind, "values", self.values))
        self._check_unit()
        sorted_values = np.sort(np.array(self.values))
        sorted_values.flags.writeable = False
        self._set("_sorted_values", sorted_values)

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        u = _as_u(self.kind, u)
        n = len(self._sorted_values)
        # Smallest k with k / n >= u, i.e. ceil(n u), as a 0-based index.
        index = np.searchsorted(np.arange(1, n + 1), u * n, side="left")
        return self._sorted_values[np.minimum(index, n - 1)][()]

    def mean(self) -> float:
        low, high = self.support()  # the division can round one ulp outside equal values
        n = len(self.values)  # each value divided first: a sum of values near 1e308 overflows
        try:
            total = math.fsum(v / n for v in self.values)
        except OverflowError:  # a mean within rounding of the largest float: halves, then x 2
            total = 2.0 * math.fsum(v / (2 * n) for v in self.values)
        return min(max(total, low), high)

    def support(self) -> tuple[float, float]:
        return (float(self._sorted_values[0]), float(self._sorted_values[-1]))

    def _describe(self):
        low, high = self.support()
        return f"n={len(self.values)}, min={_format_number(low)}, max={_format_number(high)}"


@dataclass(frozen=True, repr=False)
class Constant(Distribution):
    """A fixed value (no uncertainty).

    Parameters
    ----------
    value : float
        The value [unit].
    unit : str, optional
        Unit of the quantity (shown, not interpreted).
    """

    value: float
    unit: str = field(default="", kw_only=True)
    kind = "constant"

    def __post_init__(self):
        self._set_reals(value=self.value)
        self._check_unit()

    def ppf(self, u: ArrayLike) -> np.ndarray | np.float64:
        return np.full(np.shape(_as_u(self.kind, u)), self.value, dtype=np.float64)[()]

    def mean(self) -> float:
        return self.value

    def median(self) -> float:
        return self.value

    def support(self) -> tuple[float, float]:
        return (self.value, self.value)


#: Distribution classes by ``kind``, the ``type`` of a spec.
DISTRIBUTIONS = {
    cls.kind: cls
    for cls in (
        Constant,
        Uniform,
        LogUniform,
        Normal,
        TruncatedNormal,
        LogNormal,
        Triangular,
        PERT,
        Beta,
        Discrete,
        Empirical,
    )
}


#: The most extreme uniforms a sampling design gives (mlimpact.uncertainty.sampling).
_EXTREME_UNIFORMS = (2.0**-54, 1.0 - 2.0**-53)


def sampled_range(distribution: Distribution) -> tuple[float, float]:
    """The smallest and largest values [unit] a design can draw from ``distribution`` (its
    quantile function at the most extreme uniforms, within its support); NaN-free."""
    low, high = distribution.support()
    with np.errstate(over="ignore", invalid="ignore"):
        drawn = np.asarray(distribution.ppf(np.array(_EXTREME_UNIFORMS)), dtype=float)
    drawn = np.where(np.isnan(drawn), [low, high], drawn)
    return max(low, float(drawn[0])), min(high, float(drawn[1]))


def from_spec(
    spec: Distribution | Mapping[str, Any] | float, name: str = "parameter"
) -> Distribution:
    """Build a distribution from its table, as written in TOML.

    Parameters
    ----------
    spec : dict or float or Distribution
        ``{"type": kind, <parameter>: value, ..., "unit": unit}`` with the constructor's
        parameters (e.g. ``{"type": "triangular", "low": 1, "mode": 6, "high": 8,
        "unit": "year"}``); a bare number gives :class:`Constant`; a distribution is returned
        as it is.
    name : str, optional
        Name of the uncertain input, the start of every error message.

    Returns
    -------
    Distribution

    Raises
    ------
    MlimpactError
        For an unknown ``type``, an unknown or missing key or an invalid parameter; the
        message starts with ``"{name}: "``.
    """
    if isinstance(spec, Distribution):
        return spec
    known = ", ".join(DISTRIBUTIONS)
    try:
        if isinstance(spec, numbers.Real) and not isinstance(spec, (bool, np.bool_)):
            return Constant(spec)  # type: ignore[arg-type]  # a numbers.Real
        if not isinstance(spec, Mapping):
            raise MlimpactError(f"expected a number or a table with a 'type' key (got {spec!r})")
        if "type" not in spec:
            raise MlimpactError(f"missing key 'type' (known types: {known})")
        kind = spec["type"]
        if not isinstance(kind, str) or kind not in DISTRIBUTIONS:
            raise MlimpactError(f"unknown distribution type {kind!r} (known types: {known})")
        cls = DISTRIBUTIONS[kind]
        parameters = inspect.signature(cls).parameters
        unknown = [key for key in spec if key != "type" and key not in parameters]
        if unknown:
            raise MlimpactError(
                f"unknown key(s) {', '.join(map(repr, unknown))} for {kind} "
                f"(allowed: {', '.join(parameters)})"
            )
        missing = [
            key
            for key, parameter in parameters.items()
            if parameter.default is inspect.Parameter.empty and key not in spec
        ]
        if missing:
            raise MlimpactError(f"missing key(s) {', '.join(map(repr, missing))} for {kind}")
        return cls(**{key: value for key, value in spec.items() if key != "type"})
    except MlimpactError as error:
        raise MlimpactError(f"{name}: {error}") from None
