"""A synthetic dataset in Kaggle's exact on-disk layout, so the pipeline runs anywhere.

    all-dogs/<synset>_<k>.jpg
    Annotation/<synset>-<Breed>/<synset>_<k>     (official Stanford Dogs XML template)

Each breed has a look (coat colours, pattern, ears, tail, proportions); each photo puts one to
four dogs of its breed on a varied background, some cut by the photo border. Everything is
drawn from a per-photo RNG seeded by (seed, breed, index): the same params give the same bytes.
"""

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from doggan.config import option
from doggan.parallel import ordered_map

# The 120 breeds of Stanford Dogs, as its annotation folders name them
STANFORD_BREEDS = [
    "n02085620-Chihuahua", "n02085782-Japanese_spaniel", "n02085936-Maltese_dog", "n02086079-Pekinese",
    "n02086240-Shih-Tzu", "n02086646-Blenheim_spaniel", "n02086910-papillon", "n02087046-toy_terrier",
    "n02087394-Rhodesian_ridgeback", "n02088094-Afghan_hound", "n02088238-basset", "n02088364-beagle",
    "n02088466-bloodhound", "n02088632-bluetick", "n02089078-black-and-tan_coonhound",
    "n02089867-Walker_hound", "n02089973-English_foxhound", "n02090379-redbone", "n02090622-borzoi",
    "n02090721-Irish_wolfhound", "n02091032-Italian_greyhound", "n02091134-whippet", "n02091244-Ibizan_hound",
    "n02091467-Norwegian_elkhound", "n02091635-otterhound", "n02091831-Saluki",
    "n02092002-Scottish_deerhound", "n02092339-Weimaraner", "n02093256-Staffordshire_bullterrier",
    "n02093428-American_Staffordshire_terrier", "n02093647-Bedlington_terrier", "n02093754-Border_terrier",
    "n02093859-Kerry_blue_terrier", "n02093991-Irish_terrier", "n02094114-Norfolk_terrier",
    "n02094258-Norwich_terrier", "n02094433-Yorkshire_terrier", "n02095314-wire-haired_fox_terrier",
    "n02095570-Lakeland_terrier", "n02095889-Sealyham_terrier", "n02096051-Airedale", "n02096177-cairn",
    "n02096294-Australian_terrier", "n02096437-Dandie_Dinmont", "n02096585-Boston_bull",
    "n02097047-miniature_schnauzer", "n02097130-giant_schnauzer", "n02097209-standard_schnauzer",
    "n02097298-Scotch_terrier", "n02097474-Tibetan_terrier", "n02097658-silky_terrier",
    "n02098105-soft-coated_wheaten_terrier", "n02098286-West_Highland_white_terrier", "n02098413-Lhasa",
    "n02099267-flat-coated_retriever", "n02099429-curly-coated_retriever", "n02099601-golden_retriever",
    "n02099712-Labrador_retriever", "n02099849-Chesapeake_Bay_retriever",
    "n02100236-German_short-haired_pointer", "n02100583-vizsla", "n02100735-English_setter",
    "n02100877-Irish_setter", "n02101006-Gordon_setter", "n02101388-Brittany_spaniel", "n02101556-clumber",
    "n02102040-English_springer", "n02102177-Welsh_springer_spaniel", "n02102318-cocker_spaniel",
    "n02102480-Sussex_spaniel", "n02102973-Irish_water_spaniel", "n02104029-kuvasz", "n02104365-schipperke",
    "n02105056-groenendael", "n02105162-malinois", "n02105251-briard", "n02105412-kelpie",
    "n02105505-komondor", "n02105641-Old_English_sheepdog", "n02105855-Shetland_sheepdog", "n02106030-collie",
    "n02106166-Border_collie", "n02106382-Bouvier_des_Flandres", "n02106550-Rottweiler",
    "n02106662-German_shepherd", "n02107142-Doberman", "n02107312-miniature_pinscher",
    "n02107574-Greater_Swiss_Mountain_dog", "n02107683-Bernese_mountain_dog", "n02107908-Appenzeller",
    "n02108000-EntleBucher", "n02108089-boxer", "n02108422-bull_mastiff", "n02108551-Tibetan_mastiff",
    "n02108915-French_bulldog", "n02109047-Great_Dane", "n02109525-Saint_Bernard", "n02109961-Eskimo_dog",
    "n02110063-malamute", "n02110185-Siberian_husky", "n02110627-affenpinscher", "n02110806-basenji",
    "n02110958-pug", "n02111129-Leonberg", "n02111277-Newfoundland", "n02111500-Great_Pyrenees",
    "n02111889-Samoyed", "n02112018-Pomeranian", "n02112137-chow", "n02112350-keeshond",
    "n02112706-Brabancon_griffon", "n02113023-Pembroke", "n02113186-Cardigan", "n02113624-toy_poodle",
    "n02113712-miniature_poodle", "n02113799-standard_poodle", "n02113978-Mexican_hairless",
    "n02115641-dingo", "n02115913-dhole", "n02116738-African_hunting_dog",
]

