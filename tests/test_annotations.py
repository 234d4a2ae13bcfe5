"""The annotation parser against files in the official Stanford Dogs template, bad and hostile ones."""

import zipfile

import pytest

from doggan.data.annotations import parse_annotation, parse_annotations
from doggan.data.demo import annotation_xml
from doggan.errors import DataError

# n02106030_3948 as distributed: its box runs past the 284x360 photo
PAST_BORDER = """<annotation>
\t<folder>02106030</folder>
\t<filename>n02106030_3948</filename>
\t<source>
\t\t<database>ImageNet database</database>
\t</source>
\t<size>
\t\t<width>284</width>
\t\t<height>360</height>
\t\t<depth>3</depth>
\t</size>
\t<segment>0</segment>
\t<object>
\t\t<name>collie</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>0</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>10</xmin>
\t\t\t<ymin>10</ymin>
\t\t\t<xmax>286</xmax>
\t\t\t<ymax>380</ymax>
\t\t</bndbox>
\t</object>
</annotation>"""


def test_official_template_with_a_box_past_the_border_is_clipped():
    ann = parse_annotation(PAST_BORDER.encode())
    assert (ann.width, ann.height) == (284, 360)
    (box,) = ann.boxes
    assert (box.name, box.xmin, box.ymin, box.xmax, box.ymax, box.clipped) == ("collie", 10, 10, 284, 360, True)


def test_several_objects_and_a_border_touching_box():
    xml = annotation_xml("n02099601", "golden_retriever", "n02099601_7588", 500, 375,
                         [(0, 14, 225, 325, 1), (200, 30, 500, 375, 0), (10, 10, 60, 90, 0)])
    ann = parse_annotation(xml.encode())
    assert [(b.xmin, b.ymin, b.xmax, b.ymax) for b in ann.boxes] == [(0, 14, 225, 325), (200, 30, 500, 375), (10, 10, 60, 90)]
    assert not any(b.clipped for b in ann.boxes)


