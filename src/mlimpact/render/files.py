"""Writing results without losing what is already on disk.

- One file (:func:`write_text`, :func:`write_csv`, :func:`write_netcdf`, :func:`save_figure`)
  is written under a temporary name in its folder and renamed into place when complete.
- A result folder (:class:`ResultFolder`) is a transaction: its files are written into a hidden
  sibling folder, which replaces the target only when every file is written, with a
  ``manifest.json`` (versions of mlimpact and its libraries, Python and the platform
  (:func:`environment`), command line, seed, hashes of the catalogue and the data, each file's
  SHA-256, and what the command adds: ``run`` its resolved options, which
  ``run --from-manifest`` reruns). The target then holds either the earlier result or the
  new one, never a mix; the swap is one ``renameat2(RENAME_EXCHANGE)`` where the system has it.
- A folder is replaced only if it is empty or holds an mlimpact result (a manifest whose
  files match it); with ``force``, also a damaged mlimpact result. Any other folder is
  refused, and so is a result folder holding any file its manifest does not list (a file the
  user put there): nothing that is not ours is deleted.
- Files and folders get the user's umask (temporary files are created private).
- CSV cells a spreadsheet would run as a formula are escaped (:func:`csv_cell`).

Every write error (a full disk, a folder that cannot be written) becomes one
:class:`~mlimpact.errors.MlimpactError` line, and leaves no partial result.
"""

import csv
import ctypes
import errno
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from mlimpact._io import atomic_write
from mlimpact.errors import MlimpactError

MANIFEST = "manifest.json"
#: Prefixes of the hidden siblings a result folder uses while it is written or replaced.
_NEW, _OLD = ".new-", ".old-"


def _write_error(path, error):
    reason = error.strerror or error.__class__.__name__
    if error.errno == errno.ENOSPC:
        reason = "no space left on the device"
    return MlimpactError(f"{path}: cannot write ({reason})")


def umask():
    """The process's file-creation mask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_writable_file(path, force=False):
    """Fail early (before any computation) if ``path`` cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise MlimpactError(f"{path}: is a folder, expected a file name")
    if path.exists() and not force:
        raise MlimpactError(f"{path}: exists; use --force to overwrite it")
    if not path.parent.is_dir():
        raise MlimpactError(f"{path.parent}: no such folder")
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}."):
            pass
    except OSError as error:
        raise _write_error(path, error) from None


def _publish(temporary, path, mode=0o666):
    os.chmod(temporary, mode & ~umask())


#: The NetCDF writer: NetCDF-4 (HDF5) through h5netcdf and h5py, pure pip wheels that need no
#: netCDF C library, named so that a file's format does not depend on what else is installed.
NETCDF_ENGINE = "h5netcdf"
#: How dates are stored: days since the epoch, the proleptic Gregorian calendar (CF 4.4).
DATE_ENCODING = {"units": "days since 1970-01-01", "calendar": "proleptic_gregorian"}


def netcdf_encoding(dataset):
    """The per-variable encoding :func:`write_netcdf` uses for ``dataset``: strings as
    character arrays (``char``, UTF-8), which every CF reader and checker takes (the CF
    checker refuses NetCDF-4's variable-length strings), and dates as days since 1970-01-01
    (:data:`DATE_ENCODING`, decoded to ``datetime64`` when read back)."""
    import xarray as xr

    if not isinstance(dataset, xr.Dataset):
        raise MlimpactError(f"netcdf_encoding: expected an xarray Dataset (got {dataset!r:.60})")
    encoding = {}
    for name, variable in dataset.variables.items():
        if variable.dtype.kind in "OUS":
            encoding[name] = {"dtype": "S1"}
        elif variable.dtype.kind == "M":
            encoding[name] = {**DATE_ENCODING, "dtype": "float64"}
    return encoding


def write_netcdf(dataset, path):
    """Write an xarray Dataset to ``path`` atomically, as NetCDF-4 through
    :data:`NETCDF_ENGINE` with :func:`netcdf_encoding` (``xarray.load_dataset(path)`` reads
    it back, dates decoded)."""
    path = Path(path)
    encoding = netcdf_encoding(dataset)
    try:
        with atomic_write(path) as temporary:
            dataset.to_netcdf(temporary, engine=NETCDF_ENGINE, encoding=encoding)
            _publish(temporary, path)
    except OSError as error:
        raise _write_error(path, error) from None


