"""Datasets ``D``: ``N`` images ``(H, W, C⁰)`` as one ``(N, H, W, C⁰)`` array (SPEC §6).

Built in, seeded, no download:

- ``gaussian``: uncentered, ``x = o_c + τ ξ_{x,c} + κ_x ε``, offsets ``o_c ~ U(0.5, 1.5)``, per-input
  channel shifts ``ξ ~ N(0, 1)`` (τ = 0.5), contrasts ``κ_x ~ U(0.5, 1.5)`` and white noise ``ε ~ N(0, 1)``;
- ``centered``: the same with each channel's dataset mean removed (``μ_c(x) = 0``);
- ``grf``: smooth periodic Gaussian random fields (Gaussian spectrum, correlation length 2 px) with
  the offsets, shifts and contrasts of ``gaussian``;
- ``shared_stats``: every input has the same instance mean ``o_c`` and std ``s_c`` in each channel
  (no inter-instance variability: the negative control of P5);
- ``natural``: random ``H × W`` crops of the colour photographs bundled in scikit-image's wheel
  (:data:`PHOTOGRAPHS`; no download) reduced 4× (:data:`NATURAL_DOWNSCALE`), scaled to [0, 1] and standardized
  per channel with fixed constants (:func:`natural_statistics`) — see :func:`natural_crops`.

A user's data instead: any ``(N, H, W, C)`` float array in a ``.npy`` / ``.npz`` file (:func:`load_array`), or
the CIFAR-10 *binary* distribution (``cifar10-bin:PATH``, :func:`load_cifar10_bin`; never the pickled one).
"""
from __future__ import annotations

import functools
import os
import zipfile

import numpy as np

from .checks import check_int

BUILTIN = ("gaussian", "centered", "grf", "shared_stats", "natural")
SHIFT_SCALE = 0.5
CORRELATION_LENGTH = 2.0


def _offsets(rng, n, c):
    offsets = rng.uniform(0.5, 1.5, c)
    shifts = SHIFT_SCALE * rng.standard_normal((n, 1, 1, c))
    contrast = rng.uniform(0.5, 1.5, (n, 1, 1, 1))
    return offsets, shifts, contrast


def _smooth_field(rng, n, h, w, c):
    """Periodic Gaussian random field with unit variance and a Gaussian power spectrum."""
    noise = rng.standard_normal((n, h, w, c))
    fh = np.fft.fftfreq(h)[:, None]
    fw = np.fft.fftfreq(w)[None, :]
    spectrum = np.exp(-2 * (np.pi * CORRELATION_LENGTH) ** 2 * (fh ** 2 + fw ** 2))
    field = np.fft.ifft2(np.fft.fft2(noise, axes=(1, 2)) * spectrum[None, :, :, None], axes=(1, 2)).real
    return field / field.std(axis=(1, 2), keepdims=True)


def make_dataset(name: str, n: int, h: int, w: int, c: int, rng: np.random.Generator) -> np.ndarray:
    """One draw of a built-in dataset, float64, shape ``(n, h, w, c)``."""
    if name not in BUILTIN:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(BUILTIN)} or give a .npy/.npz file")
    for label, v in (("N", n), ("H", h), ("W", w), ("C", c)):
        check_int(f"dataset {label}", v)
    if name in ("grf", "shared_stats") and h * w < 2:
        raise ValueError(f"dataset {name!r} standardizes each image over (h, w): it needs H·W >= 2, got {h}x{w}")
    if name == "natural":
        return natural_crops(n, h, w, c, rng)
    if name == "shared_stats":
        e = rng.standard_normal((n, h, w, c))
        e = (e - e.mean(axis=(1, 2), keepdims=True)) / e.std(axis=(1, 2), keepdims=True)
        return rng.uniform(0.5, 1.5, c) + rng.uniform(0.5, 1.5, c) * e
    offsets, shifts, contrast = _offsets(rng, n, c)
    noise = _smooth_field(rng, n, h, w, c) if name == "grf" else rng.standard_normal((n, h, w, c))
    x = offsets + shifts + contrast * noise
    if name == "centered":
        x = x - x.mean(axis=(0, 1, 2))
    return x


