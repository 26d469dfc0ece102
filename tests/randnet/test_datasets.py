"""Built-in datasets (seeded, with their documented properties) and loading user arrays safely."""
import dataclasses
import sys

import numpy as np
import pytest

from randnet import BUILTIN_DATASETS, datasets, DatasetSpec, instance_moments, load_array, make_dataset
from randnet.datasets import check_scale, file_shape
from tests.helpers import assert_close

SHAPE = (6, 5, 4, 3)


def _make(name, seed=0, shape=SHAPE):
    return make_dataset(name, *shape, np.random.default_rng(seed))


@pytest.mark.parametrize("name", BUILTIN_DATASETS)
def test_builtins_are_seeded_finite_float64(name):
    x = _make(name)
    assert x.shape == SHAPE and x.dtype == np.float64 and np.all(np.isfinite(x))
    assert np.array_equal(x, _make(name))
    assert not np.array_equal(x, _make(name, seed=1))
    assert np.all(np.any(x.reshape(len(x), -1) != 0, axis=1))  # Definition 1 (i)


def test_gaussian_is_uncentered_with_inter_instance_variability():
    x = _make("gaussian", shape=(64, 8, 8, 3))
    channel_means = x.mean(axis=(0, 1, 2))
    assert np.all(channel_means > 0.2)  # offsets o_c ~ U(0.5, 1.5) and shifts of std 0.5/sqrt(64)
    m, v = instance_moments(x)
    assert np.all(m.std(axis=0) > 0.2) and np.all(np.sqrt(v).std(axis=0) > 0.05)


def test_centered_has_zero_channel_means():
    """μ_c(x) = 0 exactly (to round-off) for every channel; the instances still vary."""
    x = _make("centered", shape=(16, 8, 8, 3))
    assert_close(x.mean(axis=(0, 1, 2)), np.zeros(3), atol=1e-15)
    assert np.all(instance_moments(x)[0].std(axis=0) > 0.2)
    # the same draw as "gaussian" with the channel means removed
    g = _make("gaussian", shape=(16, 8, 8, 3))
    assert_close(x, g - g.mean(axis=(0, 1, 2)), rtol=0, atol=1e-15)


def test_shared_stats_has_identical_instance_statistics():
    """Every input has the same instance mean and std per channel: power terms (2) and (4) vanish."""
    x = _make("shared_stats", shape=(8, 6, 6, 4))
    m, v = instance_moments(x)
    assert_close(m, np.broadcast_to(m[0], m.shape), rtol=1e-14, atol=1e-14)
    assert_close(v, np.broadcast_to(v[0], v.shape), rtol=1e-13)
    assert np.ptp(m[0]) > 0 and np.ptp(v[0]) > 0  # but the channels differ
    assert not np.allclose(x[0], x[1])  # and the images themselves differ


def test_grf_is_spatially_correlated():
    """Gaussian random field: neighbouring pixels are strongly correlated (white noise: ≈ 0)."""
    x = _make("grf", shape=(8, 16, 16, 2))
    r = x - x.mean(axis=(1, 2), keepdims=True)
    corr = np.mean(r * np.roll(r, 1, axis=1)) / np.mean(r * r)
    assert corr > 0.7
    w = _make("gaussian", shape=(8, 16, 16, 2))
    rw = w - w.mean(axis=(1, 2), keepdims=True)
    assert abs(np.mean(rw * np.roll(rw, 1, axis=1)) / np.mean(rw * rw)) < 0.1


def test_dataset_spec_draw_seeding():
    spec = DatasetSpec(n=3, height=4, width=4, channels=2)
    ss = np.random.SeedSequence(7)
    assert np.array_equal(spec.draw(ss), spec.draw(np.random.SeedSequence(7)))
    assert not np.array_equal(spec.draw(ss), spec.draw(np.random.SeedSequence(8)))
    fixed = DatasetSpec(n=3, height=4, width=4, channels=2, redraw=False, seed=5)
    assert np.array_equal(fixed.draw(np.random.SeedSequence(1)), fixed.draw(np.random.SeedSequence(2)))


