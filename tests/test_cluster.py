"""`make cluster-test`: profiles/slurm on a real one-node SLURM cluster that this file starts on
localhost (Debian's slurm-wlm and munge, as root) and stops. Every rule runs as a SLURM job that
completes, the scores equal a local `snakemake --cores 2` run's, and a train job requeued mid-run
(as a preempting scheduler does) resumes from its checkpoint to the same generator bytes.
`make test` leaves this file out (marker `slurm`): it needs root and takes minutes."""

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from conftest import make_project, project_env, run

pytestmark = pytest.mark.slurm

RULES = {"demo_data", "parse", "crop", "featnet", "reference", "breed_judge", "train", "generate", "score", "breeds",
         "resample", "aggregate", "report"}
STEPS = 400  # ~6 s of training on 2 cores: time enough to requeue train@dcgan mid-run
# Client commands and the jobs' nested `srun` read the default path: the slurm executor's job step
# drops SLURM_CONF with every other SLURM_* variable (snakemake-executor-plugin-slurm issue 164).
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
OURS = "# one-node test cluster of doggan's tests/test_cluster.py; removed when it stops\n"


def one_node(profile):
    """Command-line settings that fit the profile to this node, which has 2 CPUs and no GPU where the
    profile asks a GPU per train job; all else it asks stays (these settings replace the profile's
    whole entries, so they repeat the rest). Torch jobs ask params.yaml's `threads` (2) CPUs. No slurmdbd here, so `sacct`, the
    plugin's default, knows no jobs: squeue reports them (finished ones for MinJobAge, 300 s). Ask first
    after 3 s rather than 40 (the plugin waits 10 s longer at each ask that finds no job done, and 3 s
    again after one that does), as most jobs here take 5-8 s, and keep every job's log for the checks below."""
    resources = [f"{rule}:{name}={value}" for rule, asks in profile["set-resources"].items()
                 for name, value in asks.items() if name != "gpu"]
    return ["--set-resources", *resources,
            "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "3",
            "--slurm-keep-successful-logs"]


def cluster_project(root):
    """The tiny pipeline with one variant whose training runs long enough to be requeued."""
    make_project(root)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["variants"] = {"dcgan": params["variants"]["dcgan"]}
    params["model"].update(steps=STEPS, checkpoint_every=10, fid_every=100, log_every=50)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def slurm_conf(folder):
    host = socket.gethostname().split(".")[0]
    memory_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20  # as slurmd counts it
    return OURS + f"""ClusterName=doggan
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={folder}/munge/socket
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
# end a job's processes by process group (no cgroups to set up); proctrack/linuxproc follows parent
# ids and lost a requeued job's snakemake, which catches SIGTERM and outlived the shell above it
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
# without slurmdbd, finished jobs go to this file, which `sacct -c` reads
JobCompType=jobcomp/filetxt
JobCompLoc={folder}/jobs.txt
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs=2 RealMemory={memory_mb} State=UNKNOWN
PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def slurm_command(*args):
    return subprocess.run(args, check=True, capture_output=True, text=True, timeout=30).stdout


def answer(*args):
    """A client command's output without its header; None while slurmctld does not answer."""
    result = subprocess.run([*args, "--noheader"], capture_output=True, text=True, timeout=30)
    return result.stdout.strip() if result.returncode == 0 else None


