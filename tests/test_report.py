"""The report renders every part from pipeline-shaped inputs; headless Chromium shows a real page."""

import json
import subprocess

import numpy as np
import torch
import yaml
from PIL import Image

from doggan.metrics.breeds import summary
from doggan.metrics.spread import aggregate
from doggan.report.build import render

from conftest import headless_chromium


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# per seed, per breed: top-1, the judge's most frequent other name, the share of samples it names so
PER_BREED = [{"pug": (0.5, "basset", 0.3), "beagle": (0.8, None, 0.0), "basset": (0.2, "pug", 0.5), "papillon": (0.6, "beagle", 0.2)},
             {"pug": (0.3, "beagle", 0.4), "beagle": (1.0, None, 0.0), "basset": (0.4, "pug", 0.3), "papillon": (0.6, "pug", 0.3)}]
BREED_KID = {"pug": 0.1, "beagle": 0.01, "basset": 0.3, "papillon": 0.05}


def fake_reports(root):
    """What the stages write, for two variants (one unconditional) at two training seeds, with known numbers."""
    reports = root / "reports"
    runs = {}
    for i, variant in enumerate(["biggan", "dcgan"]):
        for seed in (0, 1):
            run = f"{variant}/seed{seed}"
            runs.setdefault(variant, {})[seed] = {
                "fid": 50.0 - i + 2 * seed, "distance": 0.2, "distance_thresholded": 1.0, "mifid": 50.0 - i + 2 * seed,
                "cosine_eps": 0.01, "kid": 0.0123, "kid_std": 0.0004, "precision": 0.61, "recall": 0.52, "density": 0.43,
                "coverage": 0.34, "network": "rotnet", "n": 10000}
            write(reports / "metrics" / f"{run}.json", json.dumps(runs[variant][seed]))
            write(reports / "train" / run / "metrics.json", json.dumps({"kept_step": 2, "kept_fid_rotnet": 120.0}))
            resolved = {"lr": [0.0005, 0.0002][i], "batch_size": 32, ["g_ch", "ngf"][i]: [4, 8][i]}
            write(reports / "train" / run / "params.yaml", yaml.safe_dump(resolved))
            write(reports / "train" / run / "plots" / "metrics" / "train" / "loss_d.tsv", "step\tloss_d\n1\t1.0\n2\t0.8\n")
            write(reports / "train" / run / "plots" / "metrics" / "fid_rotnet.tsv", "step\tfid_rotnet\n1\t300\n2\t120\n")
            write(reports / "generate" / f"{run}.json", json.dumps({"n_images": 10000}))
            conditional = variant == "biggan"
            breed_scores = {"coverage": {"drawn": 0.5 + 0.25 * seed, "kl": 0.2}} | ({
                "accuracy": {"top1": 0.6 + 0.1 * seed, "top5": 0.9, "per_breed": {
                    b: {"top1": top1, "top5": 1.0, "mistaken_for": wrong, "mistaken_share": share}
                    for b, (top1, wrong, share) in PER_BREED[seed].items()}},
                "kid": {"mean": 0.05, "worst": ["basset", "pug", "papillon"],
                        "per_breed": {b: {"kid": kid + 0.01 * seed} for b, kid in BREED_KID.items()}},
                "cas": {"top1": 0.4, "top5": 0.8}} if conditional else {})
            write(reports / "breeds" / f"{run}.json", json.dumps(breed_scores))
            runs[variant][seed] |= summary(breed_scores)
            for kind in ("samples", "breeds", "neighbours"):
                (reports / "figures" / variant).mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.random.default_rng(i).integers(0, 255, (66, 130, 3), dtype=np.uint8)).save(
                    reports / "figures" / f"{run}_{kind}.png")
    redrawn = {"biggan": [{**runs["biggan"][0], "fid": 50.5}], "dcgan": [{**runs["dcgan"][0], "fid": 49.5}]}
    write(reports / "aggregate.json", json.dumps(aggregate(runs, redrawn)))
    write(reports / "breed_judge.json", json.dumps({"heldout_top1": 0.83, "heldout_top5": 0.99, "chance_top1": 0.125,
                                                    "n_train": 800, "n_heldout": 92, "breeds": 8}))
    case = {"accuracy": {"top1": 0.83, "top5": 0.99}, "kid": {"mean": 0.001}, "coverage": {"drawn": 1.0, "kl": 0.01}}
    write(reports / "breed_yardsticks.json", json.dumps({
        "quarter": {**case, "label": "held-out crops of a quarter of the breeds", "coverage": {"drawn": 0.25, "kl": 1.38}},
        "real": {**case, "label": "held-out crops, their breeds"},
        "shuffled": {**case, "label": "held-out crops, breeds shuffled", "accuracy": {"top1": 0.12, "top5": 0.6}}}))
    Image.fromarray(np.full((66, 66, 3), 128, np.uint8)).save(reports / "figures" / "crops.png")
    yardsticks = {name: {"kind": kind, "label": label, "fid": fid, "distance": d, "mifid": m, "kid": 0.001 * fid,
                         "kid_std": 0.0001, "precision": 0.5, "recall": 0.5, "density": 0.5, "coverage": 0.5}
                  for name, kind, label, fid, d, m in [
                      ("real_vs_real", "floor", "real crops, one half against the other", 8.5, 0.03, 8.5),
                      ("mild_blur", "shape kept", "real crops blurred a little", 20.0, 0.03, 20.0),
                      ("heavy_blur", "shape destroyed", "real crops blurred a lot", 300.0, 0.03, 300.0),
                      ("noise", "noise", "uniform noise", 900.0, 0.5, 900.0),
                      ("memorizer", "memoriser", "training crops resubmitted, against all crops", 0.4, 0.0, 4e14)]}
    write(reports / "yardsticks.json", json.dumps({"network": "rotnet", "cosine_eps": 0.0123, **yardsticks}))
    write(reports / "data_quality.json", json.dumps({"annotation_files": 10, "photos": 10, "objects": 12, "crops": 11,
                                                     "breeds": 3, "skipped_by_reason": {"box below crop.min_size": 1},
                                                     }))
    write(reports / "featnet.json", json.dumps({"val_accuracy": 0.9}))
    write(reports / "timings" / "train@dcgan-0.json", json.dumps({"seconds": 60.0}))
    write(root / "params.yaml", "seeds: [0, 1]\nmodel:\n  lr: 0.0002\n  batch_size: 32\n")
    return reports