@pytest.mark.parametrize("call, match", [
    (lambda: _make("cifar"), "unknown dataset 'cifar'"),
    (lambda: make_dataset("gaussian", 0, 4, 4, 3, np.random.default_rng(0)), "dataset N must be a positive integer"),
    (lambda: make_dataset("gaussian", 2, 4.0, 4, 3, np.random.default_rng(0)), "dataset H must be a positive integer"),
    (lambda: make_dataset("shared_stats", 2, 1, 1, 3, np.random.default_rng(0)), "H·W >= 2"),
    (lambda: make_dataset("grf", 2, 1, 1, 3, np.random.default_rng(0)), "H·W >= 2"),
])
def test_bad_builtin_request_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# -- user arrays -------------------------------------------------------------------------------------------
def test_load_npy_and_npz(tmp_path):
    x = _make("gaussian")
    np.save(tmp_path / "a.npy", x)
    np.savez(tmp_path / "one.npz", images=x)
    np.savez(tmp_path / "two.npz", images=x, labels=x[..., :1] * 2)
    assert np.array_equal(load_array(str(tmp_path / "a.npy")), x)
    assert np.array_equal(load_array(str(tmp_path / "one.npz")), x)
    assert np.array_equal(load_array(str(tmp_path / "two.npz"), key="labels"), x[..., :1] * 2)
    ints = (x * 10).astype(np.int16)
    np.save(tmp_path / "ints.npy", ints)
    loaded = load_array(str(tmp_path / "ints.npy"))
    assert loaded.dtype == np.float64 and np.array_equal(loaded, ints)
    spec = DatasetSpec(path=str(tmp_path / "two.npz"), key="images")
    assert np.array_equal(spec.draw(np.random.SeedSequence(0)), x)


def _write(tmp_path, name, content):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    elif name.endswith(".npz"):
        np.savez(p, **content)
    else:
        np.save(p, content, allow_pickle=True)
    return str(p)


@pytest.mark.parametrize("name, content, match", [
    ("flat.npy", np.zeros((4, 5, 3)), r"expected shape \(N, H, W, C\), got \(4, 5, 3\)"),
    ("five.npy", np.zeros((1, 2, 3, 4, 5)), r"expected shape \(N, H, W, C\)"),
    ("empty.npy", np.zeros((0, 2, 2, 1)), "empty dimension"),
    ("objects.npy", np.array([[[[1]]], [[[None]]]], dtype=object), "not a plain numeric"),
    ("strings.npy", np.full((1, 2, 2, 1), "x"), "expected a numeric array"),
    ("complex.npy", np.zeros((1, 2, 2, 1), dtype=complex), "expected a numeric array"),
    ("bools.npy", np.ones((1, 2, 2, 1), dtype=bool), "expected a numeric array"),
    ("nan.npy", np.array([1.0, np.nan]).reshape(1, 1, 2, 1), "NaN or infinite"),
    ("inf.npy", np.array([1.0, -np.inf]).reshape(1, 2, 1, 1), "NaN or infinite"),
    ("two.npz", dict(a=np.zeros((1, 2, 2, 1)), b=np.ones((1, 2, 2, 1))), r"holds arrays \['a', 'b'\]; name one with key="),
    ("objects.npz", dict(a=np.array([None, 1], dtype=object)), "not a plain numeric"),
    ("text.npy", b"these are not numbers\n1 2 3\n", "not a plain numeric .npy/.npz"),
    ("blank.npy", b"", "not a plain numeric .npy/.npz"),
    ("broken.npz", b"PK\x03\x04 truncated zip", "not a plain numeric .npy/.npz"),
])
def test_load_rejects_bad_files(tmp_path, name, content, match):
    path = _write(tmp_path, name, content)
    with pytest.raises(ValueError, match=match) as info:
        load_array(path)
    assert path in str(info.value)  # the message names the file


def test_load_rejects_missing_file_and_key(tmp_path):
    with pytest.raises(FileNotFoundError, match="data file not found: .*nowhere.npy"):
        load_array(str(tmp_path / "nowhere.npy"))
    path = _write(tmp_path, "one.npz", dict(images=np.ones((1, 2, 2, 1))))
    with pytest.raises(ValueError, match=r"no array 'labels'; it holds \['images'\]"):
        load_array(path, key="labels")


def test_file_shape_reads_the_header_only(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 4, 5, 2), np.float32))
    np.savez(tmp_path / "b.npz", images=np.zeros((1, 2, 2, 1)))
    assert file_shape(str(tmp_path / "a.npy")) == (3, 4, 5, 2)
    assert file_shape(str(tmp_path / "b.npz")) == (1, 2, 2, 1) == file_shape(str(tmp_path / "b.npz"), "images")
    np.save(tmp_path / "flat.npy", np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"expected shape \(N, H, W, C\), got \(3, 4\)"):
        file_shape(str(tmp_path / "flat.npy"))
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a plain numeric"):
        file_shape(str(tmp_path / "junk.npy"))
    with pytest.raises(FileNotFoundError):
        file_shape(str(tmp_path / "none.npy"))


