"""Demo data in the official layout, and crops against an independent PIL computation."""

import io
import re
import zipfile

import numpy as np
import pytest
from PIL import Image

from doggan.data.annotations import parse_annotation, parse_annotations
from conftest import PARAMS, section_config
from doggan.config import load_section
from doggan.data.crops import CropConfig, crop_all, crop_photo
from doggan.data.demo import BREEDS, STANFORD_BREEDS, DemoConfig, demo_photo, demo_plan, identity, write_demo
from doggan.errors import ParamError


def test_demo_photo_follows_the_official_template_and_is_deterministic():
    cfg = section_config(DemoConfig, "demo", n_images=6, n_breeds=3)
    for breed, k in demo_plan(cfg):
        image_id, jpeg, xml = demo_photo(cfg, breed, k)
        assert (image_id, jpeg, xml) == demo_photo(cfg, breed, k)
        assert re.fullmatch(r"n\d{8}_\d+", image_id)
        assert xml.startswith("<annotation>\n\t<folder>") and not xml.endswith("\n") and "<?xml" not in xml
        assert f"<folder>{image_id[1:9]}</folder>" in xml and "\t\t<depth>3</depth>" in xml
        photo = Image.open(io.BytesIO(jpeg))
        ann = parse_annotation(xml.encode())
        assert photo.format == "JPEG" and (ann.width, ann.height) == photo.size
        assert 200 <= photo.width <= 500 and 200 <= photo.height <= 500
        assert 1 <= len(ann.boxes) <= 4 and not any(b.clipped for b in ann.boxes)


def test_demo_writes_the_same_files_with_any_number_of_workers(tmp_path):
    cfg = section_config(DemoConfig, "demo", n_images=12, n_breeds=5)
    one = write_demo(cfg, tmp_path / "one", workers=1)
    two = write_demo(cfg, tmp_path / "two", workers=2)
    assert one == two and len(one) == 12
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    assert len(files) == 24
    assert all((tmp_path / "one" / f).read_bytes() == (tmp_path / "two" / f).read_bytes() for f in files)


def test_demo_draws_each_of_stanford_dogs_120_breeds_with_a_look_of_its_own():
    assert len(STANFORD_BREEDS) == 120 and sorted(f"{synset}-{breed}" for synset, breed, _ in BREEDS) == sorted(STANFORD_BREEDS)
    assert len({identity(look) for *_, look in BREEDS}) == 120
    cfg = section_config(DemoConfig, "demo", n_images=240, n_breeds=120)
    assert demo_plan(cfg)[119:121] == [(119, 0), (0, 1)]
    synset, breed, _ = BREEDS[119]
    image_id, _, xml = demo_photo(cfg, 119, 0)
    assert image_id.startswith(synset) and f"<name>{breed}</name>" in xml
    with pytest.raises(ParamError, match="demo.n_breeds: expected a value <= 120"):
        load_section(DemoConfig, {"demo": {**PARAMS["demo"], "n_breeds": 121}}, "demo")


def gradient_photo(w=120, h=90, mode="RGB", fmt="JPEG"):
    x = np.linspace(0, 255, w)[None, :, None] * np.ones((h, 1, 3))
    x[..., 1] = np.linspace(0, 255, h)[:, None]
    image = Image.fromarray(x.astype(np.uint8))
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, format=fmt)
    return buffer.getvalue()


def test_square_pad_equals_a_padded_pil_crop():
    data = gradient_photo(fmt="PNG")
    cfg = section_config(CropConfig, "crop", size=16, mode="square_pad", draft=False)
    box = (10, 20, 50, 80)  # 40 wide, 60 tall -> 60x60 square centred at (30, 50), rows 20..80, cols 0..60
    (crop,) = crop_photo(data, [box], cfg)
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    expected = Image.fromarray(pixels[20:80, 0:60]).resize((16, 16), Image.Resampling.LANCZOS)
    assert np.array_equal(crop, np.asarray(expected))


def test_stretch_and_center_modes():
    data = gradient_photo(fmt="PNG")
    pixels = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    (stretch,) = crop_photo(data, [(10, 20, 50, 80)], section_config(CropConfig, "crop", size=16, mode="stretch", draft=False))
    assert np.array_equal(stretch, np.asarray(Image.fromarray(pixels[20:80, 10:50]).resize((16, 16), Image.Resampling.LANCZOS)))
    (center,) = crop_photo(data, [(10, 20, 50, 80)], section_config(CropConfig, "crop", size=16, mode="center", draft=False))
    assert np.array_equal(center, np.asarray(Image.fromarray(pixels[30:70, 10:50]).resize((16, 16), Image.Resampling.LANCZOS)))


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGBA"])
def test_grayscale_cmyk_and_png_named_jpg_crop_as_rgb(mode):
    fmt = "PNG" if mode == "RGBA" else "JPEG"
    (crop,) = crop_photo(gradient_photo(mode=mode, fmt=fmt), [(0, 0, 60, 60)], section_config(CropConfig, "crop", size=16))
    assert crop.shape == (16, 16, 3) and crop.dtype == np.uint8


