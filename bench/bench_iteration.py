"""Milliseconds per training iteration (loss + gradients + Adam update), side by side, in one run.

    python -m bench.bench_iteration [--cell rnn|lstm] [--rounds 15] [--iterations 5] [--as-is]

Sizes are the notebook's overfit run: N=25, T=16, D=512, W=256, H=512, V=1004, float32; --cell lstm
benchmarks the LSTM captioner of the LSTM_Captioning notebook at the same sizes.
Candidates: this engine (one CaptioningSolver iteration on a fixed minibatch) and the same model in
PyTorch CPU autograd (bench/torch_model.py, skipped when torch is not installed); for the LSTM also the
model with torch.nn.LSTM, which PyTorch runs with oneDNN's fused LSTM kernels. The engine runs in this
process, set up as the Streamlit server runs: started with serve.py's environment (two malloc arenas; on
AMD's Zen 4, OpenBLAS's AVX2 kernels), then core.runtime.configure (one BLAS thread, freed memory kept).
PyTorch runs in a process of its own, set up as this benchmark ran it before serve.py's environment existed
(torch imported, then core.runtime.configure and torch on one thread; without serve.py's variables, which are
the engine's settings: PyTorch runs MKL, not OpenBLAS), so that the engine's settings cannot change the
reference.
--as-is leaves both processes as the environment sets them.

The machine may be shared and its speed drifts, so every round runs the candidates back to back. The table
gives the median and the best round, the process CPU time, each candidate's share of the float32 GEMM
peak measured in the same run, in the engine's process (from the model's matrix-product flops counted
analytically), and the ratio to PyTorch twice: best round against best round, and the median of the
per-round ratios, which cancels the machine's slow and fast spells best.
"""

import argparse
import functools
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import serve
from core import runtime
from core.engine.captioning_solver import CaptioningSolver
from core.engine.rnn import GATES, CaptioningRNN

N, T, D, W, H, V = 25, 16, 512, 256, 512, 1004
LEARNING_RATE = 5e-3
SETTLE_SECONDS = 0.3


def model_flops(n=N, t=T, d=D, w=W, h=H, v=V, cell_type="rnn"):
    """Flops of the matrix products of one forward + backward pass (2 per multiply-add).

    Forward: h0 = f W_proj (N D H), x Wx (NT W G), h Wh per step (NT H G), scores h W_vocab (NT H V).
    Backward: dW_vocab and dh (2 NT H V), dh_prev = da Wh^T per step and dWh (2 NT H G),
    dWx and dx (2 NT W G), dW_proj (N D H); G = H for the RNN, 4H for the LSTM's four gates.
    Elementwise work (tanh, sigmoid, softmax, Adam) is not counted.
    """
    nt, g = n * t, GATES[cell_type] * h
    return 2 * (2 * n * d * h + 3 * nt * (w * g + h * g + h * v))