# (synset, breed, look) drawn by hand: the demo's first breeds. Colours RGB; patterns: solid, piebald,
# saddle, mask, tricolor, mottled.
HAND_DRAWN = [
    ("n02085620", "Chihuahua",           dict(coat=(214, 170, 110), second=(240, 215, 170), pattern="solid",    ears="pointy", tail="straight", body=(1.0, 0.55), legs=0.45, head=0.42, snout=0.18, scale=0.75)),
    ("n02085936", "Maltese_dog",         dict(coat=(245, 243, 236), second=(225, 220, 210), pattern="solid",    ears="floppy", tail="curled",   body=(1.1, 0.62), legs=0.35, head=0.40, snout=0.20, scale=0.75)),
    ("n02086910", "papillon",            dict(coat=(250, 248, 240), second=(140, 80, 40),   pattern="piebald",  ears="pointy", tail="curled",   body=(1.05, 0.5), legs=0.45, head=0.36, snout=0.22, scale=0.8)),
    ("n02088466", "bloodhound",          dict(coat=(150, 75, 40),   second=(70, 40, 25),    pattern="saddle",   ears="floppy", tail="straight", body=(1.6, 0.6),  legs=0.65, head=0.40, snout=0.45, scale=1.1)),
    ("n02093859", "Kerry_blue_terrier",  dict(coat=(105, 115, 130), second=(80, 88, 100),   pattern="solid",    ears="floppy", tail="short",    body=(1.3, 0.6),  legs=0.7,  head=0.36, snout=0.38, scale=1.0)),
    ("n02107312", "miniature_pinscher",  dict(coat=(30, 25, 25),    second=(175, 95, 45),   pattern="saddle",   ears="pointy", tail="short",    body=(1.2, 0.45), legs=0.7,  head=0.30, snout=0.30, scale=0.85)),
    ("n02108422", "bull_mastiff",        dict(coat=(200, 150, 95),  second=(40, 30, 25),    pattern="mask",     ears="floppy", tail="straight", body=(1.6, 0.85), legs=0.6,  head=0.50, snout=0.22, scale=1.2)),
    ("n02110958", "pug",                 dict(coat=(222, 190, 140), second=(35, 30, 30),    pattern="mask",     ears="round",  tail="curled",   body=(1.1, 0.7),  legs=0.4,  head=0.45, snout=0.10, scale=0.8)),
    ("n02113799", "standard_poodle",     dict(coat=(25, 25, 28),    second=(45, 45, 50),    pattern="solid",    ears="floppy", tail="short",    body=(1.3, 0.55), legs=0.95, head=0.34, snout=0.40, scale=1.1)),
    ("n02107683", "Bernese_mountain_dog", dict(coat=(25, 22, 22),   second=(245, 242, 235), pattern="tricolor", ears="floppy", tail="straight", body=(1.6, 0.75), legs=0.65, head=0.44, snout=0.30, scale=1.2)),
    ("n02110806", "basenji",             dict(coat=(190, 100, 45),  second=(248, 245, 238), pattern="piebald",  ears="pointy", tail="curled",   body=(1.3, 0.5),  legs=0.75, head=0.34, snout=0.30, scale=0.95)),
    ("n02116738", "African_hunting_dog", dict(coat=(140, 110, 70),  second=(30, 25, 20),    pattern="mottled",  ears="round",  tail="straight", body=(1.5, 0.6),  legs=0.8,  head=0.38, snout=0.32, scale=1.05)),
]

COATS = [(25, 22, 22), (245, 243, 236), (235, 215, 170), (222, 190, 140), (200, 150, 95), (175, 90, 45),
         (100, 60, 35), (130, 130, 135), (105, 115, 130), (215, 165, 80), (120, 85, 50), (150, 110, 70)]
PATTERNS, EARS, TAILS = ("solid", "piebald", "saddle", "mask", "tricolor", "mottled"), ("pointy", "floppy", "round"), \
    ("straight", "curled", "short")


