"""The report people open: reports/index.html and reports/README.md, figures linked relatively.

Inputs are what the pipeline wrote: reports/metrics/<V>.json (scores), reports/sanity.json
(real-vs-real floor, memoriser, noise), reports/train/<V>/ (DVCLive), reports/generate/<V>.json,
reports/figures/*.png, reports/data_quality.json, reports/featnet.json, and params.yaml.
"""

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from doggan.errors import ParamError  # noqa: E402
from doggan.io import save_figure, write_text  # noqa: E402
from doggan.models import variant_module  # noqa: E402

SANITY = {"real_vs_real": "real vs real (two halves of the crops): the floor",
          "memorizer": "memoriser (training crops resubmitted)", "noise": "uniform noise"}


def _read_json(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def collect(reports):
    """One row per scored variant: metrics, network, training and generation figures."""
    reports = Path(reports)
    rows = []
    for path in sorted((reports / "metrics").glob("*.json")):
        variant = path.stem
        metrics, train = _read_json(path), _read_json(reports / "train" / variant / "metrics.json")
        rows.append({"variant": variant, "fid": metrics.get("fid"), "distance": metrics.get("distance"),
                     "mifid": metrics.get("mifid"), "network": metrics.get("network"), "n": metrics.get("n"),
                     "train_seconds": train.get("train_seconds"), "images_per_second": train.get("images_per_second"),
                     "kept_step": train.get("kept_step"), "kept_fid": train.get("kept_fid_breednet")})
    return pd.DataFrame(rows)


def _kept(step, fid):
    """'1200 (45.3)': the step whose generator train kept, and its cheap FID."""
    if step is None or step != step:
        return "–"
    return f"{int(step)} ({_fmt(fid)})" if fid is not None and fid == fid else str(int(step))


def _runs(reports):
    return sorted(p for p in (Path(reports) / "train").glob("*") if (p / "plots" / "metrics").is_dir())


def plot_losses(reports, out):
    """Loss curves of every variant from DVCLive's TSVs, one panel per variant, cheap FID on a twin axis."""
    runs = _runs(reports)
    columns = min(3, max(1, len(runs)))
    rows = -(-max(1, len(runs)) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 3.3 * rows), squeeze=False)
    for ax in axes.flat[len(runs):]:
        ax.axis("off")
    for ax, run in zip(axes.flat, runs):
        for tsv in sorted((run / "plots" / "metrics" / "train").glob("loss*.tsv")):
            data = pd.read_csv(tsv, sep="\t")
            ax.plot(data["step"], data.iloc[:, -1], label=tsv.stem, linewidth=1)
        fid = run / "plots" / "metrics" / "fid_breednet.tsv"
        if fid.is_file():
            data = pd.read_csv(fid, sep="\t")
            twin = ax.twinx()
            twin.plot(data["step"], data["fid_breednet"], "k--", marker="o", markersize=3)
            twin.set_ylabel("cheap FID (breednet), dashed")
        ax.set_title(run.name)
        ax.set_xlabel("step")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


