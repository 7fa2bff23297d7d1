"""fastMRI knee HDF5 volumes (small files made here with the real layout) -> 128x128 in [0, 1]."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from cli_runner import run_cli
from genprior.data.fastmri import load_fastmri, parse_slices, split_by_volume
from genprior.data.io import load_images


def make_volume(path, n_slices=24, h=40, w=36, key="reconstruction_rss", acquisition="CORPD_FBK", seed=0, esc=False):
    g = np.random.default_rng(seed)
    volume = (g.random((n_slices, h, w)) * 1e-4).astype(np.float32)  # fastMRI magnitudes are tiny
    volume[np.arange(n_slices), h // 2, w // 2] = 1e-3 * (1 + np.arange(n_slices))  # slice id at the centre
    with h5py.File(path, "w") as f:
        f.create_dataset(key, data=volume)
        if esc:
            f.create_dataset("reconstruction_esc", data=volume * 2)
        f.create_dataset("kspace", data=np.zeros((n_slices, 4, 4), dtype=np.complex64))
        if acquisition is not None:
            f.attrs["acquisition"] = acquisition
    return volume


@pytest.fixture
def knees(tmp_path):
    d = tmp_path / "knee"
    d.mkdir()
    for i in range(4):
        make_volume(d / f"file{i}.h5", seed=i)
    make_volume(d / "fatsat.h5", acquisition="CORPDFS_FBK")
    return d


def test_central_slices_resized_and_rescaled(knees):
    data = load_fastmri(knees, size=16)
    assert data.images.shape == (32, 1, 16, 16) and data.images.dtype == np.float32  # 4 volumes x slices 12..19
    assert data.slices[:8] == list(range(12, 20)) and data.files[0] == "file0.h5"
    assert data.skipped == {"fatsat.h5": "acquisition 'CORPDFS_FBK'"}
    peaks = data.images.reshape(32, -1).max(1)
    np.testing.assert_allclose(peaks, 1.0, rtol=1e-6)
    assert data.images.min() >= 0


def test_default_size_is_128_and_centre_slices(knees):
    data = load_fastmri(knees, slices="centre:4", acquisition=None)
    assert data.images.shape == (20, 1, 128, 128)
    assert data.slices[:4] == [10, 11, 12, 13]


def test_esc_fallback_and_explicit_key(tmp_path):
    esc_only = make_volume(tmp_path / "single.h5", key="reconstruction_esc")
    data = load_fastmri(tmp_path, size=8, slices="0:2")
    assert data.images.shape == (2, 1, 8, 8)
    make_volume(tmp_path / "single.h5", esc=True)  # both: rss is preferred, --key picks esc
    rss = load_fastmri(tmp_path, size=8, slices="0:2").images
    esc = load_fastmri(tmp_path, size=8, slices="0:2", key="reconstruction_esc").images
    np.testing.assert_allclose(rss, esc, rtol=1e-5)  # esc = 2 rss; both divided by their max
    assert esc_only.shape == (24, 40, 36)


def test_file_without_the_key_names_the_file(tmp_path):
    with h5py.File(tmp_path / "odd.h5", "w") as f:
        f.create_dataset("kspace", data=np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match=r"odd\.h5: no 'reconstruction_rss' or 'reconstruction_esc' dataset \(found: kspace\)"):
        load_fastmri(tmp_path)


def test_other_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"fastMRI folder not found: {tmp_path / 'none'}"):
        load_fastmri(tmp_path / "none")
    with pytest.raises(ValueError, match="no fastMRI .h5 files"):
        load_fastmri(tmp_path)
    (tmp_path / "broken.h5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"broken\.h5: not a readable HDF5 file"):
        load_fastmri(tmp_path)
    (tmp_path / "broken.h5").unlink()
    make_volume(tmp_path / "short.h5", n_slices=10)
    with pytest.raises(ValueError, match=r"short\.h5: has 10 slices, but slices 12:20"):
        load_fastmri(tmp_path)
    with pytest.raises(ValueError, match="no volume with acquisition 'AXT2'"):
        load_fastmri(tmp_path, slices="0:2", acquisition="AXT2")
    with h5py.File(tmp_path / "short.h5", "w") as f:
        f.create_dataset("reconstruction_rss", data=np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"short\.h5: reconstruction_rss must have shape \(slices, H, W\)"):
        load_fastmri(tmp_path)


@pytest.mark.parametrize("spec", ["12", "5:3", "centre:0", "a:b"])
def test_bad_slice_specs(spec):
    with pytest.raises(ValueError, match="slices must look like"):
        parse_slices(spec)


def test_split_keeps_volumes_whole(knees):
    data = load_fastmri(knees, size=8)
    train, test, train_vols, test_vols = split_by_volume(data, 0.25, seed=0)
    assert len(test_vols) == 1 and len(train_vols) == 3 and not set(test_vols) & set(train_vols)
    assert len(test) == 8 and len(train) == 24


def test_cli_fastmri(knees, tmp_path, capsys):
    out = tmp_path / "knee.npz"
    assert run_cli(["data", "fastmri", "--src", str(knees), "--out", str(out), "--size", "16", "--test-fraction", "0.5"]) == 0
    assert load_images(out, "train").shape == (16, 1, 16, 16) and load_images(out, "test").shape == (16, 1, 16, 16)
    meta = json.loads(str(np.load(out)["meta"]))
    assert meta["dataset"] == "fastmri" and meta["skipped"] == {"fatsat.h5": "acquisition 'CORPDFS_FBK'"}
    assert "skipped 1 volume" in capsys.readouterr().out
    test_dir = tmp_path / "val"
    test_dir.mkdir()
    make_volume(test_dir / "v.h5")
    assert run_cli(["data", "fastmri", "--src", str(knees), "--test-src", str(test_dir), "--out", str(out), "--force",
                    "--size", "16"]) == 0
    assert load_images(out, "test").shape == (8, 1, 16, 16)
    (tmp_path / "nokey").mkdir()
    with h5py.File(tmp_path / "nokey" / "k.h5", "w") as f:
        f.create_dataset("kspace", data=np.zeros(3))
    assert run_cli(["data", "fastmri", "--src", str(tmp_path / "nokey"), "--out", str(out), "--force"]) == 2
    assert "k.h5: no 'reconstruction_rss'" in capsys.readouterr().err
