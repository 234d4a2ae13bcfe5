"""The report people open: reports/index.html and reports/README.md, figures linked relatively.

Inputs are what the pipeline wrote: reports/metrics/<V>.json (scores), reports/sanity.json
(real-vs-real floor, memoriser, noise), reports/train/<V>/ (DVCLive: curves, summary, resolved
params), reports/figures/*.png, reports/data_quality.json, reports/featnet.json, and params.yaml.
Both pages come from templates/ with the same tables (pandas to_html and to_markdown). Nothing
here depends on wall time, so the same inputs give the same bytes.
"""

import json
from pathlib import Path

import jinja2
import matplotlib
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from doggan.errors import ParamError  # noqa: E402
from doggan.io import save_figure, write_text  # noqa: E402
from doggan.models import variant_module  # noqa: E402

SANITY = {"real_vs_real": "real vs real (two halves of the crops): the floor",
          "memorizer": "memoriser (training crops resubmitted)", "noise": "uniform noise"}
INTRO = ("MiFID = FID / (thresholded memorization distance + 1e-15), as Kaggle scored it. Scores from "
         "different feature networks are not comparable.")
TEMPLATES = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                               autoescape=jinja2.select_autoescape(["html.j2"]), undefined=jinja2.StrictUndefined,
                               keep_trailing_newline=True)


def _read_json(path):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else {}


def _read_yaml(path):
    path = Path(path)
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def collect(reports):
    """One row per scored variant: its scores and the generator train kept."""
    reports = Path(reports)
    rows = []
    for path in sorted((reports / "metrics").glob("*.json")):
        variant = path.stem
        metrics, train = _read_json(path), _read_json(reports / "train" / variant / "metrics.json")
        rows.append({"variant": variant, "fid": metrics.get("fid"), "distance": metrics.get("distance"),
                     "mifid": metrics.get("mifid"), "network": metrics.get("network"), "n": metrics.get("n"),
                     "kept_step": train.get("kept_step"), "kept_fid": train.get("kept_fid_breednet")})
    return pd.DataFrame(rows)


def differences_from_model(resolved, model):
    """'lr: 0.0005, ngf: 32': the resolved settings of one variant that are not model:'s."""
    def same(a, b):  # DVC may write a float as the string '1e-05'
        try:
            return float(a) == float(b)
        except (TypeError, ValueError):
            return a == b
    return ", ".join(f"{k}: {v}" for k, v in resolved.items() if k not in model or not same(model[k], v))


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
    """Left: cheap FID against images shown for every variant. Right: final FID per variant with
    the real-vs-real floor."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    for run in _runs(reports):
        fid = run / "plots" / "metrics" / "fid_breednet.tsv"
        batch = _read_yaml(run / "params.yaml").get("batch_size")
        if fid.is_file() and batch:
            data = pd.read_csv(fid, sep="\t")
            left.plot(data["step"] * batch / 1000, data["fid_breednet"], marker="o", markersize=3, label=run.name)
    left.set_xlabel("thousand images shown")
    left.set_ylabel("cheap FID (breednet, few samples)")
    left.set_title("during training")
    if left.lines:
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


def _fmt(value, digits=2):
    if value is None or pd.isna(value):
        return "–"
    return f"{value:.{digits}e}" if abs(value) >= 1e7 else f"{value:,.{digits}f}"


def _conditional(variant):
    try:
        return variant_module(variant).Model.conditional
    except ParamError:  # a variant this code no longer knows: show what is there
        return True


def results_table(table, sanity):
    """The variants' scores, then the yardsticks on the same feature network."""
    rows = [{"variant": r.variant, "feature network": r.network, "FID": _fmt(r.fid), "memorization distance": _fmt(r.distance, 4),
             "MiFID": _fmt(r.mifid), "kept step (cheap FID)": _kept(r.kept_step, r.kept_fid)} for r in table.itertuples()]
    rows += [{"variant": label, "feature network": sanity.get("network", "–"), "FID": _fmt(sanity[k]["fid"]),
              "memorization distance": _fmt(sanity[k]["distance"], 4), "MiFID": _fmt(sanity[k]["mifid"]),
              "kept step (cheap FID)": ""} for k, label in SANITY.items() if k in sanity]
    return pd.DataFrame(rows)


def render(reports, params_path="params.yaml"):
    """Write index.html, README.md, losses.png and comparison.png under `reports`."""
    reports = Path(reports)
    table = collect(reports)
    sanity = _read_json(reports / "sanity.json")
    plot_losses(reports, reports / "losses.png")
    plot_comparison(reports, table, sanity, reports / "comparison.png")
    quality, featnet = _read_json(reports / "data_quality.json"), _read_json(reports / "featnet.json")
    params_text = Path(params_path).read_text() if Path(params_path).is_file() else "(params.yaml not found)"
    model = (yaml.safe_load(params_text) or {}).get("model", {}) if Path(params_path).is_file() else {}

    floor, eps_note = sanity.get("real_vs_real", {}), ""
    if floor and floor.get("distance_thresholded") != 1.0:
        eps_note = (f"Real crops lie {floor['distance']:.3f} apart (real vs real), below the threshold eps: on "
                    f"{sanity.get('network')} features even unseen real dogs count as memorised, so every MiFID "
                    "here is FID divided by its distance. Compare FIDs; read MiFIDs with that in mind.")
    counts = ", ".join(f"{k.replace('_', ' ')}: {quality.get(k)}"
                       for k in ("annotation_files", "photos", "objects", "crops", "breeds", "boxes_clipped_to_photo"))
    skipped = pd.DataFrame(list(quality.get("skipped_by_reason", {}).items()) or [("(nothing skipped)", 0)],
                           columns=["skipped because", "count"])
    context = {
        "intro": INTRO, "results": results_table(table, sanity), "eps_note": eps_note,
        "featnet_note": (f"featnet (breednet) validation accuracy {featnet['val_accuracy']:.3f} on held-out crops."
                         if "val_accuracy" in featnet else ""),
        "variants": [{"name": v, "conditional": _conditional(v),
                      "settings": differences_from_model(_read_yaml(reports / "train" / v / "params.yaml"), model)}
                     for v in table.get("variant", [])],
        "counts": counts, "skipped": skipped, "params_text": params_text.rstrip(),
    }
    for name in ("index.html", "README.md"):
        write_text(reports / name, TEMPLATES.get_template(f"{name}.j2").render(context))
    return table
