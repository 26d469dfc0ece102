"""User normalizations loaded from "package.module:function": clear errors, checked outputs, registration."""
import importlib

import numpy as np
import pytest

from randnet import DatasetSpec, NetConfig, layer_stream, norms, plugins, realization_seed
from randnet.plugins import NormSettings, PluginError, load_normalization, register_plugin

pytestmark = pytest.mark.usefixtures("clean_plugin_registry")


@pytest.fixture
def user_module(write_module):
    """Write a module with the given source under a fresh name on sys.path; return its name."""
    return lambda source: write_module(source, "user_norms")


X = np.random.default_rng(0).standard_normal((2, 3, 3, 4)).astype(np.float32)


@pytest.mark.parametrize("reference", ["nocolon", "a:b:c", ":f", "mod:", "1mod:f", "mod:f()", "mod :f", "", "a..b:f"])
def test_malformed_reference(reference):
    with pytest.raises(PluginError, match="malformed normalization reference"):
        load_normalization(reference)


def test_reference_must_be_a_string():
    with pytest.raises(PluginError, match="malformed"):
        load_normalization(42)


def test_missing_module():
    with pytest.raises(PluginError, match="no module named 'no_such_module_xyz'"):
        load_normalization("no_such_module_xyz.sub:f")


def test_module_whose_own_import_fails(user_module):
    mod = user_module("import no_such_dependency_xyz\n")
    with pytest.raises(PluginError, match=f"importing module '{mod}' failed: .*no_such_dependency_xyz"):
        load_normalization(f"{mod}:f")


def test_module_that_raises_on_import(user_module):
    mod = user_module("raise RuntimeError('broken at import')\n")
    with pytest.raises(PluginError, match="raised RuntimeError: broken at import"):
        load_normalization(f"{mod}:f")


def test_missing_attribute(user_module):
    mod = user_module("def g(x, config):\n    return x\n")
    with pytest.raises(PluginError, match=f"module '{mod}' has no attribute 'f'"):
        load_normalization(f"{mod}:f")


def test_not_callable(user_module):
    mod = user_module("f = 3.0\n")
    with pytest.raises(PluginError, match="'f' is a float, not a function"):
        load_normalization(f"{mod}:f")


@pytest.mark.parametrize("signature", ["x", "x, config, extra", "*, x, config"])
def test_wrong_signature(user_module, signature):
    mod = user_module(f"def f({signature}):\n    return 0\n")
    with pytest.raises(PluginError, match=r"must accept two positional arguments \(x, config\)"):
        load_normalization(f"{mod}:f")


@pytest.mark.parametrize("body, message", [
    ("return x[:, :, :, :2]", r"returned shape \(2, 3, 3, 2\) for input of shape \(2, 3, 3, 4\)"),
    ("return x.sum()", r"returned shape \(\) for input"),
    ("y = x.copy(); y[0, 0, 0, 0] = float('nan'); return y", r"returned 1 non-finite value\(s\) \(NaN or inf\)"),
    ("return x / 0.0", r"returned 72 non-finite value\(s\)"),
    ("return x.astype(complex)", "returned dtype complex128"),
    ("return x > 0", "returned dtype bool"),
    ("raise KeyError('oops')", "raised KeyError: 'oops'"),
])
def test_bad_output_is_caught_at_call_time(user_module, body, message):
    mod = user_module(f"import numpy as np\ndef f(x, config):\n    {body}\n")
    fn = load_normalization(f"{mod}:f")          # loading succeeds: the problem shows only when called
    with np.errstate(divide="ignore", invalid="ignore"), pytest.raises(PluginError, match=message) as info:
        fn(X)
    assert f"{mod}:f" in str(info.value)         # the message names the user's function


def test_wrapper_passes_settings_and_keeps_dtype(user_module):
    mod = user_module("""
        import numpy as np
        seen = []
        def f(x, config):
            seen.append(config)
            return x.astype(np.float64) * 2.0    # float64 result
    """)
    fn = load_normalization(f"{mod}:f")
    y = fn(X, groups=2, eps=0.5, batch_size=None)
    assert y.dtype == np.float32 and y.shape == X.shape
    np.testing.assert_array_equal(y, X * np.float32(2.0))
    assert importlib.import_module(mod).seen == [NormSettings(groups=2, eps=0.5, batch_size=None)]


def test_register_plugin_names_and_idempotence(user_module):
    mod = user_module("def MyNorm(x, config):\n    return x\n")
    name = register_plugin(f"{mod}:MyNorm")
    assert name == "mynorm" and "mynorm" in norms.NORMALIZATIONS
    assert register_plugin(f"{mod}:MyNorm") == "mynorm"        # a worker re-registering: same name
    assert register_plugin(f"{mod}:MyNorm", name="other") == "other"