def validate_array(x: np.ndarray, source: str = "array") -> np.ndarray:
    """Check that ``x`` is a finite real ``(N, H, W, C)`` array; return it as float64.

    An input that is identically zero is allowed here (it breaks Definition 1 (i), which the checks
    report: :func:`randnet.net.data_assumption`).
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "fiu":
        raise ValueError(f"{source}: expected a numeric array, got {getattr(x, 'dtype', type(x))}")
    if x.ndim != 4:
        raise ValueError(f"{source}: expected shape (N, H, W, C), got {x.shape}")
    if min(x.shape) < 1:
        raise ValueError(f"{source}: empty dimension in shape {x.shape}")
    x = x.astype(np.float64, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{source}: contains NaN or infinite values")
    return x


def _npz_key(path: str, keys: list[str], key: str | None) -> str:
    """The array of an ``.npz`` file to use: ``key``, or its only array; a clear error otherwise."""
    if key is None:
        if len(keys) != 1:
            raise ValueError(f"{path}: it holds arrays {keys}; name one with key=")
        return keys[0]
    if key not in keys:
        raise ValueError(f"{path}: no array {key!r}; it holds {keys}")
    return key


def file_shape(path: str, key: str | None = None) -> tuple[int, int, int, int]:
    """``(N, H, W, C)`` of the array in a ``.npy`` / ``.npz`` file, read from its header (the data stay on disk);
    the errors of :func:`load_array` for a missing file, a missing key, an object array or a wrong shape."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                keys = [n[:-4] for n in z.namelist() if n.endswith(".npy")]
                with z.open(_npz_key(path, keys, key) + ".npy") as f:
                    shape, dtype = _header(f)
        else:
            with open(path, "rb") as f:
                shape, dtype = _header(f)
    except (OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a plain numeric .npy/.npz file ({e})") from None
    if dtype.kind not in "fiu":
        raise ValueError(f"{path}: expected a numeric array, got {dtype}")
    if len(shape) != 4:
        raise ValueError(f"{path}: expected shape (N, H, W, C), got {shape}")
    if min(shape) < 1:
        raise ValueError(f"{path}: empty dimension in shape {shape}")
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


def _header(f) -> tuple[tuple[int, ...], np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        shape, _, dtype = read(f)
    except ValueError as e:
        raise OSError(str(e)) from None
    return shape, dtype


def check_scale(x: np.ndarray, dtype, source: str = "the data") -> None:
    """Refuse data whose scale the forward pass in ``dtype`` cannot carry: a largest ``|x|`` above ``sqrt(max)`` of
    the dtype (the conv's sums and the statistics' squares overflow) or, for data not identically zero, below
    ``sqrt(tiny)`` (the squares underflow, and a normalization's denominator becomes zero)."""
    info = np.finfo(np.dtype(dtype))
    top = float(np.max(np.abs(x))) if x.size else 0.0
    high, low = float(np.sqrt(info.max)), float(np.sqrt(info.tiny))
    if top > high:
        raise ValueError(f"{source}: values up to |x| = {top:.3g} are too large for the {np.dtype(dtype)} forward pass "
                         f"(at most sqrt({float(info.max):.3g}) = {high:.3g}): rescale the data"
                         + (" or use --dtype float64" if np.dtype(dtype) == np.float32 else ""))
    if 0 < top < low:
        raise ValueError(f"{source}: values of at most |x| = {top:.3g} are too small for the {np.dtype(dtype)} forward "
                         f"pass (at least sqrt({float(info.tiny):.3g}) = {low:.3g}: their squares underflow and the "
                         "normalization's denominator is zero): rescale the data")


def load_array(path: str, key: str | None = None) -> np.ndarray:
    """Load an ``(N, H, W, C)`` float array from ``.npy`` or ``.npz`` (``allow_pickle=False``)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"data file not found: {path}")
    refused = (ValueError, OSError, EOFError, zipfile.BadZipFile)
    why = "not a plain numeric .npy/.npz file (object arrays are refused)"
    try:
        obj = np.load(path, allow_pickle=False)
    except refused as e:
        raise ValueError(f"{path}: {why} ({e})") from None
    if isinstance(obj, np.lib.npyio.NpzFile):
        with obj:
            name = _npz_key(path, list(obj.keys()), key)
            try:
                obj = obj[name]
            except refused as e:
                raise ValueError(f"{path}: {why} ({e})") from None
    return validate_array(obj, path)


# -- sources named by a string (the command line, sweep files) ----------------------------------------------
SHAPE_FIELDS = ("n", "height", "width", "channels")
"""The fields of a :class:`~randnet.DatasetSpec` that give its shape ``(N, H, W, C)``."""


def is_array_file(name: str | None, path: str | None) -> bool:
    """A dataset ``name`` with ``path`` is a ``.npy``/``.npz`` array file (every path but ``cifar10-bin``'s): its
    shape is the file's, so the :data:`SHAPE_FIELDS` given with it do not apply."""
    return path is not None and name != CIFAR10_BIN


def parse_source(source: str) -> tuple[str | None, str | None]:
    """``(name, path)`` of a dataset named by a string: a built-in name -> ``(name, None)``;
    ``cifar10-bin:PATH`` -> ``("cifar10-bin", PATH)``; anything else is a ``.npy``/``.npz`` path -> ``(None, path)``."""
    if source in BUILTIN:
        return source, None
    if source.startswith(CIFAR10_BIN + ":"):
        path = source[len(CIFAR10_BIN) + 1:]
        if not path:
            raise ValueError(f"{source!r}: name the cifar-10-batches-bin folder or one .bin file after "
                             f"'{CIFAR10_BIN}:'")
        return CIFAR10_BIN, path
    if source == CIFAR10_BIN:
        raise ValueError(f"{source!r}: name the cifar-10-batches-bin folder or one .bin file: {CIFAR10_BIN}:PATH")
    return None, source


def check_source(source: str) -> np.ndarray | None:
    """Read and check the file(s) that ``source`` names (nothing for a built-in): a bad file is reported
    before anything runs. Returns the array of a ``.npy``/``.npz`` file (e.g. for :func:`check_scale`), else None."""
    name, path = parse_source(source)
    if name == CIFAR10_BIN:
        cifar10_source(path)
    elif name is None:
        return load_array(path)
    return None


# -- natural images ---------------------------------------------------------------------------------------
# The colour photographs of everyday scenes in scikit-image's wheel (``skimage.data``, read from the package's own
# files: no pooch, no download): astronaut 512×512, chelsea (a cat) 300×451, coffee 400×600, rocket 427×640,
# motorcycle (the left view of ``stereo_motorcycle``) 500×741. Grey-level, synthetic, microscopy and astronomy
# images of the package are left out.
# They are reduced NATURAL_DOWNSCALE times (means of 4×4 pixel blocks, rounded to 8 bits) before cropping: a CIFAR-10
# image is a whole object in 32×32 pixels, a 32×32 crop of a full-size photograph a nearly uniform patch of one
# surface. Measured on 128 crops 16×16 (inputs' power in the inter-instance terms (2)+(4) of Eq. 5): 0.90 at full
# size, 0.70 reduced 4×, 0.55 reduced 8×; on 32×32 crops 0.81, 0.52, 0.34; CIFAR-10 ≈ 0.36 (its mean per-image std
# 0.202, 0.199, 0.201 against its pixel std 0.247, 0.244, 0.262). 8× would leave the smallest photograph 37×56,
# so that 32×32 crops nearly repeat one another; 4× is the compromise.
PHOTOGRAPHS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle")
NATURAL_DOWNSCALE = 4
NATURAL_MAX_CROP = (75, 112)  # the smallest height and width among the reduced photographs (chelsea, 300×451)
FLAT_ROUNDS = 64  # rounds of draws that replace flat crops


def downscale(photo: np.ndarray, f: int) -> np.ndarray:
    """Means of the ``f × f`` pixel blocks of a ``uint8`` ``(H, W, 3)`` image (rows and columns beyond the last whole
    block dropped), rounded to ``uint8``: ``(H // f, W // f, 3)``."""
    h, w = photo.shape[0] // f * f, photo.shape[1] // f * f
    return np.rint(photo[:h, :w].reshape(h // f, f, w // f, f, 3).mean(axis=(1, 3))).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def natural_photographs() -> tuple[np.ndarray, ...]:
    """The :data:`PHOTOGRAPHS` reduced :data:`NATURAL_DOWNSCALE` times, read-only ``uint8`` ``(H, W, 3)`` arrays
    (read once per process): the images the crops are cut from."""
    from skimage import data  # imported here: only this dataset needs scikit-image

    loaders = dict(astronaut=data.astronaut, chelsea=data.chelsea, coffee=data.coffee, rocket=data.rocket,
                   motorcycle=lambda: data.stereo_motorcycle()[0])
    photos = tuple(downscale(np.asarray(loaders[name](), dtype=np.uint8), NATURAL_DOWNSCALE) for name in PHOTOGRAPHS)
    for p in photos:
        p.setflags(write=False)
    return photos


def _histograms(channels) -> np.ndarray:
    """``(3, 256)`` counts of the ``uint8`` values of each of the three channel arrays."""
    return np.stack([np.bincount(np.ravel(ch), minlength=256) for ch in channels])


def _standardization(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of the pixel values ``v/255`` whose histograms are ``counts (3, 256)`` (exact,
    float64): ``μ_c = Σ_v p_c(v) v/255``, ``σ_c² = Σ_v p_c(v) (v/255 − μ_c)²``, ``p_c = counts_c / Σ_v counts_c(v)``."""
    p = counts / counts.sum(axis=1, keepdims=True)
    v = np.arange(256) / 255.0
    mean = p @ v
    std = np.sqrt(np.sum(p * (v - mean[:, None]) ** 2, axis=1))
    mean.setflags(write=False)
    std.setflags(write=False)
    return mean, std


def _standardize(pixels: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``uint8`` pixels scaled to [0, 1] then standardized per channel: ``(v/255 − μ_c) / σ_c``, float64."""
    return (pixels / 255.0 - mean) / std


def _crops(images, top: np.ndarray, left: np.ndarray, h: int, w: int) -> np.ndarray:
    """``images[i][top_i : top_i + h, left_i : left_i + w]`` stacked."""
    return np.stack([im[t:t + h, l:l + w] for im, t, l in zip(images, top, left)])


@functools.lru_cache(maxsize=1)
def natural_statistics() -> tuple[np.ndarray, np.ndarray]:
    """``(μ_c, σ_c)``: per-channel mean and std of the photographs' pixels in [0, 1], each photograph weighted
    equally (the law a crop's pixel has, up to the smaller share of the photographs' borders)."""
    pmf = sum(h / h.sum(axis=1, keepdims=True) for h in (_histograms(np.moveaxis(p, -1, 0))
                                                         for p in natural_photographs()))
    return _standardization(pmf)


def natural_crops(n: int, h: int, w: int, c: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``h × w`` crops of the photographs, float64 ``(n, h, w, 3)``.

    Crop ``i``: photograph ``p_i`` uniform over :data:`PHOTOGRAPHS`, top-left corner uniform over the positions
    where the crop fits, pixels ``(v/255 − μ_c) / σ_c`` with the fixed constants of :func:`natural_statistics` —
    like CIFAR-10's usual per-channel constants of the whole training set, not of the drawn batch: the crops are
    i.i.d. whatever ``n``, and a drawn dataset keeps a small dataset-scale term (1), as real batches do.
    A *flat* crop (every channel constant over ``(h, w)``, e.g. in the astronaut's blown-out white background)
    is drawn again: its conv output is spatially constant at every layer, so IN's
    denominator is zero at ε = 0. No horizontal flips: a flip leaves every instance statistic of the input
    unchanged, and the weight law is flip-invariant, so flips would not change the law of any measured quantity.
    """
    check_crop("natural", h, w, c)
    photos = natural_photographs()
    mean, std = natural_statistics()
    kept = []
    for _ in range(FLAT_ROUNDS):
        m = n - sum(len(k) for k in kept)
        which = rng.integers(0, len(photos), m)
        sizes = np.array([p.shape[:2] for p in photos])[which]
        top = rng.integers(0, sizes[:, 0] - h + 1)
        left = rng.integers(0, sizes[:, 1] - w + 1)
        crops = _crops([photos[p] for p in which], top, left, h, w)
        kept.append(crops[np.any(crops != crops[:, :1, :1], axis=(1, 2, 3))])
        if sum(len(k) for k in kept) == n:
            return _standardize(np.concatenate(kept), mean, std)
    raise ValueError(f"dataset 'natural': {FLAT_ROUNDS} rounds of draws left crops of {h}x{w} that are constant")


# -- the CIFAR-10 binary distribution ------------------------------------------------------------------------
CIFAR10_BIN = "cifar10-bin"
CIFAR_SIDE = 32
CIFAR_RECORD = 1 + 3 * CIFAR_SIDE * CIFAR_SIDE  # 1 label byte, then the 1024-byte R, G, B planes (row-major 32×32)
_PICKLED = ("a pickled CIFAR-10 batch (the 'python' version) is never read (unpickling can run code): use the "
            "binary version, cifar-10-batches-bin/*.bin")
_CHUNK = 4096  # records per pass when counting the pixel values

CROP_LIMITS = {"natural": NATURAL_MAX_CROP, CIFAR10_BIN: (CIFAR_SIDE, CIFAR_SIDE)}  # the RGB sources: largest crop


def check_crop(name: str, h: int, w: int, c: int) -> None:
    """An RGB source (:data:`CROP_LIMITS`) gives 3 channels and crops that fit its images."""
    max_h, max_w = CROP_LIMITS[name]
    if c != 3:
        raise ValueError(f"dataset {name!r} has 3 (RGB) channels, got C = {c}")
    if h > max_h or w > max_w:
        raise ValueError(f"dataset {name!r}: a {h}x{w} crop does not fit its images (at most {max_h}x{max_w})")


def cifar10_files(path: str) -> list[str]:
    """The ``.bin`` files of a ``cifar-10-batches-bin`` folder (sorted by name), or ``[path]`` for one file."""
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path)
                       if f.endswith(".bin") and os.path.isfile(os.path.join(path, f)))
        if not files:
            pickled = any(os.path.exists(os.path.join(path, f)) for f in ("batches.meta", "data_batch_1", "test_batch"))
            raise ValueError(f"{path}: " + (_PICKLED if pickled else
                                            "no .bin files in this folder (expected cifar-10-batches-bin/*.bin)"))
        return files
    if not os.path.exists(path):
        raise ValueError(f"{path}: no such CIFAR-10 binary folder or file")
    return [path]


def cifar10_records(path: str) -> np.ndarray:
    """The records of one CIFAR-10 binary file, memory-mapped ``(M, 3073)`` ``uint8``, after checking that the
    file is not pickled, not empty, a whole number of records, and that every label byte is in 0–9."""
    if path.lower().endswith((".pkl", ".pickle")):
        raise ValueError(f"{path}: {_PICKLED}")
    size = os.path.getsize(path)
    if size == 0:
        raise ValueError(f"{path}: empty file (a CIFAR-10 binary batch is records of {CIFAR_RECORD} bytes)")
    with open(path, "rb") as f:
        head = f.read(2)
    if len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # the PROTO opcode that starts a pickle
        raise ValueError(f"{path}: {_PICKLED}")
    if size % CIFAR_RECORD:
        raise ValueError(f"{path}: {size} bytes is not a multiple of {CIFAR_RECORD} (1 label byte + 3072 pixel bytes "
                         f"per record): truncated, or not a CIFAR-10 binary batch")
    records = np.memmap(path, dtype=np.uint8, mode="r", shape=(size // CIFAR_RECORD, CIFAR_RECORD))
    labels = np.asarray(records[:, 0])
    bad = np.flatnonzero(labels > 9)
    if bad.size:
        raise ValueError(f"{path}: record {bad[0]} has label byte {labels[bad[0]]}, outside 0-9: not a CIFAR-10 "
                         f"binary batch")
    return records


def cifar_images(records: np.ndarray) -> np.ndarray:
    """``(M, 3073)`` records -> ``(M, 32, 32, 3)`` ``uint8`` images: the planes are R, G, B, each row-major."""
    return np.asarray(records[:, 1:]).reshape(-1, 3, CIFAR_SIDE, CIFAR_SIDE).transpose(0, 2, 3, 1)


@functools.lru_cache(maxsize=4)
def _cifar10_source(files: tuple[tuple[str, int, int], ...]):
    records = [cifar10_records(f) for f, _, _ in files]
    counts = np.zeros((3, 256), dtype=np.int64)
    for r in records:
        for start in range(0, len(r), _CHUNK):
            counts += _histograms(np.moveaxis(cifar_images(r[start:start + _CHUNK]), -1, 0))
    return records, _standardization(counts)


def cifar10_source(path: str) -> tuple[list[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The checked records of each file at ``path`` and ``(μ_c, σ_c)``, the per-channel mean and std of the pixels
    in [0, 1] over all those records; read once per process (again if a file's size or time changes)."""
    files = cifar10_files(path)
    return _cifar10_source(tuple((os.path.abspath(f), os.path.getsize(f), os.stat(f).st_mtime_ns) for f in files))


def load_cifar10_bin(path: str, n: int, h: int, w: int, c: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` images of the CIFAR-10 binary distribution at ``path`` (a ``cifar-10-batches-bin`` folder: all its
    ``.bin`` files; or one file), float64 ``(n, h, w, 3)``.

    The records are a random subset of size ``n`` of all the records, without replacement (``rng``: the dataset
    seed, or the realization's when redrawn); each is cropped at a random ``h × w`` position (the whole image at
    32×32) and standardized like ``natural``, ``(v/255 − μ_c) / σ_c``, with the constants of all the records at
    ``path`` (:func:`cifar10_source`).
    """
    check_crop(CIFAR10_BIN, h, w, c)
    records, (mean, std) = cifar10_source(path)
    sizes = [len(r) for r in records]
    total = sum(sizes)
    if n > total:
        raise ValueError(f"{path}: holds {total} CIFAR-10 records, fewer than the N = {n} asked for")
    chosen = rng.choice(total, n, replace=False)
    top = rng.integers(0, CIFAR_SIDE - h + 1, n)
    left = rng.integers(0, CIFAR_SIDE - w + 1, n)
    starts = np.cumsum([0, *sizes])
    which = np.searchsorted(starts, chosen, side="right") - 1
    images = np.empty((n, CIFAR_SIDE, CIFAR_SIDE, 3), dtype=np.uint8)
    for f, r in enumerate(records):
        sel = np.flatnonzero(which == f)
        if sel.size:
            images[sel] = cifar_images(r[chosen[sel] - starts[f]])
    return _standardize(_crops(images, top, left, h, w), mean, std)
