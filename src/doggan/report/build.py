"""The report people open: reports/index.html and reports/README.md, figures linked relatively.

Inputs are what the pipeline wrote: reports/metrics/<V>.json (scores), reports/yardsticks.json
(the same scores of image sets with a known answer), reports/train/<V>/ (DVCLive: curves, summary, resolved
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

SCORES = {"fid": ("FID", 2), "kid": ("KID", 4), "precision": ("precision", 2), "recall": ("recall", 2),
          "density": ("density", 2), "coverage": ("coverage", 2), "mifid": ("MiFID", 2), "distance": ("memorization distance", 4)}
INTRO = ("FID and KID: distance to the real crops' features (lower is better; KID unbiased, with its spread over "
         "subsets). Precision and density: how many samples look real; recall and coverage: how much of the real "
         "variety is drawn (higher is better, 1 is real). MiFID = FID / (thresholded memorization distance + 1e-15), "
         "as Kaggle scored it. Scores from different feature networks are not comparable.")
YARDSTICK_NOTE = ("Yardsticks: half the real crops, as they are or degraded, scored against the other half on the same "
                  "network. A generator that draws dogs belongs between the shape-kept and the shape-destroyed rows.")
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
        rows.append({"variant": variant, **{key: metrics.get(key) for key in (*SCORES, "kid_std", "network", "n")},
                     "kept_step": train.get("kept_step"), "kept_fid": train.get("kept_fid_rotnet")})
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
        fid = run / "plots" / "metrics" / "fid_rotnet.tsv"
        if fid.is_file():
            data = pd.read_csv(fid, sep="\t")
            twin = ax.twinx()
            twin.plot(data["step"], data["fid_rotnet"], "k--", marker="o", markersize=3)
            twin.set_ylabel("cheap FID (rotnet), dashed")
        ax.set_title(run.name)
        ax.set_xlabel("step")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


def plot_comparison(reports, table, yardsticks, out):
    """Left: cheap FID against images shown for every variant. Right: final FID per variant with
    the yardsticks: the real-vs-real floor, the worst shape-kept and the best shape-destroyed."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    for run in _runs(reports):
        fid = run / "plots" / "metrics" / "fid_rotnet.tsv"
        batch = _read_yaml(run / "params.yaml").get("batch_size")
        if fid.is_file() and batch:
            data = pd.read_csv(fid, sep="\t")
            left.plot(data["step"] * batch / 1000, data["fid_rotnet"], marker="o", markersize=3, label=run.name)
    left.set_xlabel("thousand images shown")
    left.set_ylabel("cheap FID (rotnet, few samples)")
    left.set_title("during training")
    if left.lines:
        left.legend(fontsize=8)
    if len(table):
        right.bar(table["variant"], table["fid"], color="#4c72b0")
        for (label, fid), style in zip(yardstick_lines(yardsticks), ("-", "--", ":")):
            right.axhline(fid, color="k", linestyle=style, linewidth=1, label=f"{label} {fid:.1f}")
        if right.get_legend_handles_labels()[0]:
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


def budget_line(budget):
    """One line on how long the variants trained, and where longer runs are."""
    if budget is None:
        return ""
    return (f"Every variant trained at model.budget {budget:g} (its steps times {budget:g}). `make quality` trains "
            "each at 8 times the demo's budget: the project's docs/quality.md.")


def breeds_caption(record):
    """What the per-breed figure shows, from generate's record: one row per breed, names in order."""
    names = [name.replace("_", " ") for name in record.get("breeds_in_figure", [])]
    if not names:
        return "One row per breed"
    some = f" ({len(names)} of {record['breeds']}, spread over the list; every breed in `doggan serve`)" \
        if record.get("breeds", len(names)) > len(names) else ""
    return f"One row per breed{some}: {', '.join(names)}"


def _scores(row):
    """The score columns of one metrics dict, formatted; KID with its spread."""
    cells = {label: _fmt(row.get(key), digits) for key, (label, digits) in SCORES.items()}
    if row.get("kid_std") is not None:
        cells["KID"] += f" ± {row['kid_std']:.4f}"
    return cells


