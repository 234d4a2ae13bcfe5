"""Submissions are checked as Kaggle did; a bad zip exits with one line."""

import io
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from doggan.errors import SubmissionError
from doggan.generate import write_submission
from doggan.score import read_submission


def png(size=(64, 64), mode="RGB", fmt="PNG"):
    buffer = io.BytesIO()
    Image.new(mode, size, 128 if mode == "L" else (10, 20, 30, 255)[: len(mode)]).save(buffer, format=fmt)
    return buffer.getvalue()


def make_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_written_submission_reads_back_identically(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 64, 64, 3), dtype=np.uint8)
    write_submission(tmp_path / "s.zip", images)
    assert np.array_equal(read_submission(tmp_path / "s.zip", expected=5), images)
    first = (tmp_path / "s.zip").read_bytes()
    write_submission(tmp_path / "s.zip", images)
    assert (tmp_path / "s.zip").read_bytes() == first  # deterministic bytes


@pytest.mark.parametrize("members, message", [
    ({"a.png": png()}, "1 files, expected exactly 2"),
    ({"a.png": png(), "b.jpg": png(fmt="JPEG")}, "b.jpg is not a .png"),
    ({"a.png": png(), "b.png": png(fmt="JPEG")}, "b.png is JPEG, not PNG"),
    ({"a.png": png(), "b.png": png(size=(32, 32))}, "b.png is 32x32"),
    ({"a.png": png(), "b.png": png(mode="RGBA")}, "b.png has mode RGBA"),
    ({"a.png": png(), "b.png": b"not an image"}, "b.png is not a readable image"),
])
def test_bad_submissions(tmp_path, members, message):
    with pytest.raises(SubmissionError, match=message):
        read_submission(make_zip(tmp_path / "s.zip", members), expected=2)


def test_score_cli_bad_zip_exits_with_one_line(tmp_path):
    (tmp_path / "bad.zip").write_bytes(b"PK nonsense")
    result = subprocess.run([sys.executable, "-m", "doggan.score", str(tmp_path / "bad.zip")], capture_output=True, text=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "not a readable zip" in result.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="torch sees a CUDA GPU here")
def test_score_cli_refuses_device_cuda_without_a_gpu_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "doggan.score", str(tmp_path / "s.zip"), "--device", "cuda"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == "error: device: cuda asked for, but torch sees no CUDA GPU here (use auto or cpu)\n"