def write_text(path, text):
    """Write a text file atomically (temporary file in the same folder, then rename)."""
    try:
        with atomic_write(path) as temporary:
            with open(temporary, "w", encoding="utf-8", newline="") as stream:
                stream.write(text)
            _publish(temporary, path)
    except OSError as error:
        raise _write_error(path, error) from None


#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: A number written as text ("-0.5", "+1e-03", "-inf"): a spreadsheet reads it as a number.
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)


def csv_cell(value):
    """``value`` as a CSV cell that a spreadsheet will not run: a string starting with
    ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading single quote, as
    OWASP recommends (https://owasp.org/www-community/attacks/CSV_Injection), so that a model
    named ``=cmd()`` is written ``'=cmd()``. Numbers, and strings that are a number
    (``-0.5``), are unchanged: a negative number stays a number."""
    if (
        isinstance(value, str)
        and value.startswith(_FORMULA_STARTS)
        and not _NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def write_csv(path, header, rows):
    """Write rows as CSV (RFC 4180, ``\\n`` line endings) atomically, every cell through
    :func:`csv_cell` (no formula injection)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(v) for v in header])
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    write_text(path, buffer.getvalue())


def save_figure(figure, path):
    """Save a matplotlib figure as PNG atomically, at 150 dpi.

    A figure with a layout engine (those of :mod:`mlimpact.render.plots`: the layout is
    computed as the figure is drawn) is saved at its size; another is cropped to its content
    (``bbox_inches="tight"``, which measures every text once more before drawing).

    zlib level 3 instead of PIL's 6: the report's figures encode in about 0.7 of the time
    (0.5 s for the main job's 12 at level 6), for files about 8 % larger."""
    tight = None if figure.get_layout_engine() is not None else "tight"
    try:
        with atomic_write(path, suffix=".png") as temporary:
            figure.savefig(temporary, dpi=150, bbox_inches=tight, pil_kwargs={"compress_level": 3})
            _publish(temporary, path)
    except OSError as error:
        raise _write_error(path, error) from None


def sha256(path):
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder):
    """The manifest of a result folder, or None if it has none (or an unreadable one)."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    if (
        not isinstance(manifest, dict)
        or "mlimpact" not in manifest
        or not isinstance(manifest.get("files"), dict)
    ):
        return None
    return manifest


def unknown_files(folder):
    """Names in the result ``folder`` that its manifest does not list (files or folders a run
    did not write), sorted; every name if it has no readable manifest."""
    manifest = read_manifest(folder)
    listed = set(manifest["files"]) if manifest is not None else set()
    return sorted(p.name for p in Path(folder).iterdir() if p.name not in listed | {MANIFEST})


def _refuse_unknown(folder, names):
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return MlimpactError(
        f"{folder}: holds file(s) the earlier run did not write ({shown}), which a new run "
        "would delete; nothing was replaced: move them away (then use --force if the result "
        "is damaged) or choose another --out"
    )


def is_complete_result(folder):
    """Whether ``folder`` holds exactly the files its manifest lists, with their hashes."""
    manifest = read_manifest(folder)
    if manifest is None:
        return False
    present = {p.name for p in Path(folder).iterdir()} - {MANIFEST}
    if present != set(manifest["files"]):
        return False
    return all(sha256(Path(folder) / name) == digest for name, digest in manifest["files"].items())


def _exchange(a, b):
    """Swap two paths atomically (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = (
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    )
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


class ResultFolder:
    """A result folder written as a transaction (see the module's docstring).

    Use::

        folder = ResultFolder(path, force)      # checks the target: before any computation
        with folder as directory:                # a hidden sibling to write the files into
            ...write files into directory...
        # on success the sibling, with its manifest, has replaced the target

    Parameters
    ----------
    path : path-like
        The target folder.
    force : bool
        Also replace a damaged mlimpact result (a manifest whose files do not match).

    A result folder is replaced whole, so one holding any file or folder its manifest does not
    list (``notes.txt`` a user put beside the report, say) is refused, with or without
    ``force``, with one error line naming those files; they are checked again just before
    the swap, so a file put there while the run computes is not lost either.
    metadata : dict, optional
        Written into the manifest (command line, seed, hashes of the inputs).
    """

    def __init__(self, path, force=False, metadata=None):
        self.path = Path(path)
        self.metadata = dict(metadata or {})
        self._directory = None
        if self.path.exists() and not self.path.is_dir():
            raise MlimpactError(f"{self.path}: exists and is not a folder")
        if self.path.is_dir() and any(self.path.iterdir()) and not is_complete_result(self.path):
            unknown = unknown_files(self.path)
            if read_manifest(self.path) is not None and unknown:
                raise _refuse_unknown(self.path, unknown)
            if not (force and read_manifest(self.path) is not None):
                hint = (
                    "it holds a damaged mlimpact result: use --force to replace it"
                    if read_manifest(self.path) is not None
                    else "it holds files that are not an mlimpact result; choose another --out"
                )
                raise MlimpactError(f"{self.path}: folder is not empty and {hint}")
        parent = self.path.resolve().parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MlimpactError(f"{parent}: cannot create folder ({error.strerror})") from None
        self._clean_stale(parent)
        try:
            self._directory = Path(tempfile.mkdtemp(dir=parent, prefix=f".{self.path.name}{_NEW}"))
        except OSError as error:
            raise _write_error(self.path, error) from None

    def _clean_stale(self, parent):
        """Remove the hidden siblings an interrupted earlier write left behind."""
        for prefix in (_NEW, _OLD):
            for stale in parent.glob(f".{self.path.name}{prefix}*"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)

    def __enter__(self):
        return self._directory

    def __exit__(self, kind, value, traceback):
        if kind is not None:
            self.discard()
            return False
        try:
            self._commit()
        except OSError as error:
            self.discard()
            raise _write_error(self.path, error) from None
        except MlimpactError:
            self.discard()
            raise
        return False

    def discard(self):
        """Remove the sibling with whatever was written (the target is untouched)."""
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def _commit(self):
        directory = self._directory
        from mlimpact._version import __version__

        files = {p.name: sha256(p) for p in sorted(directory.iterdir()) if p.is_file()}
        manifest = {"mlimpact": __version__, **self.metadata, "files": files}
        write_text(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")
        os.chmod(directory, 0o777 & ~umask())
        if self.path.is_dir() and read_manifest(self.path) is not None:
            unknown = unknown_files(self.path)  # put there while the run computed
            if unknown:
                raise _refuse_unknown(self.path, unknown)
        if not self.path.exists():
            os.rename(directory, self.path)
        elif _exchange(directory, self.path):
            shutil.rmtree(directory, ignore_errors=True)  # now the earlier result
        else:
            aside = directory.with_name(directory.name.replace(_NEW, _OLD))
            os.rename(self.path, aside)
            os.rename(directory, self.path)
            shutil.rmtree(aside, ignore_errors=True)
        self._directory = None


#: The libraries whose versions a manifest records (distribution names): those the numbers
#: go through (numba compiles the kernels with llvmlite), and those that write the files.
LIBRARIES = (
    "numpy",
    "numba",
    "llvmlite",
    "scipy",
    "xarray",
    "pandas",
    "matplotlib",
    "h5netcdf",
    "h5py",
)


def environment():
    """What a manifest records of the machine: ``versions`` (mlimpact's and each of
    :data:`LIBRARIES`, None where one is not installed), ``python`` (version and
    implementation) and ``platform`` (``platform.platform()`` and the machine's architecture)."""
    import platform
    from importlib import metadata

    from mlimpact._version import __version__

    versions = {"mlimpact": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "versions": versions,
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": f"{platform.platform()} ({platform.machine()})",
    }


def input_hashes():
    """SHA-256 of every packaged table (``data/``), for manifests."""
    from importlib import resources

    data = resources.files("mlimpact.data")
    return {
        entry.name: hashlib.sha256(entry.read_bytes()).hexdigest()
        for entry in sorted(data.iterdir(), key=lambda e: e.name)
        if entry.name.endswith((".csv", ".toml"))
    }


#: What the coordinates of mlimpact's Datasets mean (their ``long_name``).
COORDINATES = {
    "model": "training run (a notable AI model, or the run of a setup)",
    "phase": "life-cycle phase: production of the hardware (allocated), use, total",
    "scope": "scope of the energy: accelerators, host (rest of the nodes), facility overhead",
    "statistic": "statistic over the Monte Carlo samples",
    "hardware": "accelerator (one card)",
    "component": "part of a card's production: die, memory, other, total",
    "scenario": "scenario of the study",
    "series": "quantity whose trend is fitted",
    "uncertainty": "source of uncertainty of a trend: input, dataset or both",
    "sample": "Monte Carlo sample",
    "publication_date": "publication date of the model",
    "status": "record status: complete or imputed",
    "location_basis": "evidence of where the run trained",
}


def _criterion_attributes(attrs):
    """CF attributes of a variable of a criterion (its ``units`` one of
    :data:`~mlimpact.quantities.UNITS`), in place: the UDUNITS spelling of
    :data:`~mlimpact.quantities.CF_UNITS`, and where that is the mass of an equivalent (kg for
    kg CO2eq) the equivalent in ``long_name`` and ``comment``."""
    from mlimpact.quantities import CF_UNITS, CRITERIA, UNITS

    criterion = {UNITS[c]: c for c in CRITERIA}.get(attrs.get("units"))
    if criterion is None:
        return
    unit, spelled = UNITS[criterion], CF_UNITS[criterion]
    attrs["units"] = spelled
    if unit.replace(" ", "") != spelled.replace(" ", ""):  # an equivalent, not a spelling
        attrs["long_name"] = f"{attrs.get('long_name', criterion)} [{unit}]"
        attrs["comment"] = (
            f"values in {unit}: units gives the mass of the reference substance "
            f"({spelled}), since UDUNITS has no unit for an equivalent"
        )


def describe_dataset(dataset, title, catalogue=None, command=None, **attrs):
    """A copy of ``dataset`` made self-describing by the CF conventions (CF-1.8):
    ``Conventions``, ``title``, ``source`` (mlimpact's version), ``history`` (UTC time and
    command), the catalogue's hash; ``long_name`` on every variable and coordinate; ``units``
    on every numeric one, in UDUNITS spelling (a criterion's from
    :data:`~mlimpact.quantities.CF_UNITS`, "1" for dimensionless numbers), none on strings and
    dates (dates get theirs when written, :func:`netcdf_encoding`); a ``sample`` coordinate
    (0, 1, ...) where the ``sample`` dimension has none. ``attrs`` are added as they are (the
    power model...)."""
    import datetime

    import numpy as np
    import xarray as xr

    from mlimpact._version import __version__

    if not isinstance(dataset, xr.Dataset):
        raise MlimpactError(f"describe_dataset: expected an xarray Dataset (got {dataset!r:.60})")
    data = dataset.copy()
    if "sample" in data.dims and "sample" not in data.coords:
        data = data.assign_coords(sample=np.arange(data.sizes["sample"]))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    data.attrs.update(
        {
            "Conventions": "CF-1.8",
            "title": title,
            "source": f"mlimpact {__version__}",
            "history": f"{now} {command or 'mlimpact (Python library)'}",
            "references": "Morand, Ligozat, Neveol 2025 (arXiv:2510.09022); MLCA, ICT4S 2024 "
            "(doi:10.1109/ICT4S64576.2024.00031); the project's docs/methodology.md",
        }
    )
    if catalogue is not None:
        data.attrs["catalogue_sha256"] = catalogue
    data.attrs.update(attrs)
    for name, variable in data.variables.items():
        variable.attrs.setdefault("long_name", COORDINATES.get(name, name.replace("_", " ")))
        if variable.dtype.kind in "OUSM":
            variable.attrs.pop("units", None)
            continue
        _criterion_attributes(variable.attrs)
        variable.attrs.setdefault("units", "1")
    return data


def split_point(result):
    """A statistics Dataset with the point estimate moved from the ``statistic`` dimension to
    variables of its own (``<name>_point``)."""
    if "point" not in result.statistic.values:
        return result
    point = result.sel(statistic="point", drop=True)
    rest = result.drop_sel(statistic="point")
    for name in [n for n in result.data_vars if "statistic" in result[n].dims]:
        rest[f"{name}_point"] = point[name]
        rest[f"{name}_point"].attrs = {
            **point[name].attrs,
            "long_name": point[name].attrs.get("long_name", name)
            + " (point estimate: every input at its point value)",
        }
    return rest
