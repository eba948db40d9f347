"""Writing results without losing what is already on disk.

Files are written to a temporary name in the target's folder and renamed into place only when
complete, so an interrupted or failed write never leaves a truncated file, and an existing file
is replaced only on request.
"""

import os
import tempfile
from pathlib import Path

from mlimpact.errors import MlimpactError


def check_writable_file(path, force=False):
    """Fail early (before any computation) if ``path`` cannot be written."""
    path = Path(path)
    if path.is_dir():
        raise MlimpactError(f"{path}: is a folder, expected a file name")
    if path.exists() and not force:
        raise MlimpactError(f"{path}: exists; use --force to overwrite it")
    if not path.parent.exists():
        raise MlimpactError(f"{path.parent}: no such folder")


def write_netcdf(dataset, path):
    """Write an xarray Dataset to NetCDF atomically (h5netcdf if installed, else scipy)."""
    path = Path(path)
    try:
        import h5netcdf  # noqa: F401
        import h5py  # noqa: F401
        engine = "h5netcdf"
    except ImportError:
        engine = "scipy"
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        dataset.to_netcdf(temporary, engine=engine)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