@pytest.mark.parametrize("scale, dtype, match", [
    (1e300, "float64", "too large for the float64 forward pass"),
    (1e20, "float32", "too large for the float32 forward pass .* or use --dtype float64"),
    (1e-300, "float64", "too small for the float64 forward pass"),
    (1e-20, "float32", "too small for the float32 forward pass"),
])
def test_check_scale(scale, dtype, match):
    x = scale * np.ones((1, 2, 2, 1))
    with pytest.raises(ValueError, match=match):
        check_scale(x, dtype, "d.npy")
    check_scale(np.zeros((1, 2, 2, 1)), dtype)  # identically zero: Definition 1 (i), reported elsewhere
    check_scale(np.ones((1, 2, 2, 1)), dtype)


# -- natural images -------------------------------------------------------------------------------------------
@pytest.fixture
def tiny_photographs(monkeypatch):
    """Three small photographs whose red value numbers every pixel (photograph, row, column) uniquely, so that a
    crop tells where it was cut (green and blue differ from red and from each other), and a uniform fourth."""
    shapes = [(6, 7), (5, 9), (8, 6)]
    photos, start = [], 0
    for h, w in shapes:
        ids = start + np.arange(h * w).reshape(h, w)
        start += h * w
        photos.append(np.stack([ids, 255 - ids, (7 * ids) % 256], axis=-1).astype(np.uint8))
    flat = np.broadcast_to(np.array([200, 55, 0], np.uint8), (4, 5, 3))  # every crop of it is flat: never drawn
    monkeypatch.setattr(datasets, "natural_photographs", lambda: (*photos, flat))
    datasets.natural_statistics.cache_clear()
    yield photos
    datasets.natural_statistics.cache_clear()


def _mixture_moments(photos):
    """Per-channel mean and std of the pixels v/255 of the photographs, each photograph weighted equally."""
    scaled = [p / 255.0 for p in photos]
    mean = np.mean([x.mean(axis=(0, 1)) for x in scaled], axis=0)
    var = np.mean([((x - mean) ** 2).mean(axis=(0, 1)) for x in scaled], axis=0)
    return mean, np.sqrt(var)


def _unstandardize(x, mean, std):
    v = (x * std + mean) * 255.0
    assert_close(v, np.rint(v), atol=1e-9)
    return np.rint(v).astype(np.uint8)


def test_natural_standardization_constants_are_the_photographs_pixel_moments(tiny_photographs):
    photos = datasets.natural_photographs()
    mean, std = datasets.natural_statistics()
    assert_close(np.array([mean, std]), np.array(_mixture_moments(photos)), rtol=1e-13)
    # so the photographs themselves, standardized and pooled with equal weights, have mean 0 and std 1 per channel
    z = [(p / 255.0 - mean) / std for p in photos]
    assert_close(np.mean([x.mean(axis=(0, 1)) for x in z], axis=0), np.zeros(3), atol=1e-14)
    assert_close(np.mean([(x ** 2).mean(axis=(0, 1)) for x in z], axis=0), np.ones(3), rtol=1e-13)


def test_natural_crops_are_slices_at_every_position_of_every_photograph(tiny_photographs):
    """Each crop is ``(photo[t:t+h, l:l+w]/255 − μ)/σ`` for a photograph and a top-left corner where it fits;
    every such position occurs, photographs are drawn about equally often, and the flat fourth never."""
    h, w, n = 3, 4, 4000
    x = make_dataset("natural", n, h, w, 3, np.random.default_rng(0))
    assert x.shape == (n, h, w, 3) and x.dtype == np.float64
    crops = _unstandardize(x, *datasets.natural_statistics())
    starts = np.cumsum([0] + [p.shape[0] * p.shape[1] for p in tiny_photographs])
    seen, drawn = set(), []
    for crop in crops:
        pid = int(crop[0, 0, 0])
        p = int(np.searchsorted(starts, pid, side="right") - 1)
        t, l = divmod(pid - starts[p], tiny_photographs[p].shape[1])
        assert np.array_equal(crop, tiny_photographs[p][t:t + h, l:l + w])
        seen.add((p, t, l))
        drawn.append(p)
    every = {(p, t, l) for p, ph in enumerate(tiny_photographs)
             for t in range(ph.shape[0] - h + 1) for l in range(ph.shape[1] - w + 1)}
    assert seen == every
    counts = np.bincount(drawn, minlength=3)
    assert np.all(np.abs(counts - n / 3) < 5 * np.sqrt(n * (1 / 3) * (2 / 3)))


