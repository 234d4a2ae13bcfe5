"""Parse Stanford Dogs / PASCAL-VOC annotation files into one row per box.

Annotations are untrusted: the parser resolves no entities, loads no DTD, touches no network,
and refuses any DOCTYPE outright (real annotations never carry one), so no content can make it
read another file or expand into gigabytes. Files are size-bounded before parsing.

Coordinates are 0-based pixel edges as in the official files; boxes are clipped to the photo
(two real boxes run past their photo: n02098105_2063, n02106030_3948).
"""

from dataclasses import dataclass

from lxml import etree

from doggan.data.sources import ANNOTATION_MAX_BYTES, BREED_DIR, Reader, annotation_entries, photo_entries, unsafe_members
from doggan.errors import DataError

COLUMNS = ["image_id", "synset", "breed", "label", "object", "xmin", "ymin", "xmax", "ymax", "width", "height"]


def _parser():
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False, remove_comments=True
    )


@dataclass(frozen=True)
class Box:
    name: str
    xmin: int
    ymin: int
    xmax: int
    ymax: int
    clipped: bool


@dataclass(frozen=True)
class Annotation:
    width: int
    height: int
    boxes: list


def _int(node, path, where):
    child = node.find(path)
    if child is None or child.text is None or not child.text.strip():
        raise DataError(f"{where}: missing <{path}>", "missing field")
    try:
        return int(float(child.text.strip()))  # a few VOC exports write '12.0'
    except ValueError:
        raise DataError(f"{where}: non-numeric <{path}> {child.text.strip()!r}", "non-numeric field") from None


def parse_annotation(data, where="annotation"):
    """Parse one annotation's bytes; DataError with a reason for anything unusable."""
    if len(data) > ANNOTATION_MAX_BYTES:
        raise DataError(f"{where}: larger than {ANNOTATION_MAX_BYTES} bytes", "oversized file")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise DataError(f"{where}: DOCTYPE/ENTITY declarations are not allowed", "hostile XML")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise DataError(f"{where}: unparseable XML ({exc})", "unparseable XML") from None
    if root.tag != "annotation":
        raise DataError(f"{where}: root element is <{root.tag}>, expected <annotation>", "not an annotation")
    width, height = _int(root, "size/width", where), _int(root, "size/height", where)
    if width <= 0 or height <= 0:
        raise DataError(f"{where}: non-positive <size> {width}x{height}", "bad photo size")
    objects = root.findall("object")
    if not objects:
        raise DataError(f"{where}: no <object>", "missing field")
    boxes = []
    for i, obj in enumerate(objects):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise DataError(f"{where}: object {i} missing <name>", "missing field")
        x0, y0, x1, y1 = (_int(obj, f"bndbox/{k}", where) for k in ("xmin", "ymin", "xmax", "ymax"))
        if x1 <= x0 or y1 <= y0:
            raise DataError(f"{where}: object {i} inverted box ({x0},{y0},{x1},{y1})", "inverted box")
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if cx1 <= cx0 or cy1 <= cy0:
            raise DataError(f"{where}: object {i} box ({x0},{y0},{x1},{y1}) outside the {width}x{height} photo",
                            "box outside photo")
        boxes.append(Box(name, cx0, cy0, cx1, cy1, clipped=(cx0, cy0, cx1, cy1) != (x0, y0, x1, y1)))
    return Annotation(width, height, boxes)


def parse_annotations(annotations_source, images_source, strict=False):
    """Rows (dicts with COLUMNS) for every usable box, and a data-quality record of what was skipped.

    Labels are indices into the sorted synsets of all annotation folders, so they are stable
    whatever subset of files parses.
    """
    entries = annotation_entries(annotations_source)
    photos = photo_entries(images_source)
    synsets = sorted({BREED_DIR.match(e.parent).groups() for e in entries})
    label_of = {synset: i for i, (synset, _) in enumerate(synsets)}
    rows, skipped, clipped = [], [], 0

    def skip(file, kind, reason):
        if strict:
            raise DataError(f"{file}: {reason}", kind)
        skipped.append({"file": file, "kind": kind, "reason": reason})

    for source in (annotations_source, images_source):
        for name in unsafe_members(source):
            skip(f"{source}:{name}", "unsafe zip member", "zip member escapes the archive; not read")

    annotated = set()
    with Reader(annotations_source) as reader:
        for entry in entries:
            image_id = entry.stem
            synset, breed = BREED_DIR.match(entry.parent).groups()
            annotated.add(image_id)
            try:
                ann = parse_annotation(reader.read(entry, ANNOTATION_MAX_BYTES), entry.name)
            except DataError as exc:
                skip(entry.name, exc.kind, str(exc).removeprefix(f"{entry.name}: "))
                continue
            if image_id not in photos:
                skip(entry.name, "annotation without photo", "no photo with this id")
                continue
            for i, box in enumerate(ann.boxes):
                clipped += box.clipped
                rows.append(
                    dict(image_id=image_id, synset=synset, breed=breed, label=label_of[synset], object=i,
                         xmin=box.xmin, ymin=box.ymin, xmax=box.xmax, ymax=box.ymax, width=ann.width, height=ann.height)
                )
    for image_id in sorted(set(photos) - annotated):
        skip(photos[image_id].name, "photo without annotation", "no annotation with this id")
    quality = {
        "annotation_files": len(entries),
        "photos": len(photos),
        "objects": len(rows),
        "breeds": len(synsets),
        "boxes_clipped_to_photo": clipped,
        "skipped": skipped,
    }
    return rows, quality
