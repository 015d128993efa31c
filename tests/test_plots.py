"""Plots: the numbers behind them (slopes, Gaussian-process band, interpolation) and the files they write."""
import math
import sys

import numpy as np
import pytest

from perturbo import ShapedMLP
from perturbo.cli import main
from perturbo.datasets import linear_teacher
from perturbo.plots import convergence_data, plot_convergence, plot_predictive, predictive_data, regimes_data
from tests.datasets import make_data

X, Y, XT = make_data(P=3, N0=8, T=1, seed=0)
MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF-"}


def linear(width):
    return ShapedMLP(2, width)


def shaped(width):
    return ShapedMLP(3, width, psi=-0.6)  # as in tests/test_compiled.py, which builds its compiled kernels too


@pytest.fixture(scope="module")
def linear_convergence():
    return convergence_data(linear, X, Y, [64, 128, 256, 512], max_order=1)


@pytest.fixture(scope="module")
def shaped_convergence():
    return convergence_data(shaped, X, Y, [16, 64], beta=2.0, max_order=0, samples=2000, seed=1)


@pytest.fixture
def matplotlib():
    return pytest.importorskip("matplotlib")


def test_deep_linear_order_k_error_falls_like_n_to_the_minus_k_plus_1(linear_convergence):
    # zero temperature, exact reference; measured: -0.99 and -2.13 (the order-1 error is still pre-asymptotic)
    assert linear_convergence.reference == "exact"
    np.testing.assert_allclose(linear_convergence.slopes, [-1.0, -2.0], atol=0.15)
    assert np.all(np.diff(linear_convergence.errors, axis=1) < 0)
    assert np.all(linear_convergence.errors[1] < linear_convergence.errors[0])


def test_shaped_network_is_measured_against_monte_carlo_and_its_noise(shaped_convergence):
    net = shaped(16)
    mc = net.monte_carlo(X, Y, beta=2.0, samples=2000, seed=1)
    gp = net.evidence(X, Y, beta=2.0, order=0).log_evidence
    assert shaped_convergence.reference == "Monte Carlo"
    assert shaped_convergence.errors[0, 0] == pytest.approx(abs(gp - mc.log_evidence), rel=1e-12)
    assert shaped_convergence.floor[0] == pytest.approx(2 * mc.log_evidence_se, rel=1e-12)


def test_posterior_variance_converges_at_a_test_point():
    data = convergence_data(linear, X, Y, [64, 256], beta=3.0, max_order=1, quantity="var", x_test=XT[0])
    exact = linear(64).exact(X, Y, XT, beta=3.0).var[0]
    gp = linear(64).predict(X, Y, XT, beta=3.0, order=0).var[0]
    assert data.errors[0, 0] == pytest.approx(abs(gp - exact), rel=1e-10)
    np.testing.assert_allclose(data.slopes, [-1.0, -2.0], atol=0.2)


def test_order_0_band_is_gaussian_process_regression_and_order_k_adds_the_correction():
    net, beta, P = ShapedMLP(3, 32), 2.0, len(Y)
    data = predictive_data(net, X, Y, beta=beta, order=1, points=7)
    np.testing.assert_allclose(data.inputs[0], X[0] - 0.5 * (X[1] - X[0]), rtol=1e-12)  # default line X[0] -> X[1]
    K = net.kernels(np.vstack([X, data.inputs]))[-1]
    A = np.linalg.inv(K[:P, :P] + P / beta * np.eye(P))
    var = np.diag(K[P:, P:]) - np.einsum("ij,jk,ik->i", K[P:, :P], A, K[P:, :P])
    np.testing.assert_allclose(data.mean[0], K[P:, :P] @ A @ Y, rtol=1e-10)
    np.testing.assert_allclose(data.std[0], np.sqrt(var), rtol=1e-8)
    point = net.predict(X, Y, data.inputs[[3]], beta=beta, order=1)
    assert data.orders == (0, 1)
    assert data.mean[1, 3] == pytest.approx(point.mean[0], rel=1e-10)
    assert data.std[1, 3] == pytest.approx(math.sqrt(point.var[0]), rel=1e-10)
    assert abs(data.std[1, 3] - data.std[0, 3]) > 1e-3


def test_mean_passes_through_the_training_targets_on_the_line_at_zero_temperature():
    data = predictive_data(shaped(32), X, Y, order=1, points=5, t_range=(-1.0, 1.0))  # t = -1, -0.5, 0, 0.5, 1
    np.testing.assert_allclose(data.train_t, [0.0, 1.0], atol=1e-12)  # X[2] is off the line
    np.testing.assert_allclose(data.train_y, Y[:2])
    np.testing.assert_allclose(data.mean[:, [2, 4]], [Y[:2], Y[:2]], atol=1e-8)
    assert np.all(data.std[:, [2, 4]] < 1e-5) and np.all(data.std[:, [0, 1, 3]] > 1e-2)