def plot_comparison(reports, table, sanity, out):
    """Left: cheap FID against training time for every variant. Right: final FID per variant
    with the real-vs-real floor."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    for run in _runs(reports):
        fid = run / "plots" / "metrics" / "fid_breednet.tsv"
        seconds = _read_json(run / "metrics.json").get("train_seconds")
        if fid.is_file() and seconds:
            data = pd.read_csv(fid, sep="\t")
            left.plot(data["step"] / data["step"].max() * seconds / 60, data["fid_breednet"], marker="o", markersize=3,
                      label=run.name)
    left.set_xlabel("training minutes")
    left.set_ylabel("cheap FID (breednet, few samples)")
    left.set_title("during training")
    left.legend(fontsize=8)
    if len(table):
        right.bar(table["variant"], table["fid"], color="#4c72b0")
        floor = sanity.get("real_vs_real", {}).get("fid")
        if floor is not None:
            right.axhline(floor, color="k", linestyle="--", label=f"real vs real {floor:.1f}")
            right.legend(fontsize=8)
        right.set_ylabel(f"FID ({table['network'].iloc[0]}, {int(table['n'].iloc[0]):,} images)")
        right.set_title("final")
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


def stage_times(reports, variants):
    """(stage, seconds) from the timings each stage records in its own json."""
    reports = Path(reports)
    quality = _read_json(reports / "data_quality.json")
    rows = [("parse", quality.get("parse_seconds")), ("crop", quality.get("crop_seconds")),
            ("featnet", _read_json(reports / "featnet.json").get("seconds")),
            ("reference", _read_json(reports / "sanity.json").get("seconds"))]
    for v in variants:
        rows += [(f"train@{v}", _read_json(reports / "train" / v / "metrics.json").get("train_seconds")),
                 (f"generate@{v}", _read_json(reports / "generate" / f"{v}.json").get("seconds")),
                 (f"score@{v}", _read_json(reports / "metrics" / f"{v}.json").get("seconds"))]
    return rows


def _fmt(value, digits=2):
    if value is None or pd.isna(value):
        return "–"
    return f"{value:.{digits}e}" if abs(value) >= 1e7 else f"{value:,.{digits}f}"


def _conditional(variant):
    try:
        return variant_module(variant).Model.conditional
    except ParamError:  # a variant this code no longer knows: show what is there
        return True


def render(reports, params_path="params.yaml"):
    """Write index.html, README.md, losses.png and comparison.png under `reports`."""
    reports = Path(reports)
    table = collect(reports)
    sanity = _read_json(reports / "sanity.json")
    plot_losses(reports, reports / "losses.png")
    plot_comparison(reports, table, sanity, reports / "comparison.png")
    quality, featnet = _read_json(reports / "data_quality.json"), _read_json(reports / "featnet.json")
    variants = list(table["variant"]) if len(table) else []
    params_text = Path(params_path).read_text() if Path(params_path).is_file() else "(params.yaml not found)"

    header = ["variant", "feature network", "FID", "memorization distance", "MiFID", "training (s)", "images/s",
              "kept step (cheap FID)"]
    body = [[r.variant, r.network, _fmt(r.fid), _fmt(r.distance, 4), _fmt(r.mifid), _fmt(r.train_seconds, 0),
             _fmt(r.images_per_second, 0), _kept(r.kept_step, r.kept_fid)] for r in table.itertuples()]
    body += [[label, sanity.get("network", "–"), _fmt(sanity[k]["fid"]), _fmt(sanity[k]["distance"], 4),
              _fmt(sanity[k]["mifid"]), "", "", ""] for k, label in SANITY.items() if k in sanity]
    counts = {k: quality.get(k) for k in ("annotation_files", "photos", "objects", "crops", "breeds", "boxes_clipped_to_photo")}
    skipped = quality.get("skipped_by_reason", {})
    eps_note = ""
    floor = sanity.get("real_vs_real", {})
    if floor and floor.get("distance_thresholded") != 1.0:
        eps_note = (f"Real crops lie {floor['distance']:.3f} apart (real vs real), below the threshold eps: on "
                    f"{sanity.get('network')} features even unseen real dogs count as memorised, so every MiFID "
                    "here is FID divided by its distance. Compare FIDs; read MiFIDs with that in mind.")
    featnet_note = (f"featnet (breednet) validation accuracy {featnet['val_accuracy']:.3f} on held-out crops."
                    if "val_accuracy" in featnet else "")
    times = stage_times(reports, variants)

    md = ["# Generative dog images: results", "",
          "MiFID = FID / (thresholded memorization distance + 1e-15), as Kaggle scored it. Scores from "
          "different feature networks are not comparable; the last three rows are yardsticks on the same network.",
          "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in body]
    md += ["", eps_note, "", featnet_note, "", "![comparison](comparison.png)", "",
           "## Training curves", "", "![losses](losses.png)", ""]
    for v in variants:
        md += [f"## {v}", "", f"![{v} samples](figures/{v}_samples.png)", ""]
        if _conditional(v):
            md += ["One row per breed:", "", f"![{v} per breed](figures/{v}_breeds.png)", ""]
    md += ["## Data", "", "![crops](figures/crops.png)", "",
           ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()) + ".", "",
           "| skipped because | count |", "|---|---|"]
    md += [f"| {k} | {v} |" for k, v in skipped.items()] or ["| (nothing skipped) | 0 |"]
    md += ["", "## Stage times (this run)", "", "| stage | seconds |", "|---|---|"]
    md += [f"| {s} | {_fmt(t, 1)} |" for s, t in times]
    md += ["", "## Params of this run", "", "```yaml", params_text.rstrip(), "```", ""]
    write_text(reports / "README.md", "\n".join(line for line in md if line is not None))

    esc = html.escape

    def html_table(head, rows, cls=""):
        return (f"<table class='{cls}'><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead><tbody>"
                + "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>" for r in rows) + "</tbody></table>")

    def figure(src, caption):
        return f"<figure><img src='{esc(src)}' alt='{esc(caption)}'><figcaption>{esc(caption)}</figcaption></figure>"

    sections = "".join(
        f"<section><h2>{esc(v)}</h2><div class='pair'>{figure(f'figures/{v}_samples.png', 'samples')}"
        + (figure(f"figures/{v}_breeds.png", "one row per breed") if _conditional(v) else "")
        + "</div></section>" for v in variants)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Generative dog images: results</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1150px; color: #222; padding: 0 1rem; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} th, td {{ border: 1px solid #ccc; padding: .35rem .7rem; text-align: right; }}
th {{ background: #f2f2f2; }} td:first-child, td:nth-child(2) {{ text-align: left; }}
table.results tr:nth-last-child(-n+3) {{ color: #666; font-style: italic; }}
img {{ max-width: 100%; image-rendering: pixelated; }} .pair {{ display: flex; gap: 1rem; flex-wrap: wrap; align-items: flex-start; }}
figure {{ margin: 0; }} figcaption {{ color: #666; font-size: .9rem; }} .note {{ color: #555; max-width: 60rem; }}
pre {{ background: #f7f7f7; padding: .8rem; overflow-x: auto; font-size: .85rem; }}
</style></head><body>
<h1>Generative dog images: results</h1>
<p class="note">MiFID = FID / (thresholded memorization distance + 1e-15), as Kaggle scored it. Scores from different
feature networks are not comparable; the grey rows are yardsticks on the same network.</p>
{html_table(header, body, "results")}
<p class="note">{esc(eps_note)} {esc(featnet_note)}</p>
{figure("comparison.png", "cheap FID while training, and final FID against the real-vs-real floor")}
<h2>Training curves</h2>{figure("losses.png", "losses per step (DVCLive), cheap FID dashed")}
{sections}
<h2>Data</h2>{figure("figures/crops.png", "training crops")}
<p>{esc(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in counts.items()))}.</p>
{html_table(["skipped because", "count"], list(skipped.items()) or [("(nothing skipped)", 0)])}
<h2>Stage times (this run)</h2>{html_table(["stage", "seconds"], [(s, _fmt(t, 1)) for s, t in times])}
<h2>Params of this run</h2><pre>{esc(params_text)}</pre>
</body></html>
"""
    write_text(reports / "index.html", page)
    return table
