# One DAG, two drivers: dvc.yaml runs the same commands with the same paths and params keys
# (tests/test_drivers.py holds them equal). `snakemake --cores 4 report` builds everything.
from pathlib import Path

configfile: "params.yaml"

VARIANTS = list(config["variants"])
IMAGES, ANNOTATIONS = config["data"]["images"], config["data"]["annotations"]
REFERENCE = f"data/interim/reference_{config['metric']['network']}.npz"
# Torch steps take 2 cores each (Snakemake exports OMP_NUM_THREADS={threads} to every job and
# doggan.cli.set_threads follows it), so `--cores 4` trains two variants side by side without
# oversubscribing; on a bigger machine raise it with `--set-threads train=8`.
TORCH_THREADS = 2


def P(*keys):
    """Values of params.yaml keys a rule reads: declared, so a changed value reruns the rule."""
    def value(key):
        node = config
        for part in key.split("."):
            node = node[part]
        return node
    return {key: value(key) for key in keys}


def SRC(path):
    """The python files of a source folder (DVC tracks the folder itself)."""
    return sorted(str(p) for p in Path(path).rglob("*.py"))


rule report:
    input:
        "steps/report.py", SRC("src/doggan/report"),
        expand("reports/metrics/{variant}.json", variant=VARIANTS),
        expand("reports/train/{variant}/metrics.json", variant=VARIANTS),
        expand("reports/train/{variant}/plots", variant=VARIANTS),
        expand("reports/figures/{variant}_{kind}.png", variant=VARIANTS, kind=["samples", "breeds"]),
        expand("reports/generate/{variant}.json", variant=VARIANTS),
        "reports/figures/crops.png", "reports/sanity.json", "reports/data_quality.json", "reports/featnet.json",
    output: "reports/index.html", "reports/README.md", "reports/losses.png", "reports/comparison.png"
    params: settings={"params.yaml": config}
    shell: "python steps/report.py --reports reports"


rule demo_data:
    input: "steps/demo_data.py", "src/doggan/data/demo.py"
    output: directory("data/raw/demo/all-dogs"), directory("data/raw/demo/Annotation")
    params: settings=P("demo")
    shell: "python steps/demo_data.py --out data/raw/demo"


rule parse:
    input:
        "steps/parse.py", "src/doggan/data/annotations.py", "src/doggan/data/sources.py",
        images=IMAGES, annotations=ANNOTATIONS,
    output: "data/interim/annotations.csv", "data/interim/parse_quality.json"
    params: settings=P("data.strict")
    shell: "python steps/parse.py --images {input.images} --annotations {input.annotations} --out data/interim/annotations.csv --quality data/interim/parse_quality.json"


rule crop:
    input:
        "steps/crop.py", "src/doggan/data/crops.py",
        "data/interim/annotations.csv", "data/interim/parse_quality.json", images=IMAGES,
    output:
        "data/interim/crops.npy", "data/interim/crops.csv", "reports/data_quality.json", "reports/figures/crops.png"
    params: settings=P("crop", "data.strict")
    threads: config["crop"]["workers"] or workflow.cores
    shell: "python steps/crop.py --images {input.images} --boxes data/interim/annotations.csv --parse-quality data/interim/parse_quality.json --crops data/interim/crops.npy --table data/interim/crops.csv --quality reports/data_quality.json --figure reports/figures/crops.png"


rule featnet:
    input: "steps/featnet.py", "src/doggan/metrics/breednet.py", "data/interim/crops.npy", "data/interim/crops.csv"
    output: "models/featnet.pt", "reports/featnet.json"
    params: settings=P("featnet")
    threads: TORCH_THREADS
    shell: "python steps/featnet.py --crops data/interim/crops.npy --table data/interim/crops.csv --out models/featnet.pt --metrics reports/featnet.json"


rule reference:
    input:
        "steps/reference.py", SRC("src/doggan/metrics"),
        "data/interim/crops.npy", "data/interim/crops.csv", "models/featnet.pt",
    output: REFERENCE, "reports/sanity.json"
    params: settings=P("metric", "generate.n_images")
    threads: TORCH_THREADS
    shell: "python steps/reference.py --crops data/interim/crops.npy --table data/interim/crops.csv --featnet models/featnet.pt --out {output[0]} --sanity {output[1]}"


rule train:
    input:
        "steps/train.py", SRC("src/doggan/models"), SRC("src/doggan/training"),
        "data/interim/crops.npy", "data/interim/crops.csv", "models/featnet.pt",
    output:
        "models/{variant}/generator.pt", "reports/train/{variant}/metrics.json", directory("reports/train/{variant}/plots")
    params: settings=lambda w: P("seed", "model", f"variants.{w.variant}")
    threads: TORCH_THREADS
    shell: "python steps/train.py --variant {wildcards.variant} --crops data/interim/crops.npy --table data/interim/crops.csv --featnet models/featnet.pt --out models/{wildcards.variant}/generator.pt --live reports/train/{wildcards.variant}"


rule generate:
    input: "steps/generate.py", "src/doggan/generate.py", SRC("src/doggan/models"), "models/{variant}/generator.pt"
    output:
        "submissions/{variant}/images.zip", "reports/figures/{variant}_samples.png", "reports/figures/{variant}_breeds.png",
        "reports/generate/{variant}.json",
    params: settings=P("generate")
    threads: TORCH_THREADS
    shell: "python steps/generate.py --generator models/{wildcards.variant}/generator.pt --out submissions/{wildcards.variant}/images.zip --figure reports/figures/{wildcards.variant}_samples.png --breed-figure reports/figures/{wildcards.variant}_breeds.png --record reports/generate/{wildcards.variant}.json"


rule score:
    input:
        "steps/score.py", "src/doggan/score.py", SRC("src/doggan/metrics"),
        "submissions/{variant}/images.zip", "models/featnet.pt", reference=REFERENCE,
    output: "reports/metrics/{variant}.json"
    params: settings=P("metric", "generate.n_images")
    threads: TORCH_THREADS
    shell: "python steps/score.py --submission submissions/{wildcards.variant}/images.zip --reference {input.reference} --featnet models/featnet.pt --out reports/metrics/{wildcards.variant}.json"