def gemm_gflops(size=2048, repeats=3):
    """Best float32 square matrix-product rates of a few tries, GFLOP/s: (by wall clock, by process CPU time)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        np.matmul(a, b, out=out)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    flops = 2 * size**3
    return flops / min(wall) / 1e9, flops / min(cpu) / 1e9


def make_problem(seed=0, cell_type="rnn"):
    """A fresh model (float32) of the cell type, one minibatch of random features and captions."""
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{i}" for i in range(V - 4)]
    word_to_idx = {w: i for i, w in enumerate(words)}
    model = CaptioningRNN(
        word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, cell_type=cell_type, seed=seed
    )
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((N, D)).astype(np.float32)
    captions = np.zeros((N, T + 1), dtype=np.int32)
    captions[:, 0] = 1
    for row in captions:
        length = rng.integers(8, T - 1)
        row[1 : 1 + length] = rng.integers(4, V, size=length)
        row[1 + length] = 2
    return model, features, captions


class FixedBatchSolver(CaptioningSolver):
    """A CaptioningSolver whose every minibatch is the same one, so all candidates train on the same data."""

    def __init__(self, model, features, captions, learning_rate=LEARNING_RATE):
        data = {"train_captions": captions, "train_image_idxs": np.arange(N), "train_features": features}
        super().__init__(
            model.copy(),
            data,
            update_rule="adam",
            optim_config={"learning_rate": learning_rate},
            batch_size=N,
            num_iterations=10**6,
            verbose=False,
        )
        self.batch = captions, features

    def sample_minibatch(self):
        return self.batch

    def train_once(self):
        return self.step(1)[0].loss


class EngineCandidate:
    """The engine, timed in this process."""

    names = ("engine (core)",)

    def __init__(self, model, features, captions):
        self.solver = FixedBatchSolver(model, features, captions)

    def first_losses(self):
        return {self.names[0]: self.solver.train_once()}

    def time(self, name, iterations):
        return timed(self.solver.train_once, iterations)

    def close(self):
        pass


class PyTorchProcess:
    """The PyTorch candidates in a process of their own (module docstring), timed there round by round."""

    def __init__(self, cell_type, as_is):
        server_variables = set() if as_is else set(serve.server_environment())
        environment = {name: value for name, value in os.environ.items() if name not in server_variables}
        command = [sys.executable, "-m", "bench.bench_iteration", "--cell", cell_type, "--pytorch-worker"]
        self.process = subprocess.Popen(
            command + (["--as-is"] if as_is else []),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=environment,
            cwd=Path(__file__).resolve().parents[1],
        )
        first = self._answer()
        self.environment, self.losses = first["environment"], first["losses"]
        self.names = tuple(self.losses)

    def first_losses(self):
        return self.losses

    def time(self, name, iterations):
        try:
            print(json.dumps([name, iterations]), file=self.process.stdin, flush=True)
        except BrokenPipeError:
            pass  # the process has ended: _answer says so
        return tuple(self._answer())

    def close(self):
        try:
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.process.wait()

    def _answer(self):
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the PyTorch process ended (exit code {self.process.wait()})")
        return json.loads(line)


def pytorch_worker(cell_type):
    """In the PyTorch process: answer with this process's setup and every candidate's first loss, then each
    [name, iterations] line read from stdin with the [wall ms, CPU ms] of one iteration.

    The answers keep the pipe of stdout to themselves: whatever else the process writes there (PyTorch's
    libraries can, oneDNN's verbose mode for one) goes to stderr instead."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    from bench import torch_model  # here only: the engine's process does not load PyTorch, as the server

    torch = torch_model.torch
    model, features, captions = make_problem(cell_type=cell_type)
    f_t, c_t = torch.from_numpy(features), torch.from_numpy(captions.astype(np.int64))
    trainers = {
        "pytorch autograd (bench/torch_model.py)": torch_model.TorchTrainer(
            model.params, LEARNING_RATE, cell_type
        )
    }
    if cell_type == "lstm":
        trainers["pytorch nn.LSTM, oneDNN (bench/torch_model.py)"] = torch_model.TorchLSTMModuleTrainer(
            model.params, LEARNING_RATE
        )
    runs = {name: functools.partial(trainer.iteration, f_t, c_t) for name, trainer in trainers.items()}
    setup = [
        f"PyTorch's process: torch {torch.__version__}, {torch.get_num_threads()} threads",
        *blas_lines(),
    ]
    first = {"environment": setup, "losses": {name: float(run()) for name, run in runs.items()}}
    print(json.dumps(first), file=answers, flush=True)
    for line in sys.stdin:
        name, iterations = json.loads(line)
        print(json.dumps(timed(runs[name], iterations)), file=answers, flush=True)


def timed(run, iterations):
    """[wall ms, process CPU ms] of one call of `run`: the mean of `iterations` calls after an untimed one,
    so that every round starts warm."""
    run()
    start, start_cpu = time.perf_counter(), time.process_time()
    for _ in range(iterations):
        run()
    return [
        (time.perf_counter() - start) / iterations * 1e3,
        (time.process_time() - start_cpu) / iterations * 1e3,
    ]


def environment():
    return [
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}",
        *blas_lines(),
    ]


def blas_lines():
    """This process's OpenBLAS variables and BLAS libraries, with their kernels and threads."""
    lines = [
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}"
    ]
    try:
        from threadpoolctl import threadpool_info

        for pool in threadpool_info():
            lines.append(
                f"{pool['internal_api']} {pool.get('version')} kernel {pool.get('architecture')}, "
                f"{pool['num_threads']} threads ({pool['user_api']})"
            )
    except ImportError:
        lines.append("threadpoolctl not installed: BLAS kernel not shown")
    return lines


