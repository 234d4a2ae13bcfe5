"""The report people open: reports/index.html and reports/README.md, figures linked relatively.

Inputs are what the pipeline wrote: reports/metrics/<V>.json, reports/train/<V>/ (DVCLive),
reports/figures/*.png, reports/data_quality.json, reports/featnet.json.
"""

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from doggan.io import save_figure, write_text  # noqa: E402


def _read_json(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def collect(reports):
    """One row per scored variant: metrics, network, training time."""
    reports = Path(reports)
    rows = []
    for path in sorted((reports / "metrics").glob("*.json")):
        variant = path.stem
        metrics = _read_json(path)
        train = _read_json(reports / "train" / variant / "metrics.json")
        rows.append({
            "variant": variant,
            "fid": metrics.get("fid"),
            "distance": metrics.get("distance"),
            "mifid": metrics.get("mifid"),
            "network": metrics.get("network"),
            "n": metrics.get("n"),
            "train_seconds": train.get("train_seconds"),
        })
    return pd.DataFrame(rows)


def plot_losses(reports, out):
    """Loss curves of every variant from DVCLive's TSVs, one panel per variant."""
    reports = Path(reports)
    runs = sorted(p for p in (reports / "train").glob("*") if (p / "plots" / "metrics").is_dir())
    fig, axes = plt.subplots(1, max(1, len(runs)), figsize=(4.5 * max(1, len(runs)), 3.2), squeeze=False)
    for ax, run in zip(axes[0], runs):
        for tsv in sorted((run / "plots" / "metrics" / "train").glob("loss*.tsv")):
            data = pd.read_csv(tsv, sep="\t")
            ax.plot(data["step"], data.iloc[:, -1], label=tsv.stem, linewidth=1)
        fid = run / "plots" / "metrics" / "fid_breednet.tsv"
        if fid.is_file():
            data = pd.read_csv(fid, sep="\t")
            twin = ax.twinx()
            twin.plot(data["step"], data["fid_breednet"], "k--", marker="o", markersize=3, label="cheap FID")
            twin.set_ylabel("cheap FID (breednet)")
        ax.set_title(run.name)
        ax.set_xlabel("step")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


def _fmt(value, digits=2):
    return "–" if value is None or pd.isna(value) else f"{value:.{digits}f}"


def render(reports):
    """Write index.html, README.md and losses.png under `reports`."""
    reports = Path(reports)
    table = collect(reports)
    plot_losses(reports, reports / "losses.png")
    quality = _read_json(reports / "data_quality.json")
    featnet = _read_json(reports / "featnet.json")
    header = ["variant", "FID", "memorization distance", "MiFID", "feature network", "images", "training time (s)"]
    body = [
        [r.variant, _fmt(r.fid), _fmt(r.distance, 4), _fmt(r.mifid), r.network, str(r.n), _fmt(r.train_seconds, 0)]
        for r in table.itertuples()
    ]
    variants = list(table["variant"]) if len(table) else []
    counts = {k: quality.get(k) for k in ("annotation_files", "photos", "objects", "crops", "breeds")}
    skipped = quality.get("skipped_by_reason", {})
    notes = (f"featnet (breednet) validation accuracy: {_fmt(featnet.get('val_accuracy'), 3)}"
             if featnet else "")

    md = ["# Generative dog images: results", "",
          "MiFID = FID / (thresholded memorization distance + 1e-15), as Kaggle scored it. "
          "Scores from different feature networks are not comparable.", "",
          "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in body]
    md += ["", f"Data: {', '.join(f'{k} {v}' for k, v in counts.items())}. Skipped: "
           + (", ".join(f"{k}: {v}" for k, v in skipped.items()) or "none") + ".", "", notes, "",
           "## Crops", "", "![crops](figures/crops.png)", "", "## Training curves", "", "![losses](losses.png)", ""]
    for v in variants:
        md += [f"## {v}", "", f"![{v} samples](figures/{v}_samples.png)", "",
               "One row per breed:", "", f"![{v} per breed](figures/{v}_breeds.png)", ""]
    write_text(reports / "README.md", "\n".join(md))

    esc = html.escape
    rows_html = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in body)
    sections = "".join(
        f"<section><h2>{esc(v)}</h2><div class='pair'><figure><img src='figures/{esc(v)}_samples.png' alt='{esc(v)} samples'>"
        f"<figcaption>samples</figcaption></figure><figure><img src='figures/{esc(v)}_breeds.png' alt='{esc(v)} per breed'>"
        f"<figcaption>one row per breed</figcaption></figure></div></section>"
        for v in variants
    )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Generative dog images: results</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; margin: 1rem 0; }} th, td {{ border: 1px solid #ccc; padding: .35rem .7rem; text-align: right; }}
th {{ background: #f2f2f2; }} td:first-child, td:nth-child(5) {{ text-align: left; }}
img {{ max-width: 100%; image-rendering: pixelated; }} .pair {{ display: flex; gap: 1rem; flex-wrap: wrap; }}
figure {{ margin: 0; }} figcaption {{ color: #666; font-size: .9rem; }} .note {{ color: #555; }}
</style></head><body>
<h1>Generative dog images: results</h1>
<p class="note">MiFID = FID / (thresholded memorization distance + 1e-15), as Kaggle scored it.
Scores from different feature networks are not comparable.</p>
<table><thead><tr>{''.join(f'<th>{esc(h)}</th>' for h in header)}</tr></thead><tbody>{rows_html}</tbody></table>
<p>Data: {esc(', '.join(f'{k} {v}' for k, v in counts.items()))}. Skipped: {esc(', '.join(f'{k}: {v}' for k, v in skipped.items()) or 'none')}.
{esc(notes)}</p>
<h2>Crops</h2><img src="figures/crops.png" alt="crops">
<h2>Training curves</h2><img src="losses.png" alt="loss curves">
{sections}
</body></html>
"""
    write_text(reports / "index.html", page)
    return table