def test_report_has_every_part(tmp_path):
    reports = fake_reports(tmp_path)
    render(reports, tmp_path / "params.yaml")
    md = (reports / "README.md").read_text()
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in md.splitlines() if line.startswith("|")]
    variants = [row[0] for row in rows if row[0] in ("biggan", "dcgan")]
    # best FID first: over seeds, per breed, then every run (49, 50, 51, 52); biggan alone draws breeds
    assert variants == ["dcgan", "biggan", "dcgan", "biggan", "biggan", "dcgan", "biggan", "dcgan", "biggan"]
    # per breed: biggan's means over seeds (top-1 0.6 and 0.7), dcgan's coverage alone (unconditional)
    assert ["biggan", "0.65 ± 0.07", "0.90 ± 0.00", "0.0500 ± 0.0000", "0.40 ± 0.00", "0.62 ± 0.18", "0.20 ± 0.00"] in rows
    assert ["dcgan", "–", "–", "–", "–", "0.62 ± 0.18", "0.20 ± 0.00"] in rows
    # which breeds biggan draws right, over its two seeds: top-1 means, the wrong name of most weight (pug: basset 0.3,
    # beagle 0.4), the largest mean KID; dcgan, unconditional, has no row
    assert ["biggan", "2", "beagle 0.90, papillon 0.60, pug 0.40", "basset 0.30 (as pug), pug 0.40 (as beagle), "
            "papillon 0.60 (as pug)", "basset, pug, papillon"] in rows
    yardstick_rows = [row[0] for row in rows if row[0].startswith("held-out crops")]
    assert yardstick_rows == ["held-out crops, their breeds", "held-out crops, breeds shuffled",
                              "held-out crops of a quarter of the breeds"]
    assert ["biggan", "0", "50.00", "0.0123 ± 0.0004", "0.61", "0.52", "0.43", "0.34", "50.00", "0.2000", "2 (120.00)"] in rows
    # over seeds: mean ± std (50 and 52: 51 ± 1.41), each seed, the first seed redrawn (50 and 50.5), no verdict at 2 seeds
    assert ["biggan", "2", "51.00 ± 1.41", "50.00, 52.00", "50.25 ± 0.35", "0.0123 ± 0.0000", "0.61 ± 0.00",
            "0.52 ± 0.00", "0.34 ± 0.00", "none"] in rows
    assert [row[0] for row in rows if len(row) == 10 and row[1] == "2"] == ["dcgan", "biggan"]  # best mean first
    assert ["memoriser", "training crops resubmitted, against all crops", "0.40", "0.0004 ± 0.0001", "0.50", "0.50",
            "0.50", "0.50", "4.00e+14", "0.0000"] in rows
    assert ["box below crop.min_size", "1"] in rows
    for expected in ["Feature network: rotnet; 10,000 generated images", "shape destroyed", "uniform noise",
                     "figures/biggan/seed0_breeds.png", "figures/biggan/seed1_samples.png", "lr: 0.0002",
                     "not distinguishable", "At 2 training seeds a variant cannot beat another",
                     "right 83% of the time, within its top 5 99% (8 breeds, chance 12%)", "figures/dcgan/seed0_neighbours.png",
                     "Trained with what differs from `model:`: g_ch: 4, lr: 0.0005.",  # biggan
                     "Trained with what differs from `model:`: ngf: 8.",  # dcgan, at model's lr and batch size
                     "right 90.0% of the time", "eps = 0.0123, half the distance"]:
        assert expected in md, expected
    assert "figures/dcgan/seed0_breeds.png" not in md  # dcgan is unconditional: no per-breed grid
    page = (reports / "index.html").read_text()
    for src in ["comparison.png", "losses.png", "seeds.png", "breeds.png", "figures/crops.png",
                "figures/biggan/seed0_samples.png", "figures/biggan/seed0_neighbours.png"]:
        assert f'src="{src}"' in page and (reports / src).is_file(), src
    assert "g_ch: 4, lr: 0.0005" in page