def wait_until(condition, seconds=60, every=1.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(every)
    return condition()


def start_daemons(folder):
    """munged, slurmctld and slurmd in the foreground, so that their pids are these processes'."""
    munge = folder / "munge"
    commands = [["munged", "--foreground", f"--socket={munge}/socket", f"--key-file={munge}/key",
                 f"--pid-file={munge}/pid", f"--log-file={munge}/log", f"--seed-file={munge}/seed"],
                ["slurmctld", "-D"], ["slurmd", "-D"]]
    with open(folder / "daemons.log", "w") as log:
        for command in commands:
            yield subprocess.Popen(command, stdout=log, stderr=log)
            time.sleep(1)  # munged's socket, then slurmctld's port, before the next one needs it


def stop(daemons):
    if len(daemons) == 3:  # a failed test may leave jobs behind: end them while their slurmd is there
        subprocess.run(["scancel", "--user", "root"], capture_output=True, timeout=30)
        wait_until(lambda: answer("squeue") == "", seconds=30)
    for process in reversed(daemons):  # slurmd, slurmctld, munged
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def slurm():
    """A one-node cluster on localhost; afterwards its daemons stopped by their pids, its config removed."""
    missing = [c for c in ("munged", "slurmctld", "slurmd", "sbatch", "sacct") if shutil.which(c) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not found: `make cluster-test` installs Debian's slurm-wlm and munge",
                    pytrace=False)
    if os.geteuid() != 0:
        pytest.fail("slurmd starts jobs as their owners, so it runs as root: run `make cluster-test` as root",
                    pytrace=False)
    if SYSTEM_CONF.exists() and not SYSTEM_CONF.read_text().startswith(OURS):
        pytest.fail(f"{SYSTEM_CONF} exists: this machine has a SLURM of its own, which the test would replace",
                    pytrace=False)
    # munged wants every folder above its socket searchable by all, which pytest's folders are not
    folder = Path(tempfile.mkdtemp(prefix="doggan-slurm-"))
    folder.chmod(0o711)
    for name in ("munge", "state", "spool"):
        (folder / name).mkdir(mode=0o711)
    (folder / "munge/key").write_bytes(os.urandom(1024))
    (folder / "munge/key").chmod(0o600)
    SYSTEM_CONF.parent.mkdir(exist_ok=True)
    SYSTEM_CONF.write_text(slurm_conf(folder))
    daemons = []
    try:
        daemons.extend(start_daemons(folder))
        assert wait_until(lambda: answer("sinfo", "-o", "%T") == "idle"), \
            "the node did not come up; the daemons' output ends:\n" + (folder / "daemons.log").read_text()[-2000:]
        yield folder
    finally:
        stop(daemons)
        SYSTEM_CONF.unlink()
        shutil.rmtree(folder)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    root = cluster_project(tmp_path_factory.mktemp("local"))
    run("snakemake --cores 2 report", root)
    return root


def requeue_training(root, snakemake):
    """Requeue train@dcgan-0 once it has written a checkpoint, as a preempting scheduler would; returns its job id."""
    assert wait_until(lambda: (root / "models/dcgan/seed0/checkpoint.pt").exists() or snakemake.poll() is not None,
                      seconds=600, every=0.05), "train@dcgan-0 wrote no checkpoint in 10 minutes"
    assert snakemake.poll() is None, "snakemake ended before train@dcgan-0 wrote a checkpoint"
    jobs = dict(line.split() for line in slurm_command("squeue", "-h", "-o", "%k %i").splitlines())
    job = next(job for name, job in jobs.items() if name.startswith("rule_train_wildcards_dcgan"))
    slurm_command("scontrol", "requeue", job)
    # SLURM holds a requeued job for two minutes; a test has not got them
    assert wait_until(lambda: answer("squeue", "-o", "%T", "-j", job) == "PENDING"), "the requeued job is not pending"
    slurm_command("scontrol", "update", f"jobid={job}", "StartTime=now")
    return job


@pytest.fixture(scope="module")
def cluster_run(slurm, tmp_path_factory):
    root = cluster_project(tmp_path_factory.mktemp("cluster"))
    with open(root / "snakemake.log", "w") as log:
        profile = yaml.safe_load((root / "profiles/slurm/config.yaml").read_text())
        snakemake = subprocess.Popen(["snakemake", "--profile", "profiles/slurm", "report", *one_node(profile)],
                                     cwd=root, env=project_env(), stdout=log, stderr=subprocess.STDOUT)
        try:
            requeued = requeue_training(root, snakemake)
            snakemake.wait(timeout=600)
        finally:
            if snakemake.poll() is None:
                snakemake.kill()
    output = (root / "snakemake.log").read_text()
    assert snakemake.returncode == 0, output[-4000:]
    return root, requeued


def completion_records(*job_ids):
    """(job id, state, work dir) per line of the job completion log, oldest first."""
    out = slurm_command("sacct", "--completion", "--parsable2", "--noheader", "--format=JobID,State,WorkDir",
                        "--jobs", ",".join(job_ids))
    return [tuple(line.split("|")) for line in out.splitlines()]


def slurm_jobs(root):
    """{SLURM job id: rule} from the executor's job logs: .snakemake/slurm_logs/rule_<rule>/[<wildcards>/]<id>.log"""
    logs = (root / ".snakemake/slurm_logs").glob("rule_*/**/*.log")
    return {log.stem: log.relative_to(root / ".snakemake/slurm_logs").parts[0][len("rule_"):] for log in logs}


def processes_in(folder):
    """Pids of the processes whose working directory is `folder` or inside it."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except OSError:  # ended meanwhile
            continue
        if cwd == folder or folder in cwd.parents:
            pids.append(pid)
    return pids


def test_every_rule_ran_as_a_slurm_job_that_completed(cluster_run):
    root, _ = cluster_run
    jobs = slurm_jobs(root)
    assert set(jobs.values()) == RULES
    assert len(jobs) == len(RULES)  # one variant, one seed: one job per rule
    final = {job: (state, workdir) for job, state, workdir in completion_records(*jobs)}  # the last record wins
    assert final == {job: ("COMPLETED", str(root)) for job in jobs}


def test_the_cluster_report_has_the_local_runs_scores(cluster_run, local_run):
    root, _ = cluster_run
    for path in ["reports/metrics/dcgan/seed0.json", "submissions/dcgan/seed0/images.zip"]:  # the generator: below
        assert (root / path).read_bytes() == (local_run / path).read_bytes(), path
    assert json.loads((root / "reports/metrics/dcgan/seed0.json").read_text())["fid"] > 0
    assert "dcgan" in (root / "reports/README.md").read_text()


def test_a_requeued_train_job_resumes_from_its_checkpoint_to_the_same_generator(cluster_run, local_run):
    root, job = cluster_run
    states = [state for _, state, _ in completion_records(job)]
    assert len(states) == 2 and states[-1] == "COMPLETED", states  # requeued once, then done
    log = next((root / ".snakemake/slurm_logs/rule_train").glob(f"**/{job}.log")).read_text()
    step = int(re.search(rf"train dcgan: resuming from step (\d+) of {STEPS}", log).group(1))
    assert 0 < step < STEPS
    assert processes_in(root) == []  # nothing of the killed run lives on
    assert (root / "models/dcgan/seed0/generator.pt").read_bytes() == (local_run / "models/dcgan/seed0/generator.pt").read_bytes()