def test_natural_flat_crops_are_drawn_again(monkeypatch):
    """A crop constant in every channel is replaced (its conv output would be constant: IN's σ = 0); one with only
    some channels constant is kept; a source of flat crops only is a clear error, not an endless loop."""
    half = np.zeros((4, 8, 3), np.uint8)
    half[:, 4:] = [10, 20, 30]
    half[:, 4:, 0] += np.arange(4, dtype=np.uint8)[:, None]  # right half: red varies down the rows, green, blue flat
    monkeypatch.setattr(datasets, "natural_photographs", lambda: (half,))
    datasets.natural_statistics.cache_clear()
    try:
        x = make_dataset("natural", 200, 4, 2, 3, np.random.default_rng(0))
        crops = _unstandardize(x, *datasets.natural_statistics())
        assert np.all(np.any(crops != crops[:, :1, :1], axis=(1, 2, 3)))
        assert np.any(np.all(crops[..., 1:] == crops[:, :1, :1, 1:], axis=(1, 2, 3)))  # green, blue flat: kept
        assert not np.any(np.all(crops == 0, axis=(1, 2, 3)))  # the flat left half is never drawn
        monkeypatch.setattr(datasets, "natural_photographs", lambda: (half[:, :4],))
        datasets.natural_statistics.cache_clear()
        with pytest.raises(ValueError, match="64 rounds of draws left crops of 2x2 that are constant"):
            make_dataset("natural", 2, 2, 2, 3, np.random.default_rng(0))
    finally:
        datasets.natural_statistics.cache_clear()


def test_natural_crop_must_fit_and_be_rgb(tiny_photographs):
    with pytest.raises(ValueError, match="dataset 'natural' has 3 \\(RGB\\) channels, got C = 4"):
        make_dataset("natural", 2, 3, 3, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="a 76x8 crop does not fit its images \\(at most 75x112\\)"):
        DatasetSpec("natural", n=2, height=76, width=8)
    with pytest.raises(ValueError, match="got C = 1"):
        DatasetSpec("natural", channels=1)


def test_natural_photographs_load_from_the_wheel_without_network(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("the natural dataset tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    datasets.natural_photographs.cache_clear()
    photos = datasets.natural_photographs()
    assert len(photos) == len(datasets.PHOTOGRAPHS) == 5
    assert [p.shape for p in photos] == [(128, 128, 3), (75, 112, 3), (100, 150, 3), (106, 160, 3), (125, 185, 3)]
    assert all(p.dtype == np.uint8 and not p.flags.writeable for p in photos)
    assert datasets.NATURAL_MAX_CROP == (min(p.shape[0] for p in photos), min(p.shape[1] for p in photos))
    assert "pooch" not in sys.modules  # nothing fetched
    # the photographs of the wheel, reduced 4×: each pixel the rounded mean of a 4×4 block of the original
    from skimage import data

    original = data.chelsea()
    assert original.shape == (300, 451, 3)
    rng = np.random.default_rng(0)
    for i, j in zip(rng.integers(0, 75, 20), rng.integers(0, 112, 20)):
        block = original[4 * i:4 * i + 4, 4 * j:4 * j + 4].reshape(16, 3).astype(float)
        assert np.array_equal(photos[1][i, j], np.rint(block.mean(axis=0)))


def test_natural_crops_of_the_real_photographs():
    """A crop of the real set is found, pixel for pixel, in one of the photographs; a large draw is standardized
    (per-channel mean ≈ 0, std ≈ 1: the constants are fixed, not the drawn dataset's)."""
    photos = datasets.natural_photographs()
    mean, std = datasets.natural_statistics()
    assert_close(np.array([mean, std]), np.array(_mixture_moments(photos)), rtol=1e-12)
    x = make_dataset("natural", 512, 16, 16, 3, np.random.default_rng(3))
    assert np.all(np.abs(x.mean(axis=(0, 1, 2))) < 0.2) and np.all(np.abs(x.std(axis=(0, 1, 2)) - 1) < 0.2)
    crop = _unstandardize(x[0], mean, std)
    found = [(p, t, l) for p, ph in enumerate(photos) for t, l in np.argwhere(np.all(ph == crop[0, 0], axis=-1))
             if t + 16 <= ph.shape[0] and l + 16 <= ph.shape[1] and np.array_equal(ph[t:t + 16, l:l + 16], crop)]
    assert found


def test_natural_dataset_spec_seeding_and_redraw():
    spec = DatasetSpec("natural", n=4, height=8, width=8)
    a = spec.draw(np.random.SeedSequence(1))
    assert a.shape == (4, 8, 8, 3)
    assert np.array_equal(a, spec.draw(np.random.SeedSequence(1)))
    assert not np.array_equal(a, spec.draw(np.random.SeedSequence(2)))
    fixed = DatasetSpec("natural", n=4, height=8, width=8, redraw=False, seed=5)
    assert np.array_equal(fixed.draw(np.random.SeedSequence(1)), fixed.draw(np.random.SeedSequence(2)))
    assert np.array_equal(fixed.draw(np.random.SeedSequence(1)), DatasetSpec("natural", n=4, height=8, width=8,
                                                                             seed=5).draw())
    assert not np.array_equal(fixed.draw(), DatasetSpec("natural", n=4, height=8, width=8, redraw=False, seed=6).draw())


# -- the CIFAR-10 binary distribution ----------------------------------------------------------------------------
def _cifar_images(rng, m):
    return rng.integers(0, 256, (m, 32, 32, 3), dtype=np.uint8)


def _write_cifar(path, images, labels=None):
    """A CIFAR-10 binary batch written record by record: 1 label byte, then the R, G, B planes (row-major)."""
    labels = np.arange(len(images)) % 10 if labels is None else labels
    with open(path, "wb") as f:
        for label, im in zip(labels, images):
            f.write(bytes([int(label)]) + im[:, :, 0].tobytes() + im[:, :, 1].tobytes() + im[:, :, 2].tobytes())
    return str(path)


def _pixel_moments(images):
    x = images / 255.0
    return x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))


