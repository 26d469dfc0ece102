"""Shared test helpers."""
import numpy as np

__all__ = ["assert_close"]


def assert_close(actual, expected, rtol=1e-12, atol=0.0, msg=""):
    """Assert |actual - expected| <= atol + rtol * |expected| elementwise.

    On failure the message reports the shapes, the worst absolute error, the worst relative error
    (|a - e| / |e|, over entries with e != 0) and the index of the worst violation.
    """
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        raise AssertionError(f"{msg} shape mismatch: actual {a.shape} vs expected {e.shape}")
    if a.size == 0:
        return
    a, e = np.atleast_1d(a), np.atleast_1d(e)  # scalars: index as a 1-element array
    nonfinite = ~np.isfinite(a) | ~np.isfinite(e)
    if np.any(nonfinite):
        same = np.array_equal(a[nonfinite], e[nonfinite], equal_nan=True)
        if not same:
            where = tuple(int(i) for i in np.argwhere(nonfinite & ~((a == e) | (np.isnan(a) & np.isnan(e))))[0])
            raise AssertionError(f"{msg} non-finite entries differ, first at {where}: actual {a[where]} vs expected {e[where]}")
    fin = ~nonfinite
    with np.errstate(invalid="ignore"):
        err = np.abs(a - e)
    err[nonfinite] = 0.0
    bound = atol + rtol * np.abs(e)
    excess = np.where(fin, err - bound, -np.inf)
    if np.all(excess <= 0):
        return
    worst = np.unravel_index(np.argmax(excess), a.shape)
    nz = fin & (e != 0)
    max_rel = float(np.max(err[nz] / np.abs(e[nz]))) if np.any(nz) else float("nan")
    raise AssertionError(
        f"{msg} not close (rtol={rtol:g}, atol={atol:g}): max abs err {float(err.max()):.3e}, "
        f"max rel err {max_rel:.3e}; {int(np.sum(excess > 0))}/{a.size} entries fail; "
        f"worst at {tuple(int(i) for i in worst)}: actual {float(a[worst]):.17g} vs expected {float(e[worst]):.17g}"
    )
