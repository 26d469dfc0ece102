"""Built-in datasets (seeded, with their documented properties) and loading user arrays safely."""
import numpy as np
import pytest

from randnet import BUILTIN_DATASETS, DatasetSpec, instance_moments, load_array, make_dataset
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