BAD = {
    "unparseable": (b"<annotation><size>", "unparseable XML"),
    "missing width": (PAST_BORDER.replace("\t\t<width>284</width>\n", "").encode(), "missing <size/width>"),
    "non-numeric": (PAST_BORDER.replace("<xmin>10</xmin>", "<xmin>ten</xmin>").encode(), "non-numeric <bndbox/xmin>"),
    "inverted": (PAST_BORDER.replace("<xmin>10</xmin>", "<xmin>300</xmin>").encode(), "inverted box"),
    "outside": (PAST_BORDER.replace("<xmin>10</xmin>", "<xmin>284</xmin>").replace("<xmax>286", "<xmax>290").encode(),
                "outside the 284x360 photo"),
    "no object": (PAST_BORDER.split("\t<object>")[0].encode() + b"</annotation>", "no <object>"),
    "wrong root": (b"<html><body/></html>", "expected <annotation>"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_annotations_raise_a_one_line_reason(kind):
    data, reason = BAD[kind]
    with pytest.raises(DataError, match=reason.replace("(", r"\(").replace(")", r"\)")) as err:
        parse_annotation(data, "f")
    assert "\n" not in str(err.value)


def test_external_entity_cannot_read_a_local_file(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = f"""<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file://{secret}">]>
<annotation><size><width>10</width><height>10</height></size><object><name>&x;</name>
<bndbox><xmin>0</xmin><ymin>0</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></object></annotation>"""
    with pytest.raises(DataError, match="DOCTYPE"):
        parse_annotation(xxe.encode())


def test_entity_expansion_bomb_is_refused():
    bomb = '<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)) + "]><annotation>&j;</annotation>"
    with pytest.raises(DataError, match="DOCTYPE"):
        parse_annotation(bomb.encode())


def test_oversized_file_is_refused_before_parsing():
    with pytest.raises(DataError, match="larger than"):
        parse_annotation(b"<annotation>" + b" " * 70_000 + b"</annotation>")


def _write_dataset(root, files):
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_dataset_rows_labels_and_skips(tmp_path):
    a = annotation_xml("n02085620", "Chihuahua", "n02085620_1", 100, 80, [(0, 0, 50, 40, 0), (10, 10, 90, 70, 0)])
    b = annotation_xml("n02110958", "pug", "n02110958_2", 100, 80, [(5, 5, 60, 60, 0)])
    _write_dataset(tmp_path, {
        "Annotation/n02110958-pug/n02110958_2": b.encode(),
        "Annotation/n02085620-Chihuahua/n02085620_1": a.encode(),
        "Annotation/n02085620-Chihuahua/n02085620_3": a.replace("<xmin>0</xmin>", "<xmin>x</xmin>").encode(),
        "Annotation/n02105855-Shetland_sheepdog/n02105855_2933": b.encode(),  # its photo is missing, as in Kaggle
        "all-dogs/n02085620_1.jpg": b"x", "all-dogs/n02110958_2.jpg": b"x", "all-dogs/n02085620_3.jpg": b"x",
        "all-dogs/n02085620_9.jpg": b"x",  # a photo without annotation
    })
    rows, quality = parse_annotations(tmp_path / "Annotation", tmp_path / "all-dogs")
    assert [(r["image_id"], r["object"], r["breed"], r["label"]) for r in rows] == [
        ("n02085620_1", 0, "Chihuahua", 0), ("n02085620_1", 1, "Chihuahua", 0), ("n02110958_2", 0, "pug", 2)]
    kinds = {s["file"].split("/")[-1]: (s["kind"], s["reason"]) for s in quality["skipped"]}
    assert kinds["n02085620_3"] == ("non-numeric field", "non-numeric <bndbox/xmin> 'x'")
    assert kinds["n02105855_2933"][0] == "annotation without photo"
    assert kinds["n02085620_9.jpg"][0] == "photo without annotation"
    assert quality["annotation_files"] == 4 and quality["objects"] == 3
    with pytest.raises(DataError, match="n02085620_3"):
        parse_annotations(tmp_path / "Annotation", tmp_path / "all-dogs", strict=True)


def test_zip_and_folder_give_the_same_rows(tmp_path):
    a = annotation_xml("n02085620", "Chihuahua", "n02085620_1", 100, 80, [(0, 0, 50, 40, 0)])
    _write_dataset(tmp_path, {"Annotation/n02085620-Chihuahua/n02085620_1": a.encode(), "all-dogs/n02085620_1.jpg": b"x"})
    for name in ("Annotation", "all-dogs"):
        with zipfile.ZipFile(tmp_path / f"{name}.zip", "w") as zf:
            for path in sorted((tmp_path / name).rglob("*")):
                zf.write(path, path.relative_to(tmp_path).as_posix())
    assert parse_annotations(tmp_path / "Annotation.zip", tmp_path / "all-dogs.zip") == parse_annotations(
        tmp_path / "Annotation", tmp_path / "all-dogs")


def test_zip_members_escaping_the_archive_are_skipped_unread(tmp_path):
    good = annotation_xml("n02085620", "Chihuahua", "n02085620_1", 100, 80, [(0, 0, 50, 40, 0)])
    with zipfile.ZipFile(tmp_path / "Annotation.zip", "w") as zf:
        zf.writestr("Annotation/n02085620-Chihuahua/n02085620_1", good)
        zf.writestr("../../etc/n02085620-Chihuahua/n02085620_2", good)
        zf.writestr("/abs/n02085620-Chihuahua/n02085620_3", good)
    with zipfile.ZipFile(tmp_path / "all-dogs.zip", "w") as zf:
        for i in (1, 2, 3):
            zf.writestr(f"all-dogs/n02085620_{i}.jpg", "x")
    rows, quality = parse_annotations(tmp_path / "Annotation.zip", tmp_path / "all-dogs.zip")
    assert [r["image_id"] for r in rows] == ["n02085620_1"]
    unsafe = [s["file"] for s in quality["skipped"] if s["kind"] == "unsafe zip member"]
    assert [f.split(":")[-1] for f in unsafe] == ["../../etc/n02085620-Chihuahua/n02085620_2",
                                                  "/abs/n02085620-Chihuahua/n02085620_3"]
    with pytest.raises(DataError, match="escapes"):
        parse_annotations(tmp_path / "Annotation.zip", tmp_path / "all-dogs.zip", strict=True)
