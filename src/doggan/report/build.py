"""The report people open: reports/index.html and reports/README.md, figures linked relatively.

Inputs are what the pipeline wrote: reports/aggregate.json (every variant over its training seeds, and
the verdicts), reports/metrics/<V>/seed<N>.json (each run's scores), reports/yardsticks.json (the same
scores of image sets with a known answer), reports/train/<V>/seed<N>/ (DVCLive: curves, summary, resolved
params), reports/figures/, reports/data_quality.json, reports/featnet.json, and params.yaml.
Both pages come from templates/ with the same tables (pandas to_html and to_markdown). Nothing
here depends on wall time, so the same inputs give the same bytes.
"""

import json
from collections import Counter
from pathlib import Path

import jinja2
import matplotlib
import numpy as np
import yaml

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from doggan.errors import ParamError  # noqa: E402
from doggan.io import save_figure, write_text  # noqa: E402
from doggan.models import variant_module  # noqa: E402
from doggan.runs import run_path  # noqa: E402

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


def collect(reports, runs):
    """One row per run (variant, seed) of `runs`: its scores and the generator train kept."""
    reports = Path(reports)
    rows = []
    for variant, seed in runs:
        run = run_path(variant, seed)
        metrics, train = _read_json(reports / "metrics" / f"{run}.json"), _read_json(reports / "train" / run / "metrics.json")
        rows.append({"variant": variant, "seed": seed, **{key: metrics.get(key) for key in (*SCORES, "kid_std", "network", "n")},
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
    """The DVCLive folders of every run (train/<V>/seed<N>), with a label for each."""
    folders = sorted(p for p in (Path(reports) / "train").glob("*/seed*") if (p / "plots" / "metrics").is_dir())
    return [(p, f"{p.parent.name} {p.name}") for p in folders]


def plot_losses(reports, out):
    """Loss curves of every variant from DVCLive's TSVs, one panel per variant, cheap FID on a twin axis."""
    runs = _runs(reports)
    columns = min(3, max(1, len(runs)))
    rows = -(-max(1, len(runs)) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.8 * columns, 3.3 * rows), squeeze=False)
    for ax in axes.flat[len(runs):]:
        ax.axis("off")
    for ax, (run, label) in zip(axes.flat, runs):
        for tsv in sorted((run / "plots" / "metrics" / "train").glob("loss*.tsv")):
            data = pd.read_csv(tsv, sep="\t")
            ax.plot(data["step"], data.iloc[:, -1], label=tsv.stem, linewidth=1)
        fid = run / "plots" / "metrics" / "fid_rotnet.tsv"
        if fid.is_file():
            data = pd.read_csv(fid, sep="\t")
            twin = ax.twinx()
            twin.plot(data["step"], data["fid_rotnet"], "k--", marker="o", markersize=3)
            twin.set_ylabel("cheap FID (rotnet), dashed")
        ax.set_title(label)
        ax.set_xlabel("step")
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


def plot_comparison(reports, spread, yardsticks, out):
    """Left: cheap FID against images shown for every run. Right: final FID per variant, a dot per
    training seed, with the yardsticks: the real-vs-real floor, the worst shape-kept and the best
    shape-destroyed."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    for run, label in _runs(reports):
        fid = run / "plots" / "metrics" / "fid_rotnet.tsv"
        batch = _read_yaml(run / "params.yaml").get("batch_size")
        if fid.is_file() and batch:
            data = pd.read_csv(fid, sep="\t")
            left.plot(data["step"] * batch / 1000, data["fid_rotnet"], marker="o", markersize=3, label=label)
    left.set_xlabel("thousand images shown")
    left.set_ylabel("cheap FID (rotnet, few samples)")
    left.set_title("during training")
    if left.lines:
        left.legend(fontsize=8)
    if spread.get("ranking"):
        draw_seeds(right, spread, yardsticks)
        right.set_title("final")
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


def draw_seeds(ax, spread, yardsticks):
    """FID per variant, best mean first: a dot per training seed, the mean as a bar, the first seed's
    resampled draws as a grey range beside it, and the yardsticks as horizontal lines."""
    for x, variant in enumerate(spread["ranking"]):
        entry = spread["variants"][variant]
        fids = entry["fid"]["values"]
        ax.hlines(entry["fid"]["mean"], x - 0.3, x + 0.3, color="#4c72b0", linewidth=2)
        ax.plot([x] * len(fids), fids, "o", color="#4c72b0", alpha=0.8, markersize=5)
        if "resampled" in entry:
            ax.vlines(x + 0.2, entry["resampled"]["fid"]["min"], entry["resampled"]["fid"]["max"], color="grey", linewidth=3)
    for (label, fid), style in zip(yardstick_lines(yardsticks), ("-", "--", ":")):
        ax.axhline(fid, color="k", linestyle=style, linewidth=1, label=f"{label} {fid:.1f}")
    ax.set_xticks(range(len(spread["ranking"])), spread["ranking"], rotation=20)
    ax.set_ylabel("FID")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


def plot_seeds(spread, yardsticks, out):
    """The verdict's evidence: every training seed's FID per variant (dots; grey: the first seed's
    generator drawn again)."""
    fig, ax = plt.subplots(figsize=(7, 4))
    if spread.get("ranking"):
        draw_seeds(ax, spread, yardsticks)
    ax.set_title("FID: a dot per training seed, bar at the mean, grey: one generator redrawn", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out)
    plt.close(fig)


BREED_SCORES = {"breed_top1": ("breed top-1", 2), "breed_top5": ("breed top-5", 2), "breed_kid": ("per-breed KID", 4),
                "cas_top1": ("CAS top-1", 2), "breeds_drawn": ("breeds drawn", 2), "breed_kl": ("KL from the data's mix", 2)}
BREED_NOTE = ("Per breed (doggan/metrics/breeds.py): the breed judge, rotnet's net trained to name breeds on the train "
              "crops, names the breed of each sample. Breed top-1/top-5: the share of a conditional variant's samples of "
              "each breed it names right; per-breed KID: each breed's samples against its train crops, the mean over "
              "breeds; CAS top-1: the judge's net trained on the variant's samples alone, tested on the held-out crops; "
              "breeds drawn: the share of breeds the judge finds at least half as often in the submission as the data "
              "holds them, and KL of the two breed mixes. Read them against the judge's own held-out accuracy (the "
              "ceiling of top-1 and CAS) and the yardsticks below.")


def breed_table(spread):
    """One row per variant, best mean FID first: each per-breed score's mean ± std over seeds ('–': not conditional)."""
    return pd.DataFrame([{"variant": v, **{label: _spread(spread["variants"][v].get(key), digits)
                                           for key, (label, digits) in BREED_SCORES.items()}}
                         for v in spread.get("ranking", [])])


SHOWN_BREEDS = 3
CONFUSION_NOTE = ("Which breeds each conditional variant draws right, and which it confuses (the judge's most frequent "
                  "other name for them):")
BREED_YARDSTICK_NOTE = ("The same scores of held-out crops, with their breeds, with their breeds shuffled (a generator "
                        "that ignores the breed asked for), and of a quarter of the breeds only:")


def confusion_table(spread, reports):
    """One row per conditional variant: the breeds it draws right most often and least often (top-1,
    mean over its seeds), each of the latter with the breed the judge names instead most often over
    the seeds, and the breeds furthest from their crops (per-breed KID, mean over seeds)."""
    rows = []
    for v in spread.get("ranking", []):
        runs = [_read_json(Path(reports) / "breeds" / f"{run_path(v, s)}.json") for s in spread["variants"][v]["seeds"]]
        runs = [r for r in runs if "accuracy" in r]
        if not runs:
            continue
        per_breed = [r["accuracy"]["per_breed"] for r in runs]
        top1 = {b: np.mean([p[b]["top1"] for p in per_breed]) for b in per_breed[0]}
        mistaken = {b: Counter() for b in top1}  # the judge's wrong name, weighted by the share of samples so named
        for p in per_breed:
            for b, scores in p.items():
                if scores["mistaken_for"]:
                    mistaken[b][scores["mistaken_for"]] += scores["mistaken_share"]
        kid = {b: np.mean([r["kid"]["per_breed"][b]["kid"] for r in runs]) for b in runs[0]["kid"]["per_breed"]}
        ranked = sorted(top1, key=top1.get, reverse=True)

        def name(b):
            return b.replace("_", " ")

        def confused(b):
            return f"{name(b)} {top1[b]:.2f}" + (f" (as {name(mistaken[b].most_common(1)[0][0])})" if mistaken[b] else "")

        rows.append({"variant": v, "seeds": len(runs),
                     "drawn right most (top-1)": ", ".join(f"{name(b)} {top1[b]:.2f}" for b in ranked[:SHOWN_BREEDS]),
                     "drawn right least (top-1, named as)": ", ".join(map(confused, ranked[::-1][:SHOWN_BREEDS])),
                     "furthest from their crops (KID)": ", ".join(name(b) for b in sorted(kid, key=kid.get, reverse=True)
                                                                  [:SHOWN_BREEDS])})
    return pd.DataFrame(rows)


def breed_yardstick_table(yardsticks):
    """The per-breed scores of held-out crops as they are, with their breeds shuffled, of a quarter of the breeds."""
    rows = []
    for case in (yardsticks[name] for name in ("real", "shuffled", "quarter") if name in yardsticks):
        scores = {"breed_top1": case["accuracy"]["top1"], "breed_top5": case["accuracy"]["top5"],
                  "breed_kid": case["kid"]["mean"], "breeds_drawn": case["coverage"]["drawn"], "breed_kl": case["coverage"]["kl"]}
        rows.append({"yardstick": case["label"], **{label: _fmt(scores.get(key), digits)
                                                     for key, (label, digits) in BREED_SCORES.items() if key != "cas_top1"}})
    return pd.DataFrame(rows)


def judge_note(judge):
    if "heldout_top1" not in judge:
        return ""
    return (f"The breed judge names the breed of {judge['n_heldout']} held-out crops (which no network trains on) "
            f"right {judge['heldout_top1']:.0%} of the time, within its top 5 {judge['heldout_top5']:.0%} "
            f"({judge['breeds']} breeds, chance {judge['chance_top1']:.0%}): the ceiling of breed top-1 and CAS.")


def plot_breed_accuracy(reports, runs, out):
    """Breeds x conditional variants: the share of each breed's samples the judge names right (first seed)."""
    columns, values, names = [], [], None
    for variant, seed in runs:
        scores = _read_json(Path(reports) / "breeds" / f"{run_path(variant, seed)}.json")
        if "accuracy" in scores:
            per_breed = scores["accuracy"]["per_breed"]
            names = names or list(per_breed)
            columns.append(variant)
            values.append([per_breed.get(b, {}).get("top1", np.nan) for b in names])
    fig, ax = plt.subplots(figsize=(1.6 + 0.9 * max(1, len(columns)), 1.2 + 0.28 * len(names or [0])))
    if columns:
        image = ax.imshow(np.array(values).T, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(range(len(columns)), columns, rotation=20)
        ax.set_yticks(range(len(names)), [n.replace("_", " ") for n in names], fontsize=7)
        fig.colorbar(image, ax=ax, label="breed top-1")
    ax.set_title("samples of each breed named right", fontsize=10)
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
            "each for about 4 minutes at three training seeds, beside pytorch/examples' DCGAN: the project's docs/quality.md.")


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
    """Every run's scores, best FID first."""
    rows = [{"variant": r["variant"], "seed": r["seed"], **_scores(r), "kept step (cheap FID)": _kept(r["kept_step"], r["kept_fid"])}
            for r in table.sort_values("fid").to_dict("records")] if len(table) else []
    return pd.DataFrame(rows)


def _spread(entry, digits):
    """'12.34 ± 0.56' (mean ± std over seeds), or the one value."""
    if entry is None:
        return "–"
    return _fmt(entry["mean"], digits) + (f" ± {_fmt(entry['std'], digits)}" if entry["std"] is not None else "")


def spread_table(spread):
    """One row per variant, best mean FID first: each score's mean ± std over training seeds, every
    seed's FID, the first seed's FID over resampled draws, and the variants it beats by the rule."""
    beaten = {v: [x["worse"] for x in spread.get("verdicts", []) if x["better"] == v] for v in spread.get("ranking", [])}
    rows = []
    for v in spread.get("ranking", []):
        entry = spread["variants"][v]
        resampled = entry.get("resampled", {}).get("fid")
        rows.append({"variant": v, "seeds": len(entry["seeds"]), "FID": _spread(entry["fid"], 2),
                     "FID per seed": ", ".join(_fmt(x, 2) for x in entry["fid"]["values"]),
                     "FID, same generator redrawn": _spread(resampled, 2),
                     **{label: _spread(entry.get(key), digits) for key, (label, digits) in SCORES.items()
                        if key in ("kid", "precision", "recall", "coverage")},
                     "beats": ", ".join(beaten[v]) or "none"})
    return pd.DataFrame(rows)


def verdict_note(spread):
    """What the table's `beats` column means, and what it takes at this many seeds."""
    if not spread.get("ranking"):
        return ""
    seeds = max(len(e["seeds"]) for e in spread["variants"].values())
    note = f"Verdicts on FID (the `beats` column): {spread['rule']}."
    if seeds < 3:
        note += (f" At {seeds} training seed{'s' if seeds > 1 else ''} a variant cannot beat another by this rule: "
                 "`dvc exp run -S 'seeds=[0,1,2]'` trains two more of each.")
    return note


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
    """Write index.html, README.md, results.md, losses.png, comparison.png, seeds.png and breeds.png under `reports`."""
    reports = Path(reports)
    params = (yaml.safe_load(Path(params_path).read_text()) or {}) if Path(params_path).is_file() else {}
    spread, yardsticks = _read_json(reports / "aggregate.json"), _read_json(reports / "yardsticks.json")
    seeds = {v: spread["variants"][v]["seeds"] for v in spread.get("ranking", [])}
    table = collect(reports, [(v, s) for v, vs in seeds.items() for s in vs])
    plot_losses(reports, reports / "losses.png")
    plot_comparison(reports, spread, yardsticks, reports / "comparison.png")
    plot_seeds(spread, yardsticks, reports / "seeds.png")
    plot_breed_accuracy(reports, [(v, vs[0]) for v, vs in seeds.items()], reports / "breeds.png")
    judge = _read_json(reports / "breed_judge.json")
    quality, featnet = _read_json(reports / "data_quality.json"), _read_json(reports / "featnet.json")
    # the values, not the file's text: the same page whether DVC passed params.yaml or Snakemake
    # its merged config, which has the values and no comments
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
        "spread": spread_table(spread), "verdict_note": verdict_note(spread),
        "breed_note": BREED_NOTE, "judge_note": judge_note(judge), "breeds": breed_table(spread), "confusions": confusion_table(spread, reports),
        "confusion_note": CONFUSION_NOTE, "breed_yardstick_note": BREED_YARDSTICK_NOTE,
        "breed_yardsticks": breed_yardstick_table(_read_json(reports / "breed_yardsticks.json")),
        "budget": budget_line(model.get("budget")),
        "yardstick_note": YARDSTICK_NOTE, "yardsticks": yardstick_table(yardsticks), "eps_note": eps_note,
        "featnet_note": (f"featnet (rotnet) tells the turn of held-out crops right {featnet['val_accuracy']:.1%} of the time."
                         if "val_accuracy" in featnet else ""),
        "variants": [{"name": v, "conditional": _conditional(v), "runs": [run_path(v, s) for s in vs],
                      "breeds": breeds_caption(_read_json(reports / "generate" / f"{run_path(v, vs[0])}.json")),
                      "settings": differences_from_model(_read_yaml(reports / "train" / run_path(v, vs[0]) / "params.yaml"), model)}
                     for v, vs in seeds.items()],
        "counts": counts, "skipped": skipped, "params_text": params_text.rstrip(),
    }
    for name in ("index.html", "README.md", "results.md"):  # results.md: the tables alone, for the project's README
        write_text(reports / name, TEMPLATES.get_template(f"{name}.j2").render(context))
    return table