def procedural_look(synset, taken):
    """A look of real dog colours and shapes, drawn from the synset's number (the same for every
    seed of the demo), whose colours, pattern, ears and tail no look in `taken` has."""
    rng = np.random.default_rng(int(synset[1:]))
    while True:
        coat, second = rng.choice(len(COATS), 2, replace=False)
        look = dict(coat=COATS[coat], second=COATS[second], pattern=str(rng.choice(PATTERNS)), ears=str(rng.choice(EARS)),
                    tail=str(rng.choice(TAILS)), body=(round(rng.uniform(1.0, 1.7), 2), round(rng.uniform(0.45, 0.85), 2)),
                    legs=round(rng.uniform(0.35, 0.95), 2), head=round(rng.uniform(0.30, 0.50), 2),
                    snout=round(rng.uniform(0.10, 0.45), 2), scale=round(rng.uniform(0.75, 1.2), 2))
        if identity(look) not in taken:
            return look


def identity(look):
    """What tells looks apart at a glance (a solid coat shows no second colour)."""
    second = None if look["pattern"] == "solid" else look["second"]
    return look["coat"], second, look["pattern"], look["ears"], look["tail"]


def all_breeds():
    """(synset, breed, look) of all 120 breeds: the hand-drawn ones first, then the others in synset order."""
    breeds, taken = list(HAND_DRAWN), {identity(look) for _, _, look in HAND_DRAWN}
    drawn = {f"{synset}-{breed}" for synset, breed, _ in HAND_DRAWN}
    for name in STANFORD_BREEDS:
        if name not in drawn:
            synset, breed = name.split("-", 1)
            look = procedural_look(synset, taken)
            taken.add(identity(look))
            breeds.append((synset, breed, look))
    return breeds


BREEDS = all_breeds()

TEMPLATE_OBJECT = """\t<object>
\t\t<name>{breed}</name>
\t\t<pose>Unspecified</pose>
\t\t<truncated>{truncated}</truncated>
\t\t<difficult>0</difficult>
\t\t<bndbox>
\t\t\t<xmin>{xmin}</xmin>
\t\t\t<ymin>{ymin}</ymin>
\t\t\t<xmax>{xmax}</xmax>
\t\t\t<ymax>{ymax}</ymax>
\t\t</bndbox>
\t</object>
"""

TEMPLATE = """<annotation>
\t<folder>{folder}</folder>
\t<filename>{image_id}</filename>
\t<source>
\t\t<database>ImageNet database</database>
\t</source>
\t<size>
\t\t<width>{width}</width>
\t\t<height>{height}</height>
\t\t<depth>3</depth>
\t</size>
\t<segment>0</segment>
{objects}</annotation>"""  # the official files end without a newline


@dataclass(frozen=True)
class DemoConfig:
    n_images: int = option("photos to draw", low=1)
    n_breeds: int = option(f"breeds (at most {len(BREEDS)})", low=1, high=len(BREEDS))
    seed: int     = option("seed of the generator", low=0)
    quality: int  = option("JPEG quality", low=1, high=100)


def annotation_xml(synset, breed, image_id, width, height, boxes):
    """The official Stanford Dogs annotation text for one photo; boxes are (xmin, ymin, xmax, ymax, truncated)."""
    objects = "".join(
        TEMPLATE_OBJECT.format(breed=breed, truncated=int(t), xmin=x0, ymin=y0, xmax=x1, ymax=y1) for x0, y0, x1, y1, t in boxes
    )
    return TEMPLATE.format(folder=synset[1:], image_id=image_id, width=width, height=height, objects=objects)


def _jitter(rng, colour, amount=18):
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in colour)


