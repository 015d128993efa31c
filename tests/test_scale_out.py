"""The sampled estimator on Dask (issue 26): the same numbers for any number of workers, on an external
scheduler and after a worker is killed; the chunks really ran on the cluster (its task stream says so)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from distributed import Client, LocalCluster, get_task_stream

from perturbo import ShapedMLP
from perturbo.cli import main
from perturbo.sampled.estimator import forget_draws
from perturbo.sampled.patterns import patterns

from .datasets import make_data

NET = ShapedMLP(depth=3, width=50, psi=-0.6)
X, Y, XT = make_data(P=10, N0=16, T=2, seed=3)
BETA, ORDER, SAMPLES = 2.0, 2, 64


def predict(**where):
    forget_draws()  # draw again: the cache would otherwise hand back the first execution's values
    return NET.predict(X, Y, XT, beta=BETA, order=ORDER, method="sampled", samples=SAMPLES, seed=0, **where)


def assert_identical(a, b) -> None:
    for name in ("mean_terms", "cov_terms", "mean_terms_se", "cov_terms_se"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with Client(cluster) as c:
        yield c
    cluster.close()


def test_one_and_two_workers_give_bit_identical_numbers(client):
    one = predict(workers=1)
    with get_task_stream(client) as stream:
        two = predict(client=client)
    chunk_tasks = [task for task in stream.data if task["key"].startswith("_piece_values")]
    assert len(chunk_tasks) >= len(patterns(NET.depth, ORDER))  # every pattern's draws, in pieces
    assert len({task["worker"] for task in chunk_tasks}) == 2  # both workers drew
    assert_identical(one, two)
    serial = predict()  # this process: BLAS may use other threads, so equal to rounding, not bit for bit
    np.testing.assert_allclose(serial.cov_terms, two.cov_terms, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(serial.mean_terms, two.mean_terms, rtol=1e-10, atol=1e-14)
    assert np.all(two.var_terms_se[2] > 0)  # the order-2 terms were estimated, not exact


def test_an_external_scheduler_gives_the_same_numbers(tmp_path):
    address_file = tmp_path / "scheduler.json"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0",
                                  "--dashboard-address", ":0", "--scheduler-file", str(address_file)], **quiet)
    worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
                               str(address_file), "--nworkers", "2", "--nthreads", "1", "--no-dashboard"], **quiet)
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        with Client(address) as watcher:
            watcher.wait_for_workers(2, timeout=60)
        assert_identical(predict(scheduler=address), predict(workers=1))
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)


def test_a_killed_worker_changes_nothing(client):
    """SIGKILL one worker process while chunks are running: Dask reruns its tasks, the answer is unchanged."""
    reference = predict(client=client)
    pids = client.run(os.getpid)
    outcome: list = []
    forget_draws()
    run = threading.Thread(target=lambda: outcome.append(NET.predict(
        X, Y, XT, beta=BETA, order=ORDER, method="sampled", samples=SAMPLES, seed=0, client=client)))

    def finished_chunks(dask_scheduler) -> int:
        return sum(ts.state == "memory" for ts in dask_scheduler.tasks.values()
                   if str(ts.key).startswith("_piece_values"))

    run.start()
    deadline = time.monotonic() + 120
    while client.run_on_scheduler(finished_chunks) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.is_alive()  # killed mid-run
    victim = next(iter(pids.values()))
    os.kill(victim, signal.SIGKILL)
    run.join(timeout=300)
    assert outcome, "the run did not finish after the worker was killed"
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it
    assert victim not in client.run(os.getpid).values()
    assert_identical(outcome[0], reference)


def test_the_cli_on_workers_matches_the_api(tmp_path, capsys):
    path = tmp_path / "data.npz"
    np.savez(path, X=X, y=Y, X_test=XT)
    code = main(["evaluate", "--data", str(path), "--depth", "3", "--width", "50", "--psi", "-0.6", "--beta", "2",
                 "--order", "2", "--method", "sampled", "--samples", str(SAMPLES), "--workers", "2", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    api = predict(workers=1)
    assert np.array_equal(out["mean_terms"], api.mean_terms)
    assert np.array_equal(out["var_terms_se"], api.var_terms_se)


@pytest.mark.parametrize("where, message", [
    ({"workers": 0}, "workers must be a positive integer"),
    ({"workers": 2.5}, "workers must be a positive integer"),
    ({"scheduler": "localhost"}, "scheduler must be an address"),
    ({"client": "tcp://127.0.0.1:8786"}, "client must be a dask.distributed.Client"),
    ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "give one of workers=, scheduler= or client="),
])
def test_bad_execution_arguments_are_clear_errors(where, message):
    with pytest.raises(ValueError, match=message):
        NET.evidence(X, Y, beta=BETA, order=1, method="sampled", samples=8, **where)


def test_a_scheduler_that_does_not_answer_is_a_clear_error():
    with pytest.raises(ValueError, match="no Dask scheduler answered at tcp://127.0.0.1:9 within"):
        NET.evidence(X, Y, beta=BETA, order=1, method="sampled", samples=8, scheduler="tcp://127.0.0.1:9")


def test_workers_without_sampling_is_an_error_and_a_missing_dask_names_the_extra(monkeypatch):
    with pytest.raises(ValueError, match="method='sampled' or 'auto'"):
        NET.evidence(X, Y, beta=BETA, order=1, workers=2)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra were not installed
    with pytest.raises(ValueError, match=r"pip install -e \"\.\[distributed\]\""):
        NET.evidence(X, Y, beta=BETA, order=1, method="sampled", samples=8, workers=2)


def test_a_worker_receives_the_kernels_and_rebuilds_the_rest():
    """What is shipped to each worker: the kernels and the read-out, not the layer maps' Taylor coefficients
    (``B L`` more matrices); unpickled, the network gives the same pattern values bit for bit."""
    import pickle

    from perturbo.sampled.estimator import _piece_values
    from perturbo.sampled.pattern_values import SampledNetwork, Readout

    kernels = NET.kernels(np.vstack([X, XT]))
    M = len(kernels[-1])
    network = SampledNetwork(NET.activation.phi, NET.sigma_w2, kernels, Readout.at(kernels[-1], len(X), Y, 0.5))
    shipped = pickle.dumps(network)
    assert len(shipped) < (len(kernels) + 3) * M * M * 8 + 20_000  # kernels, K and A of the read-out, y
    pattern = patterns(NET.depth, ORDER)[-1]
    here = _piece_values([network], pattern, 0, 0, 4, M, slice(0, 4))
    there = _piece_values([pickle.loads(shipped)], pattern, 0, 0, 4, M, slice(0, 4))
    assert all(np.array_equal(a, b) for a, b in zip(here, there))