def results_table(table):
    """The variants' scores, best FID first."""
    rows = [{"variant": r["variant"], **_scores(r), "kept step (cheap FID)": _kept(r["kept_step"], r["kept_fid"])}
            for r in table.sort_values("fid").to_dict("records")]
    return pd.DataFrame(rows)


KIND_ORDER = ("floor", "shape kept", "shape destroyed", "noise", "memoriser")  # metrics.yardsticks.KINDS


def yardstick_cases(yardsticks):
    """{name: scores} of the yardsticks, floor first, then shape kept, shape destroyed, noise, memoriser."""
    cases = {name: case for name, case in yardsticks.items() if isinstance(case, dict)}
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    return dict(sorted(cases.items(), key=lambda item: (rank.get(item[1].get("kind"), len(rank)), item[0])))


def yardstick_table(yardsticks):
    rows = [{"kind": case.get("kind", ""), "yardstick": case.get("label", name), **_scores(case)}
            for name, case in yardstick_cases(yardsticks).items()]
    return pd.DataFrame(rows)


def yardstick_lines(yardsticks):
    """(label, FID) of the real-vs-real floor, the worst shape-kept and the best shape-destroyed yardstick."""
    cases = yardstick_cases(yardsticks).values()
    lines = []
    for kind, pick, label in (("floor", min, "real vs real"), ("shape kept", max, "worst shape kept"),
                              ("shape destroyed", min, "best shape destroyed")):
        fids = [c["fid"] for c in cases if c.get("kind") == kind and c.get("fid") is not None]
        if fids:
            lines.append((label, pick(fids)))
    return lines


def _count(table):
    return f"{int(table['n'].iloc[0]):,}" if len(table) and table["n"].notna().all() else "–"


def render(reports, params_path="params.yaml"):
    """Write index.html, README.md, results.md, losses.png and comparison.png under `reports`."""
    reports = Path(reports)
    table = collect(reports)
    yardsticks = _read_json(reports / "yardsticks.json")
    plot_losses(reports, reports / "losses.png")
    plot_comparison(reports, table, yardsticks, reports / "comparison.png")
    quality, featnet = _read_json(reports / "data_quality.json"), _read_json(reports / "featnet.json")
    # the values, not the file's text: the same page whether DVC passed params.yaml or Snakemake
    # its merged config, which has the values and no comments
    params = (yaml.safe_load(Path(params_path).read_text()) or {}) if Path(params_path).is_file() else {}
    params_text = yaml.safe_dump(params, sort_keys=False) if params else "(params.yaml not found)"
    model = params.get("model", {})

    network, eps = yardsticks.get("network", "–"), yardsticks.get("cosine_eps")
    eps_note = "" if eps is None else (
        f"MiFID's memorization threshold on {network}: eps = {eps:.4g}"
        + (" (Kaggle's)." if network == "inception" else
           ", half the distance at which unseen real crops lie from the others, so real dogs do not count as "
           "memorised and copies of training crops do."))
    counts = ", ".join(f"{k.replace('_', ' ')}: {quality.get(k)}"
                       for k in ("annotation_files", "photos", "objects", "crops", "breeds", "boxes_clipped_to_photo"))
    skipped = pd.DataFrame(list(quality.get("skipped_by_reason", {}).items()) or [("(nothing skipped)", 0)],
                           columns=["skipped because", "count"])
    context = {
        "intro": INTRO, "network": network, "n": _count(table), "results": results_table(table),
        "budget": budget_line(model.get("budget")),
        "yardstick_note": YARDSTICK_NOTE, "yardsticks": yardstick_table(yardsticks), "eps_note": eps_note,
        "featnet_note": (f"featnet (rotnet) tells the turn of held-out crops right {featnet['val_accuracy']:.1%} of the time."
                         if "val_accuracy" in featnet else ""),
        "variants": [{"name": v, "conditional": _conditional(v), "breeds": breeds_caption(_read_json(reports / "generate" / f"{v}.json")),
                      "settings": differences_from_model(_read_yaml(reports / "train" / v / "params.yaml"), model)}
                     for v in table.get("variant", [])],
        "counts": counts, "skipped": skipped, "params_text": params_text.rstrip(),
    }
    for name in ("index.html", "README.md", "results.md"):  # results.md: the tables alone, for the project's README
        write_text(reports / name, TEMPLATES.get_template(f"{name}.j2").render(context))
    return table