def draw_dog(look, rng, unit):
    """One dog facing right on a transparent layer; `unit` is pixels per body-length unit."""
    body_w, body_h = look["body"][0] * unit, look["body"][1] * unit
    legs, head, snout = look["legs"] * unit, look["head"] * unit, look["snout"] * unit
    W, H = int(body_w + 2 * head + snout + unit * 0.8), int(body_h + legs + 2 * head + unit * 0.4)
    layer = Image.new("RGBA", (W, H), (0, 0, 0, 0))
    d = ImageDraw.Draw(layer)
    coat, second = _jitter(rng, look["coat"]), _jitter(rng, look["second"])
    leg_colour = second if look["pattern"] in ("saddle", "tricolor") else coat
    head_colour = second if look["pattern"] == "saddle" and rng.random() < 0.3 else coat
    bx0, by0 = unit * 0.4, head * 1.2
    bx1, by1 = bx0 + body_w, by0 + body_h
    leg_w = max(2.0, body_w * 0.11)
    for fx in (0.08, 0.25, 0.68, 0.85):  # back legs, front legs
        x = bx0 + fx * body_w + rng.normal(0, leg_w * 0.15)
        d.rounded_rectangle([x, by1 - body_h * 0.3, x + leg_w, by1 + legs], radius=leg_w / 3, fill=leg_colour)
    # tail
    tx, ty = bx0 + body_w * 0.04, by0 + body_h * 0.25
    if look["tail"] == "curled":
        r = body_h * 0.3
        d.arc([tx - 2 * r, ty - 2 * r, tx, ty], 0, 300, fill=coat, width=max(2, int(leg_w * 0.7)))
    else:
        length = body_h * (0.4 if look["tail"] == "short" else 0.9)
        d.line([tx, ty, tx - length * 0.8, ty - length * rng.uniform(0.2, 0.8)], fill=coat, width=max(2, int(leg_w * 0.6)))
    d.ellipse([bx0, by0, bx1, by1], fill=coat)
    pattern = look["pattern"]
    if pattern == "piebald":
        for _ in range(rng.integers(2, 4)):
            px, py = rng.uniform(bx0, bx1), rng.uniform(by0, by1)
            r = rng.uniform(0.15, 0.3) * body_w
            d.ellipse([px - r, py - r * 0.7, px + r, py + r * 0.7], fill=second)
    elif pattern == "saddle":
        d.chord([bx0, by0, bx1, by1 + body_h * 0.2], 180, 360, fill=second if head_colour == coat else coat)
    elif pattern == "tricolor":
        d.ellipse([bx1 - body_w * 0.3, by0 + body_h * 0.35, bx1, by1], fill=second)
    elif pattern == "mottled":
        for _ in range(rng.integers(10, 20)):
            px, py = rng.uniform(bx0, bx1), rng.uniform(by0, by1)
            r = rng.uniform(0.04, 0.1) * body_w
            d.ellipse([px - r, py - r, px + r, py + r], fill=second if rng.random() < 0.6 else (235, 225, 200))
    # head, snout, ears
    hx, hy = bx1 - head * 0.3, by0 - head * 0.1
    ear_colour = second if pattern in ("mask", "saddle") else coat
    if look["ears"] == "floppy":
        d.ellipse([hx - head * 0.9, hy - head * 0.6, hx - head * 0.3, hy + head * 0.9], fill=ear_colour)
    d.ellipse([hx - head, hy - head, hx + head, hy + head], fill=head_colour)
    mask_colour = second if pattern == "mask" else (second if pattern == "tricolor" else head_colour)
    d.ellipse([hx + head * 0.4, hy - head * 0.15, hx + head * 0.9 + snout, hy + head * 0.55], fill=mask_colour)
    if look["ears"] == "pointy":
        d.polygon([(hx - head * 0.7, hy - head * 0.5), (hx - head * 0.5, hy - head * 1.9), (hx + head * 0.1, hy - head * 0.8)], fill=ear_colour)
    elif look["ears"] == "round":
        d.ellipse([hx - head * 0.9, hy - head * 1.3, hx - head * 0.2, hy - head * 0.5], fill=ear_colour)
    eye = max(1.5, head * 0.12)
    d.ellipse([hx + head * 0.3 - eye, hy - head * 0.35 - eye, hx + head * 0.3 + eye, hy - head * 0.35 + eye], fill=(15, 12, 10))
    nx = hx + head * 0.9 + snout
    d.ellipse([nx - eye * 1.3, hy - eye, nx + eye * 0.3, hy + eye * 1.2], fill=(10, 8, 8))
    # shading: darker belly and legs, like light from above
    shade = Image.new("L", (W, H), 0)
    ImageDraw.Draw(shade).rectangle([0, by0 + body_h * 0.6, W, H], fill=55)
    rgb = Image.composite(Image.new("RGBA", (W, H), (0, 0, 0, 255)), layer, shade.filter(ImageFilter.GaussianBlur(unit * 0.1)))
    rgb.putalpha(layer.getchannel("A"))
    return rgb


def draw_background(rng, width, height):
    """Grass-and-sky, floor-and-wall, or plain studio, with clutter and sensor noise."""
    kind = rng.choice(["outdoor", "indoor", "studio"])
    top = np.array(_jitter(rng, {"outdoor": (140, 180, 225), "indoor": (205, 190, 165), "studio": (190, 190, 195)}[kind], 30))
    bottom = np.array(_jitter(rng, {"outdoor": (80, 135, 60), "indoor": (130, 95, 65), "studio": (150, 150, 155)}[kind], 30))
    horizon = rng.uniform(0.35, 0.65) * height
    y = np.arange(height)[:, None, None]
    t = np.clip((y - horizon) / (0.08 * height) + 0.5, 0, 1)
    img = (top * (1 - t) + bottom * t) * np.ones((1, width, 1))
    img += rng.normal(0, 6, (height, width, 1)) * 0.5 + rng.normal(0, 4, (height, width, 3))
    canvas = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(canvas)
    for _ in range(rng.integers(1, 6)):
        x, yy = rng.uniform(0, width), rng.uniform(0, height)
        w, h = rng.uniform(0.05, 0.3) * width, rng.uniform(0.05, 0.3) * height
        colour = _jitter(rng, (bottom * 0.7 + 40).astype(int), 40)
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x, yy, x + w, yy + h], fill=colour)
    return canvas