def test_register_plugin_refuses_a_taken_name(user_module):
    mod = user_module("def ln(x, config):\n    return x\n")
    with pytest.raises(PluginError, match="a normalization of that name exists"):
        register_plugin(f"{mod}:ln")
    with pytest.raises(PluginError, match="invalid normalization name"):
        register_plugin(f"{mod}:ln", name="not an identifier")


def test_example_rms_norm_in_a_net():
    name = register_plugin("randnet.examples.rms_norm:rms_norm")
    fn = norms.NORMALIZATIONS[name]
    y = fn(X.astype(np.float64), eps=0.0)
    np.testing.assert_allclose(np.mean(y ** 2, axis=(1, 2, 3)), 1.0, rtol=1e-12)   # unit mean square per input
    config = NetConfig(widths=8, depth=3, norm=f"{name}+pn", dataset=DatasetSpec(n=4, height=6, width=6))
    stats = list(layer_stream(config, realization_seed(0, 0)))
    # RMS norm makes P(y^l) = 1 exactly (P(y) is the mean over inputs of their mean squares)
    np.testing.assert_allclose([s.power_y.sum(axis=0).mean() for s in stats], 1.0, rtol=1e-5)


# -- user code that ends the program or interrupts it --------------------------------------------------
@pytest.mark.parametrize("body, message", [
    ("import sys\ndef f(x, config):\n    sys.exit(0)\n", "the normalization called sys.exit(0)"),
    ("def f(x, config):\n    raise SystemExit('bye')\n", "the normalization called sys.exit('bye')"),
    ("def f(x, config):\n    raise KeyboardInterrupt\n", "the normalization raised KeyboardInterrupt (not a Ctrl-C)"),
])
def test_exit_and_interrupt_raised_by_the_plugin_are_its_errors(user_module, body, message):
    fn = load_normalization(f"{user_module(body)}:f")
    with pytest.raises(PluginError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fn(X)


def test_exit_at_import_is_the_plugins_error(user_module):
    mod = user_module("import sys\nsys.exit(3)\n")
    with pytest.raises(PluginError, match=f"importing module '{mod}' called sys.exit\\(3\\)"):
        load_normalization(f"{mod}:f")


def test_a_real_ctrl_c_during_the_plugin_still_stops_the_program(user_module):
    """A SIGINT delivered while the plugin runs is the user's Ctrl-C: it propagates as KeyboardInterrupt."""
    mod = user_module("import os, signal, time\ndef f(x, config):\n    os.kill(os.getpid(), signal.SIGINT)\n"
                      "    time.sleep(5)\n    return x\n")
    fn = load_normalization(f"{mod}:f")
    import signal
    started = signal.getsignal(signal.SIGINT)  # SIG_IGN when pytest runs in the background (`nohup … &`)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            fn(X)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is restored
    finally:
        signal.signal(signal.SIGINT, started)


def test_in_a_worker_thread_any_interrupt_is_the_plugins(user_module):
    import threading

    fn = load_normalization(f"{user_module('def f(x, config):' + chr(10) + '    raise KeyboardInterrupt' + chr(10))}:f")
    caught = []
    thread = threading.Thread(target=lambda: caught.append(pytest.raises(PluginError, fn, X)))
    thread.start()
    thread.join()
    assert caught and "not a Ctrl-C" in str(caught[0].value)


def test_source_files_and_a_stale_import(user_module, tmp_path):
    mod = user_module("def f(x, config):\n    return x\n")
    reference = f"{mod}:f"
    register_plugin(reference)
    (path,) = plugins.source_files(reference)
    assert path.name == f"{mod}.py" and reference in plugins.registered()
    path.write_text("def f(x, config):\n    return 2 * x\n")
    with pytest.raises(PluginError, match="changed on disk after this process imported it"):
        plugins.source_files(reference)


def test_resolve_norm():
    assert plugins.resolve_norm("gn+pn") == ("gn+pn", None)
    assert plugins.resolve_norm("randnet.examples.rms_norm:rms_norm+pn") == ("rms_norm+pn",
                                                                             "randnet.examples.rms_norm:rms_norm")


def test_a_sigterm_handled_as_an_interrupt_is_let_through(user_module):
    """A program that turns SIGTERM into KeyboardInterrupt (randnet-check does) still stops inside a plugin."""
    import signal

    class Stop(KeyboardInterrupt):
        pass

    def stop(signum, frame):
        raise Stop

    mod = user_module("import os, signal, time\ndef f(x, config):\n    os.kill(os.getpid(), signal.SIGTERM)\n"
                      "    time.sleep(5)\n    return x\n")
    fn = load_normalization(f"{mod}:f")
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        with pytest.raises(Stop):
            fn(X)
        assert signal.getsignal(signal.SIGTERM) is stop
    finally:
        signal.signal(signal.SIGTERM, previous)