@pytest.mark.parametrize("data, reason", [(b"", "empty file"), (b"GIF89a nonsense", "unreadable image"),
                                          (gradient_photo()[:300], "unreadable image")])
def test_bad_photos_are_skipped_with_a_reason(tmp_path, data, reason):
    (tmp_path / "all-dogs").mkdir()
    (tmp_path / "all-dogs" / "n02085620_1.jpg").write_bytes(data)
    rows = [dict(image_id="n02085620_1", object=0, xmin=0, ymin=0, xmax=60, ymax=60, breed="Chihuahua", label=0)]
    crops, kept, skipped = crop_all(rows, tmp_path / "all-dogs", section_config(CropConfig, "crop", size=16, workers=1))
    assert len(crops) == 0 and kept == [] and reason in skipped[0]["reason"]


def test_draft_decoding_stays_close_to_full_decoding():
    data = gradient_photo(w=1200, h=900)
    box = [(100, 100, 1000, 800)]
    fast = crop_photo(data, box, section_config(CropConfig, "crop", size=64, draft=True)).astype(float)
    full = crop_photo(data, box, section_config(CropConfig, "crop", size=64, draft=False)).astype(float)
    assert np.abs(fast - full).mean() < 3


def test_zip_folder_and_worker_count_give_identical_crops(tmp_path):
    folder = tmp_path / "all-dogs"
    folder.mkdir()
    rows = []
    for i in range(6):
        (folder / f"n02085620_{i}.jpg").write_bytes(gradient_photo(w=100 + 10 * i))
        rows.append(dict(image_id=f"n02085620_{i}", object=0, xmin=5, ymin=5, xmax=80, ymax=70, breed="Chihuahua", label=0))
    with zipfile.ZipFile(tmp_path / "all-dogs.zip", "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"all-dogs/{path.name}")
    a, _, _ = crop_all(rows, folder, section_config(CropConfig, "crop", size=32, workers=1))
    b, _, _ = crop_all(rows, tmp_path / "all-dogs.zip", section_config(CropConfig, "crop", size=32, workers=2))
    assert a.tobytes() == b.tobytes() and len(a) == 6


def _zip_folder(folder, zip_path):
    with zipfile.ZipFile(zip_path, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder.parent).as_posix())
    return zip_path


def test_kaggle_folders_kaggle_zips_and_stanford_layout_give_identical_crops(tmp_path):
    folders = write_demo(section_config(DemoConfig, "demo", n_images=10, n_breeds=3), tmp_path)
    for image_id, folder in folders.items():  # Stanford: Images/n02085620-Chihuahua/n02085620_7.jpg
        (tmp_path / "Images" / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / "Images" / folder / f"{image_id}.jpg").write_bytes((tmp_path / "all-dogs" / f"{image_id}.jpg").read_bytes())
    forms = [(tmp_path / "Annotation", tmp_path / "all-dogs"),
             (_zip_folder(tmp_path / "Annotation", tmp_path / "Annotation.zip"),
              _zip_folder(tmp_path / "all-dogs", tmp_path / "all-dogs.zip")),
             (tmp_path / "Annotation", tmp_path / "Images"),
             (tmp_path / "Annotation.zip", _zip_folder(tmp_path / "Images", tmp_path / "Images.zip"))]
    results = []
    for annotations, images in forms:
        rows, quality = parse_annotations(annotations, images)
        crops, kept, skipped = crop_all(rows, images, section_config(CropConfig, "crop", size=32, workers=1))
        assert quality["skipped"] == [] and len(crops) >= 10
        results.append((crops.tobytes(), [(r["image_id"], r["object"], r["label"]) for r in kept]))
    assert all(r == results[0] for r in results[1:])


def test_the_heldout_split_takes_whole_photos_a_share_of_each_breed_whatever_the_order():
    import pandas as pd

    from doggan.data.crops import heldout_photos

    rows = [(f"{breed}_{p}", o, breed) for breed, photos in (("pug", 20), ("Chihuahua", 10), ("Maltese_dog", 1))
            for p in range(photos) for o in range(1 + p % 3)]  # 1-3 dogs a photo
    table = pd.DataFrame(rows, columns=["image_id", "object", "breed"])
    chosen = heldout_photos(table, 0.1)
    by_breed = {b: {i for i in chosen if i.startswith(b)} for b in ("pug", "Chihuahua", "Maltese_dog")}
    assert {b: len(ids) for b, ids in by_breed.items()} == {"pug": 2, "Chihuahua": 1, "Maltese_dog": 0}  # one photo: kept
    shuffled = table.sample(frac=1, random_state=3)
    others = shuffled[shuffled["breed"] != "Chihuahua"]
    assert heldout_photos(shuffled, 0.1) == chosen  # not the table's order
    assert heldout_photos(others, 0.1) == chosen - by_breed["Chihuahua"]  # not the other breeds
    assert heldout_photos(table, 0.0) == set()
