"""Writing results without losing what is already on disk.

Files are written to a temporary name in the target's folder and renamed into place only when
complete, so an interrupted or failed write never leaves a truncated file, and an existing file
is replaced only on request.
"""

import csv
import io
from pathlib import Path

from mlimpact._io import atomic_write
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
    with atomic_write(path) as temporary:
        dataset.to_netcdf(temporary, engine=engine)


def prepare_folder(path, force=False):
    """Create the output folder, refusing to write into a non-empty one without ``force``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MlimpactError(f"{path}: exists and is not a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise MlimpactError(f"{path}: folder is not empty; use --force to write into it")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MlimpactError(f"{path}: cannot create folder ({error.strerror})") from None
    return path


def write_text(path, text):
    """Write a text file atomically (temporary file in the same folder, then rename)."""
    with atomic_write(path) as temporary:
        with open(temporary, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)


def write_csv(path, header, rows):
    """Write rows as CSV (RFC 4180, ``\\n`` line endings) atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_text(path, buffer.getvalue())


def save_figure(figure, path):
    """Save a matplotlib figure as PNG atomically."""
    with atomic_write(path, suffix=".png") as temporary:
        figure.savefig(temporary, dpi=150, bbox_inches="tight")
