"""Atomic file output: a killed stage never leaves a half-written file under its final name."""

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


def umask():
    """The process's umask, read without setting it where Linux shows it (os.umask can only swap it,
    and a file another thread creates meanwhile would get the swapped-in mask)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # restrictive for the instant it is set
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds. The
    file gets the mode a plain open() gives (0666 less the umask), not mkstemp's private 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        if tmp.is_file():  # a directory made there already has mkdir's mode
            os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path):
    return json.loads(Path(path).read_text())


def write_json(path, obj):
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def save_figure(fig, path):
    """Save a matplotlib figure atomically (PNG), with fixed metadata so reruns give the same bytes."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None})


def save_torch(obj, path):
    """torch.save, atomically and byte-reproducibly: torch names the archive's inner folder after
    the file, so saving to a random temp name would make every save differ."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getvalue())


def image_grid(images, columns):
    """uint8 (N, H, W, 3) images tiled row-major into one (H', W', 3) array with a 2 px white gutter."""
    import numpy as np
    import torch  # here, not at the top: parse and report write files without loading torch
    from torchvision.utils import make_grid

    if len(images) == 1:  # make_grid returns a lone image unframed; keep the gutter the page's tiles assume
        return np.pad(images[0], ((2, 2), (2, 2), (0, 0)), constant_values=255)
    grid = make_grid(torch.from_numpy(images).permute(0, 3, 1, 2), nrow=columns, padding=2, pad_value=255)
    return grid.permute(1, 2, 0).numpy()


def save_grid(path, images, columns=8):
    from PIL import Image

    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(image_grid(images, columns)).save(tmp, format="PNG")