def run_rounds(groups, rounds, iterations):
    """Time every candidate of `groups` in each of `rounds` rounds, after the GEMM peak: (wall ms, CPU ms) per
    candidate per round, and the peak's rates per round (wall, CPU)."""
    names = [(name, group) for group in groups for name in group.names]
    times = {name: [] for name, _ in names}
    cpu_times = {name: [] for name, _ in names}
    peaks, cpu_peaks = [], []
    for _ in range(rounds):
        wall_rate, cpu_rate = gemm_gflops()
        peaks.append(wall_rate)
        cpu_peaks.append(cpu_rate)
        for name, group in names:
            # Idle BLAS/OpenMP worker threads spin for a while after their last job (OpenBLAS's served the
            # 2-thread GEMM peak or the previous candidate): let them fall asleep so that no candidate
            # shares the cores with the previous one's spinning threads.
            time.sleep(SETTLE_SECONDS)
            wall, cpu = group.time(name, iterations)
            times[name].append(wall)
            cpu_times[name].append(cpu)
    return times, cpu_times, peaks, cpu_peaks


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cell", choices=("rnn", "lstm"), default="rnn", help="the captioner's cell (default rnn)"
    )
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument(
        "--iterations", type=int, default=5, help="iterations per candidate per round (default 5)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("engine", "pytorch"),
        help="run only these candidates (default: all)",
    )
    parser.add_argument(
        "--as-is",
        action="store_true",
        help="leave BLAS threads and malloc as the environment sets them (default: the engine as the server "
        "runs, PyTorch without serve.py's variables)",
    )
    parser.add_argument("--pytorch-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pytorch_worker:
        import torch  # installed: the engine's process found it before starting this one

        if not args.as_is:
            # In this order, as when PyTorch ran in the engine's process: the limit covers MKL, loaded with torch.
            runtime.configure()
            torch.set_num_threads(1)
        pytorch_worker(args.cell)
        return
    started_as_the_server = not args.as_is and serve.restart_with_server_environment(Path(__file__))
    if not args.as_is:
        runtime.configure()

    for line in environment():
        print(line)
    if args.as_is:
        print("processes: as the environment sets them")
    elif started_as_the_server:
        print("the engine's process: as the server runs (serve.py's variables, core.runtime.configure)")
    else:
        print("the engine's process: core.runtime.configure; serve.py's variables set, not read (no restart)")
    model, features, captions = make_problem(cell_type=args.cell)
    flops = model_flops(cell_type=args.cell)
    print(
        f"cell {args.cell}, sizes N={N} T={T} D={D} W={W} H={H} V={V}, float32; "
        f"{flops / 1e9:.3f} GFLOP per iteration"
    )
    wanted = set(args.only or ("engine", "pytorch"))
    groups = [EngineCandidate(model, features, captions)] if "engine" in wanted else []
    if "pytorch" in wanted and importlib.util.find_spec("torch") is None:
        print("torch not installed: PyTorch rows skipped")
    elif "pytorch" in wanted:
        groups.append(PyTorchProcess(args.cell, args.as_is))
        print("\n".join(groups[-1].environment))
    try:
        for group in groups:
            for name, loss in group.first_losses().items():
                print(f"  first-iteration loss {loss:.5f}  {name}")
        times, cpu_times, peaks, cpu_peaks = run_rounds(groups, args.rounds, args.iterations)
    finally:
        for group in groups:
            group.close()

    peak, cpu_peak = max(peaks), max(cpu_peaks)
    print(
        f"\nfloat32 GEMM peak (2048^3 sgemm, best of {len(peaks) * 3}): {peak:.1f} GFLOP/s by wall clock "
        f"(median round {statistics.median(peaks):.1f}); {cpu_peak:.1f} GFLOP/s per process CPU second"
    )
    reference = "pytorch autograd (bench/torch_model.py)"
    module = "pytorch nn.LSTM, oneDNN (bench/torch_model.py)"
    # per-round ratio columns: against the autograd model, and against nn.LSTM when it runs (--cell lstm)
    columns = [(reference, "x torch/round", 13)] + (
        [(module, "x nn.LSTM/round", 15)] if module in times else []
    )
    header = (
        f"{'candidate':48s} {'median ms':>9s} {'best ms':>8s} {'CPU ms':>7s} {'% peak':>7s} {'x torch':>7s}"
    )
    print(header + "".join(f" {title:>{width}s}" for _, title, width in columns))
    print("-" * (len(header) + sum(width + 1 for *_, width in columns)))
    for name in times:
        best, best_cpu = min(times[name]), min(cpu_times[name])
        share = flops / (best / 1e3) / 1e9 / peak * 100
        ratio = f"{best / min(times[reference]):.2f}" if reference in times else "n/a"
        # Each round runs the candidates back to back, so the ratio within a round cancels the machine's
        # slow and fast spells; the median over rounds is the steadiest comparison.
        per_round = "".join(
            f" {round_ratio(times[name], times[other]):{width}.2f}"
            if other in times
            else f" {'n/a':>{width}s}"
            for other, _, width in columns
        )
        print(
            f"{name:48s} {statistics.median(times[name]):9.2f} {best:8.2f} {best_cpu:7.2f} {share:6.1f}%"
            f" {ratio:>7s}{per_round}"
        )


def round_ratio(times, reference_times):
    """Median over rounds of times / reference_times."""
    return statistics.median(a / b for a, b in zip(times, reference_times, strict=True))


if __name__ == "__main__":
    main()