def draw_photo(look, rng):
    """A photo (PIL RGB) and its dog boxes [(xmin, ymin, xmax, ymax, truncated)] in 0-based pixel edges."""
    # sizes like ImageNet's: mostly 500 px on the long side (real mean 437x385, box short side median 246)
    long, short = 500, int(rng.integers(280, 421))
    width, height = [(long, short), (short, long), (int(rng.integers(200, 501)), short)][rng.choice(3, p=[0.6, 0.3, 0.1])]
    photo = draw_background(rng, width, height)
    n_dogs = int(rng.choice([1, 2, 3, 4], p=[0.7, 0.18, 0.08, 0.04]))
    boxes = []
    for _ in range(n_dogs):
        share = rng.uniform(0.75, 1.25) / np.sqrt(n_dogs)
        unit = float(share * min(width, height) / (1.6 * look["body"][0]) * look["scale"])
        dog = draw_dog(look, rng, unit)
        if rng.random() < 0.5:
            dog = dog.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        dog = dog.rotate(rng.normal(0, 4), resample=Image.Resampling.BILINEAR, expand=True)
        # 15% of dogs are cut by the border, like real photos
        if rng.random() < 0.15:
            x = int(rng.choice([-dog.width // 4, width - 3 * dog.width // 4]))
        else:
            x = int(rng.integers(0, max(1, width - dog.width)))
        y = int(rng.integers(max(0, height - dog.height - height // 3), max(1, height - dog.height) + 1))
        photo.paste(dog, (x, y), dog)
        x0, y0, x1, y1 = dog.getchannel("A").getbbox()
        box = (max(x + x0, 0), max(y + y0, 0), min(x + x1, width), min(y + y1, height))
        if box[2] - box[0] > 4 and box[3] - box[1] > 4:
            boxes.append((*box, box != (x + x0, y + y0, x + x1, y + y1)))
    if not boxes:  # every dog fell outside: draw one centred
        return draw_photo(look, rng)
    return photo.filter(ImageFilter.GaussianBlur(0.5)), boxes


def demo_photo(cfg, breed_index, k):
    """(image_id, jpeg bytes, annotation text) of photo k of one breed."""
    synset, breed, look = BREEDS[breed_index]
    rng = np.random.default_rng([cfg.seed, breed_index, k])
    photo, boxes = draw_photo(look, rng)
    image_id = f"{synset}_{1000 + k}"
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=cfg.quality)
    return image_id, buffer.getvalue(), annotation_xml(synset, breed, image_id, photo.width, photo.height, boxes)


def demo_plan(cfg):
    """(breed_index, k) of every photo: breeds take turns so any n_images is balanced."""
    return [(i % cfg.n_breeds, i // cfg.n_breeds) for i in range(cfg.n_images)]


def _planned_photo(job):
    cfg, (breed_index, k) = job
    return breed_index, demo_photo(cfg, breed_index, k)


def write_demo(cfg, root, progress=None, workers=1):
    """Write the dataset in Kaggle's layout under `root` (all-dogs/, Annotation/<synset>-<Breed>/);
    returns {image_id: breed folder name}. progress: optional iterable wrapper (e.g. tqdm).
    workers: processes drawing photos; every photo has its own RNG, so any count writes the same bytes."""
    root = Path(root)
    jobs = [(cfg, planned) for planned in demo_plan(cfg)]
    folders = {}
    photos = ordered_map(_planned_photo, jobs, workers)
    for breed_index, (image_id, jpeg, xml) in progress(photos, total=len(jobs)) if progress else photos:
        synset, breed, _ = BREEDS[breed_index]
        folder = f"{synset}-{breed}"
        (root / "all-dogs").mkdir(parents=True, exist_ok=True)
        (root / "all-dogs" / f"{image_id}.jpg").write_bytes(jpeg)
        (root / "Annotation" / folder).mkdir(parents=True, exist_ok=True)
        (root / "Annotation" / folder / image_id).write_text(xml)
        folders[image_id] = folder
    return folders