def test_cifar_records_decode_to_rgb_images(tmp_path):
    images = _cifar_images(np.random.default_rng(0), 5)
    path = _write_cifar(tmp_path / "data_batch_1.bin", images, labels=[3, 0, 9, 1, 1])
    records = datasets.cifar10_records(path)
    assert records.shape == (5, 3073) and list(records[:, 0]) == [3, 0, 9, 1, 1]
    assert np.array_equal(datasets.cifar_images(records), images)  # planes R, G, B in that order, row-major


def test_cifar_reader_folder_standardization_and_subset(tmp_path):
    rng = np.random.default_rng(1)
    a, b = _cifar_images(rng, 7), _cifar_images(rng, 5)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    _write_cifar(folder / "data_batch_1.bin", a)
    _write_cifar(folder / "test_batch.bin", b)
    (folder / "batches.meta.txt").write_text("airplane\nautomobile\n")
    everything = np.concatenate([a, b])
    mean, std = _pixel_moments(everything)
    records, (m, s) = datasets.cifar10_source(str(folder))
    assert [len(r) for r in records] == [7, 5]
    assert_close(np.array([m, s]), np.array([mean, std]), rtol=1e-13)
    # N = all records at 32×32: every image once, standardized exactly (mean 0, std 1 per channel)
    x = datasets.load_cifar10_bin(str(folder), 12, 32, 32, 3, np.random.default_rng(0))
    assert x.shape == (12, 32, 32, 3) and x.dtype == np.float64
    assert_close(x.mean(axis=(0, 1, 2)), np.zeros(3), atol=1e-14)
    assert_close(x.std(axis=(0, 1, 2)), np.ones(3), rtol=1e-13)
    back = _unstandardize(x, mean, std)
    assert sorted(im.tobytes() for im in back) == sorted(im.tobytes() for im in everything)
    # a subset: distinct records, each a 16×16 slice of one image
    y = datasets.load_cifar10_bin(str(folder), 6, 16, 16, 3, np.random.default_rng(1))
    assert y.shape == (6, 16, 16, 3)
    sources = []
    for crop in _unstandardize(y, mean, std):
        hits = [(i, t, l) for i, im in enumerate(everything) for t in range(17) for l in range(17)
                if np.array_equal(im[t:t + 16, l:l + 16], crop)]
        assert len(hits) == 1
        sources.append(hits[0][0])
    assert len(set(sources)) == 6
    with pytest.raises(ValueError, match="holds 12 CIFAR-10 records, fewer than the N = 13 asked for"):
        datasets.load_cifar10_bin(str(folder), 13, 32, 32, 3, np.random.default_rng(0))