def test_report_bytes_do_not_depend_on_wall_times(tmp_path):
    """Timings live in reports/timings (no stage reads them): a run that differs only in its wall
    times gives the same report, so `dvc repro` after `snakemake` reruns nothing."""
    reports = fake_reports(tmp_path)
    render(reports, tmp_path / "params.yaml")
    first = {name: (reports / name).read_bytes() for name in ("index.html", "README.md", "losses.png", "comparison.png", "seeds.png")}
    write(reports / "timings" / "train@dcgan-0.json", json.dumps({"seconds": 61.0}))
    render(reports, tmp_path / "params.yaml")
    assert first == {name: (reports / name).read_bytes() for name in first}


def test_report_renders_in_headless_chromium(tmp_path):
    chromium = headless_chromium()
    reports = fake_reports(tmp_path)
    render(reports, tmp_path / "params.yaml")
    shot = tmp_path / "shot.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1200,1600", (reports / "index.html").as_uri()],
                   check=True, capture_output=True, timeout=120)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(float)
    not_white = (pixels < 235).any(axis=2)
    assert not_white.mean() > 0.05  # text, tables and figures, not a blank page
    assert pixels.std() > 20
    assert not_white[:, 600:].any()  # the figures reach the right half: images loaded, not just text


def test_a_per_breed_figure_shows_every_breed_of_a_few_and_twelve_spread_over_stanfords_120():
    from doggan.generate import breeds_in_figure
    from doggan.report.build import breeds_caption

    assert breeds_in_figure(8).tolist() == list(range(8))
    rows = breeds_in_figure(120)
    assert len(rows) == 12 and rows[0] == 0 and rows[-1] == 119 and set(np.diff(rows)) <= {10, 11}
    assert breeds_caption({"breeds_in_figure": ["pug", "toy_poodle"], "breeds": 2}) == "One row per breed: pug, toy poodle"
    assert breeds_caption({"breeds_in_figure": ["pug", "toy_poodle"], "breeds": 120}).startswith(
        "One row per breed (2 of 120, spread over the list; every breed in `doggan serve`): pug, toy poodle")
