"""Read files from a folder or a zip without extracting: Kaggle's all-dogs.zip / Annotation.zip,
Stanford's Images/ and Annotation/ trees, or plain folders. Zip members are untrusted: names that
escape the archive (absolute, `..`) are never read, and reads are bounded in size."""

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from doggan.errors import DataError

ANNOTATION_MAX_BYTES = 64 * 1024  # real ones are ~600 bytes; anything larger is not an annotation
PHOTO_MAX_BYTES = 64 * 1024 * 1024

IMAGE_ID = re.compile(r"^n\d{8}_\d+$")
BREED_DIR = re.compile(r"^(n\d{8})-(.+)$")


@dataclass(frozen=True)
class Entry:
    """One file in a source: its path inside the source and how to read it."""

    source: str  # the folder or zip path, as given
    name: str  # posix path inside the source

    @property
    def stem(self):
        return PurePosixPath(self.name).stem

    @property
    def parent(self):
        return PurePosixPath(self.name).parent.name


def _unsafe(name):
    p = PurePosixPath(name)
    return p.is_absolute() or ".." in p.parts or "\\" in name or re.match(r"^[A-Za-z]:", name)


def _zip_names(path):
    try:
        with zipfile.ZipFile(path) as zf:
            return [i.filename for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataError(f"{path}: not a folder or a readable zip ({exc})") from None


def list_files(source):
    """All regular files under a folder or inside a zip, sorted; zip members that escape are left out."""
    path = Path(source)
    if not path.exists():
        raise DataError(f"{source}: no such file or folder")
    if path.is_dir():
        names = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
        return [Entry(str(source), n) for n in names if not any(part.startswith(".") for part in n.split("/"))]
    return [Entry(str(source), n) for n in sorted(_zip_names(path)) if not _unsafe(n)]


def unsafe_members(source):
    """Names in a zip that would escape it if extracted (absolute, `..`, drive letters); never read."""
    return [] if Path(source).is_dir() else sorted(n for n in _zip_names(source) if _unsafe(n))


class Reader:
    """Reads entries of one source; keeps a zip open across reads (one per process)."""

    def __init__(self, source):
        self.source = Path(source)
        self._zip = None if self.source.is_dir() else zipfile.ZipFile(self.source)

    def read(self, entry, limit):
        """The bytes of `entry`, or DataError if it is larger than `limit`."""
        if self._zip is None:
            file = self.source / entry.name
            if file.stat().st_size > limit:
                raise DataError(f"{entry.name}: larger than {limit} bytes", "oversized file")
            return file.read_bytes()
        info = self._zip.getinfo(entry.name)
        if info.file_size > limit:
            raise DataError(f"{entry.name}: larger than {limit} bytes", "oversized file")
        with self._zip.open(info) as fh:  # the header's size may lie: bound the actual read too
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise DataError(f"{entry.name}: larger than {limit} bytes", "oversized file")
        return data

    def close(self):
        if self._zip is not None:
            self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def photo_entries(source):
    """{image_id: Entry} for every .jpg: Kaggle's flat all-dogs/ or Stanford's Images/<breed>/."""
    photos = {}
    for entry in list_files(source):
        if entry.name.lower().endswith((".jpg", ".jpeg")):
            photos.setdefault(entry.stem, entry)
    return photos


def annotation_entries(source):
    """Entries shaped like Annotation/<synset>-<Breed>/<image_id> (no extension), sorted."""
    return [e for e in list_files(source) if IMAGE_ID.match(PurePosixPath(e.name).name) and BREED_DIR.match(e.parent)]