def test_cifar_dataset_spec_and_sources(tmp_path):
    path = _write_cifar(tmp_path / "one.bin", _cifar_images(np.random.default_rng(2), 9))
    base = DatasetSpec("gaussian", n=4, height=8, width=8, channels=5)
    spec = base.with_source("cifar10-bin:" + path)
    assert (spec.name, spec.path, spec.n, spec.height, spec.channels) == ("cifar10-bin", path, 4, 8, 3)
    a = spec.draw(np.random.SeedSequence(0))
    assert a.shape == (4, 8, 8, 3)
    assert np.array_equal(a, spec.draw(np.random.SeedSequence(0)))
    assert not np.array_equal(a, spec.draw(np.random.SeedSequence(1)))
    fixed = DatasetSpec("cifar10-bin", n=4, height=32, width=32, path=path, redraw=False, seed=3)
    assert np.array_equal(fixed.draw(np.random.SeedSequence(0)), fixed.draw(np.random.SeedSequence(1)))
    assert spec.with_source("natural") == DatasetSpec("natural", n=4, height=8, width=8, channels=3)
    x = str(tmp_path / "x.npy")
    np.save(x, np.ones((2, 5, 6, 1)))
    npy = spec.with_source("x.npy", base_dir=str(tmp_path))
    assert (npy.name, npy.path) == ("gaussian", x)  # an array file, whatever the name held
    # an array file's shape is the file's: the spec's n, size and channels, and any changes given, do not apply
    assert (npy.n, npy.height, npy.width, npy.channels) == (2, 5, 6, 1)
    assert base.with_source("natural").with_source(x, n=7, height=3, width=3) == DatasetSpec("natural", path=x)
    assert base.with_source("natural").with_source(x).channels == 1
    assert base.with_source(x) == dataclasses.replace(base, path=x) == DatasetSpec(path=x, n=99)
    with pytest.raises(ValueError, match="dataset 'cifar10-bin' needs a path"):
        DatasetSpec("cifar10-bin")
    with pytest.raises(ValueError, match="a 33x32 crop does not fit its images \\(at most 32x32\\)"):
        DatasetSpec("cifar10-bin", height=33, width=32, path=path)
    with pytest.raises(ValueError, match="name the cifar-10-batches-bin folder"):
        base.with_source("cifar10-bin:")
    datasets.check_source("cifar10-bin:" + path)
    datasets.check_source("natural")


def _pickled_batch():
    import pickle

    return pickle.dumps({"batch_label": "training batch 1 of 5", "labels": [6, 9], "data": b"\0" * 6144}, protocol=2)


def _bad_cifar(d, case):
    """A path of the malformed kind ``case`` under folder ``d``."""
    files = {"python folder": ("f/data_batch_1", _pickled_batch()), "pickled file": ("data_batch_1", _pickled_batch()),
             "pkl": ("batch.pkl", b"anything"), "empty": ("empty.bin", b""),
             "truncated": ("cut.bin", bytes(2 * 3073 - 1)),
             "cifar100": ("c100.bin", bytes(2 * 3074)), "label": ("label.bin", bytes(3073) + bytes([10]) + bytes(3072))}
    if case == "missing":
        return str(d / "nowhere")
    (d / "f").mkdir()
    if case == "no bin":
        (d / "f" / "batches.meta.txt").write_text("airplane\n")
        return str(d / "f")
    name, content = files[case]
    (d / name).write_bytes(content)
    return str(d / name.split("/")[0])


@pytest.mark.parametrize("case, match", [
    ("missing", "no such CIFAR-10 binary folder or file"),
    ("no bin", "no .bin files in this folder"),
    ("python folder", "pickled CIFAR-10 batch .*use the binary version"),
    ("pickled file", "pickled CIFAR-10 batch .*use the binary version"),
    ("pkl", "pickled CIFAR-10 batch"),
    ("empty", "empty file"),
    ("truncated", "6145 bytes is not a multiple of 3073 .*truncated"),
    ("cifar100", "not a multiple of 3073"),
    ("label", "record 1 has label byte 10, outside 0-9"),
])
def test_cifar_reader_rejects_bad_input(tmp_path, case, match):
    path = _bad_cifar(tmp_path, case)
    with pytest.raises(ValueError, match=match) as info:
        datasets.load_cifar10_bin(path, 1, 32, 32, 3, np.random.default_rng(0))
    message = str(info.value)
    assert message.startswith(path) and "\n" not in message
    with pytest.raises(ValueError, match=match):
        datasets.check_source("cifar10-bin:" + path)