@pytest.mark.parametrize("suffix", [".png", ".pdf"])
def test_plots_render_to_png_and_pdf(suffix, matplotlib, linear_convergence, shaped_convergence, tmp_path):
    predictive = predictive_data(linear(32), X, Y, order=0, points=9)
    paths = [
        plot_convergence(linear_convergence, tmp_path / f"linear{suffix}"),
        plot_convergence(shaped_convergence, tmp_path / f"shaped{suffix}"),
        plot_predictive(predictive, tmp_path / f"predictive{suffix}"),
    ]
    for path in paths:
        assert path.stat().st_size > 1000 and path.read_bytes().startswith(MAGIC[suffix])


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda out, data: plot_convergence(data, out / "c.jpg"), "unknown format '.jpg'"),
        (lambda out, data: plot_convergence(data, out / "missing" / "c.png"), "does not exist"),
        (lambda out, data: convergence_data(linear, X, Y, []), "at least two different widths"),
        (lambda out, data: convergence_data(linear, X, Y, [64, 64]), "at least two different widths"),
        (lambda out, data: convergence_data(linear, X, Y, [0, 64]), "integer >= 1"),
        (lambda out, data: convergence_data(linear, X, Y, [32, 64], quantity="std"), "quantity must be one of"),
        (lambda out, data: convergence_data(linear, X, Y, [32, 64], quantity="mean"), "needs a test input"),
        (lambda out, data: convergence_data(shaped, X, Y, [32, 64], quantity="var", x_test=XT[0]), "no standard error"),
        (lambda out, data: predictive_data(linear(8), X, Y, points=1), "points must be an integer >= 2"),
        (lambda out, data: predictive_data(linear(8), X, Y, t_range=(1, 0)), "increasing"),
        (lambda out, data: predictive_data(linear(8), X, Y, direction=np.zeros(8)), "nonzero"),
        (lambda out, data: predictive_data(linear(8), X, Y, x0=np.zeros(3)), "length N0 = 8"),
    ],
)
def test_bad_input_raises_value_error_and_writes_nothing(call, message, linear_convergence, tmp_path):
    with pytest.raises(ValueError, match=message):
        call(tmp_path, linear_convergence)
    assert list(tmp_path.iterdir()) == []


def test_missing_matplotlib_is_a_one_line_value_error(monkeypatch, linear_convergence, tmp_path):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ValueError, match=r"pip install 'perturbo\[plot\]'"):
        plot_convergence(linear_convergence, tmp_path / "c.png")


def test_cli_plot_convergence_writes_the_file(matplotlib, tmp_path, capsys):
    out = tmp_path / "convergence.pdf"
    args = ["plot", "convergence", "--depth", "2", "--widths", "32,64,128", "--order", "1", "--out", str(out)]
    assert main(args) == 0
    assert out.read_bytes().startswith(MAGIC[".pdf"])
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "order 1: fitted slope" in printed


def test_cli_plot_predictive_writes_the_file(matplotlib, tmp_path, capsys):
    out = tmp_path / "predictive.png"
    assert main(["plot", "predictive", "--depth", "2", "--width", "32", "--points", "9", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(MAGIC[".png"])
    assert f"wrote {out}" in capsys.readouterr().out


def test_cli_plot_bad_suffix_is_one_line_and_exit_status_2(tmp_path, capsys):
    assert main(["plot", "predictive", "--out", str(tmp_path / "p.gif")]) == 2
    err = capsys.readouterr().err
    assert "unknown format '.gif'" in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_regime_map_follows_the_exact_answer_where_the_series_stops():
    """Deep linear network, widths from the kernel regime to ``L P / N = 3``: the loop-corrected renormalisation's error
    in the log evidence per point is at most a fifth of the order-1 series' at every width (measured: an eighth to a
    twelfth), 1.4e-3 at ``L P / N = 3`` where the series is 1.7e-2 off; both agree with the exact answer in the kernel
    regime."""
    X, y, X_test, y_test = linear_teacher(24, 8)
    result = regimes_data(lambda n: ShapedMLP(depth=3, width=n), X, y, X_test, y_test,
                          [1440, 360, 90, 24], beta=math.inf, max_order=1)
    np.testing.assert_allclose(result.depth_ratio, [0.05, 0.2, 0.8, 3.0])
    exact = result.log_evidence["exact"]
    loop = np.abs(result.log_evidence["Wishart, saddle + loop"] - exact)
    series = np.abs(result.log_evidence["series, order 1"] - exact)
    assert np.all(loop < 0.2 * series) and loop[-1] < 2e-3 and series[0] < 1e-4, (loop, series)
    assert set(result.test_error) == set(result.log_evidence)


def test_cli_plot_regimes_writes_the_file(matplotlib, tmp_path, capsys):
    out = tmp_path / "regimes.png"
    assert main(["plot", "regimes", "--depth", "2", "--widths", "200,50,20", "--order", "1", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(MAGIC[".png"])
    assert f"wrote {out}" in capsys.readouterr().out


def test_cli_plot_learning_curves_writes_the_file(matplotlib, tmp_path, capsys):
    """Three panels (against P, depth at fixed L/N and L P/N) on a small digits task, no sampler."""
    out = tmp_path / "curves.png"
    args = ["plot", "learning-curves", "--data", "digits:0,1:20:20", "--depth", "2", "--width", "20", "--psi", "-0.6",
            "--sizes", "10,20", "--depths", "1,2", "--widths", "40,20", "--out", str(out)]
    assert main(args) == 0
    assert out.read_bytes().startswith(MAGIC[".png"]) and f"wrote {out}" in capsys.readouterr().out


def test_learning_curves_against_the_number_of_points_on_the_deep_linear_network():
    """The exact deep linear answer's test error falls as ``P`` grows (a linear teacher), and the Wishart ansatz with
    its loop stays within 1e-2 of it at every size (``L P / N <= 1.5``)."""
    from perturbo.plots import learning_curves_data

    X, y, X_test, y_test = linear_teacher(40, 40, dimension=60, noise=0.3)
    (curve,) = learning_curves_data(lambda L, N: ShapedMLP(depth=L, width=N), X, y, X_test, y_test, depth=3, width=80,
                                    sizes=[10, 20, 40], depths=[], widths=[], beta=40.0)
    exact = curve.errors["exact"]
    assert curve.axis == "P (training points)" and np.all(np.diff(exact) < 0)
    assert np.max(np.abs(curve.errors["Wishart, saddle + loop"] - exact)) < 1e-2
