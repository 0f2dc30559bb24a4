"""Milliseconds per training iteration (loss + gradients + Adam update), side by side, in one run.

    python -m bench.bench_iteration [--rounds 7] [--iterations 10]

Sizes are the notebook's overfit run: N=25, T=16, D=512, W=256, H=512, V=1004, float32.
Candidates: this engine (core.CaptioningRNN + core.optim.adam in place), the per-timestep
course-notes loop (bench/baseline_loop.py) and PyTorch CPU autograd (bench/torch_model.py, skipped
when torch is not installed). The float32 GEMM peak is measured in the same run, and each candidate
is reported as a share of it using the model's matrix-product flops counted analytically.
The machine may be shared, so rounds interleave the candidates and the table gives the median and
the best round by wall clock (the best is the closest to an idle machine), plus the process CPU time
per iteration, which with one thread (OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1) barely depends on
what else runs.
"""

import argparse
import os
import platform
import statistics
import time

import numpy as np

import core.layers as core_layers
from bench import baseline_loop, torch_model
from core.model import CaptioningRNN
from core.optim import adam, update_parameters

N, T, D, W, H, V = 25, 16, 512, 256, 512, 1004
LEARNING_RATE = 5e-3
SETTLE_SECONDS = 0.3


def model_flops(n=N, t=T, d=D, w=W, h=H, v=V):
    """Flops of the matrix products of one forward + backward pass (2 per multiply-add).

    Forward: h0 = f W_proj (N D H), x Wx (NT W H), h Wh per step (NT H H), scores h W_vocab (NT H V).
    Backward: dW_vocab and dh (2 NT H V), dh_prev = da Wh^T per step and dWh (2 NT H H),
    dWx and dx (2 NT W H), dW_proj (N D H). Elementwise work (tanh, softmax, Adam) is not counted.
    """
    nt = n * t
    return 2 * (2 * n * d * h + 3 * nt * (w * h + h * h + h * v))


def engine_flops(captions):
    """Flops the engine executes on this batch: its vocabulary products skip rows whose target is <NULL>."""
    scored = np.count_nonzero(captions[:, 1:]) / (N * T)
    vocab = 3 * 2 * N * T * H * V
    return model_flops() - vocab * (1 - scored), scored


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


def make_problem(seed=0):
    """Params of a fresh model (float32), one minibatch of random features and captions."""
    words = ["<NULL>", "<START>", "<END>", "<UNK>"] + [f"w{i}" for i in range(V - 4)]
    word_to_idx = {w: i for i, w in enumerate(words)}
    model = CaptioningRNN(word_to_idx, input_dim=D, wordvec_dim=W, hidden_dim=H, seed=seed)
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((N, D)).astype(np.float32)
    captions = np.zeros((N, T + 1), dtype=np.int32)
    captions[:, 0] = 1
    for row in captions:
        length = rng.integers(8, T - 1)
        row[1 : 1 + length] = rng.integers(4, V, size=length)
        row[1 + length] = 2
    return model, features, captions


class EngineTrainer:
    """What CaptioningSolver does per iteration, minus minibatch sampling: loss, grads, in-place Adam."""

    def __init__(self, model, learning_rate=LEARNING_RATE):
        self.model = model.copy()
        self.configs = {name: {"learning_rate": learning_rate} for name in model.params}

    def iteration(self, features, captions):
        loss, grads = self.model.loss(features, captions)
        update_parameters(adam, self.model.params, grads, self.configs)
        return loss


def candidates(model, features, captions, only=None):
    """(name, run one iteration) for every candidate available on this machine, or those named in `only`."""
    found = []
    engine = EngineTrainer(model)
    found.append(("engine (core)", lambda: engine.iteration(features, captions)))
    baseline = baseline_loop.BaselineTrainer(model.params, LEARNING_RATE)
    found.append(("course loop (bench/baseline_loop.py)", lambda: baseline.iteration(features, captions)))
    if torch_model.available():
        torch = torch_model.torch
        trainer = torch_model.TorchTrainer(model.params, LEARNING_RATE)
        f_t, c_t = torch.from_numpy(features), torch.from_numpy(captions.astype(np.int64))
        found.append(("pytorch autograd (bench/torch_model.py)", lambda: trainer.iteration(f_t, c_t)))
    if only:
        found = [(name, run) for name, run in found if name.split()[0] in only]
    return found


def first_losses(model, features, captions):
    """Each candidate's loss on the same params, to show they compute the same thing."""
    return {name: run() for name, run in candidates(model, features, captions)}


def environment():
    lines = [
        f"python {platform.python_version()}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}",
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
        f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}",
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
    if torch_model.available():
        torch = torch_model.torch
        lines.append(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        lines.append("torch not installed: PyTorch row skipped")
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--iterations", type=int, default=10, help="iterations per candidate per round")
    parser.add_argument(
        "--only",
        nargs="+",
        choices=("engine", "course", "pytorch"),
        help="run only these candidates (default: all)",
    )
    parser.add_argument(
        "--parallel",
        choices=("auto", "never", "always"),
        default="auto",
        help="core.layers.PARALLEL for the engine: auto = two Python threads when BLAS allows more than one "
        "thread (default), never = the serial path with BLAS's own threads",
    )
    args = parser.parse_args(argv)
    core_layers.PARALLEL = args.parallel

    for line in environment():
        print(line)
    print(f"engine path: core.layers.PARALLEL = {args.parallel!r}")
    model, features, captions = make_problem()
    print(
        f"sizes N={N} T={T} D={D} W={W} H={H} V={V}, float32; {model_flops() / 1e9:.3f} GFLOP per iteration"
    )
    for name, loss in first_losses(model, features, captions).items():
        print(f"  first-iteration loss {loss:.5f}  {name}")

    executed, scored = engine_flops(captions)
    print(
        f"  {scored:.0%} of the targets are words, the rest <NULL>: the engine skips the vocabulary products of "
        f"<NULL> rows and executes {executed / 1e9:.3f} GFLOP; the % column counts the full model for everyone"
    )
    runs = candidates(model, features, captions, args.only)
    times = {name: [] for name, _ in runs}
    cpu_times = {name: [] for name, _ in runs}
    peaks, cpu_peaks = [], []
    for _ in range(args.rounds):
        wall_rate, cpu_rate = gemm_gflops()
        peaks.append(wall_rate)
        cpu_peaks.append(cpu_rate)
        for name, run in runs:
            # Idle BLAS/OpenMP worker threads spin for a while after their last job (OpenBLAS's served the
            # 2-thread GEMM peak or the previous candidate): let them fall asleep so that no candidate
            # shares the cores with the previous one's spinning threads.
            time.sleep(SETTLE_SECONDS)
            run()  # one untimed iteration so each round starts warm
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(args.iterations):
                run()
            times[name].append((time.perf_counter() - start) / args.iterations * 1e3)
            cpu_times[name].append((time.process_time() - start_cpu) / args.iterations * 1e3)

    peak, cpu_peak, flops = max(peaks), max(cpu_peaks), model_flops()
    print(
        f"\nfloat32 GEMM peak (2048^3 sgemm, best of {len(peaks) * 3}): {peak:.1f} GFLOP/s by wall clock "
        f"(median round {statistics.median(peaks):.1f}); {cpu_peak:.1f} GFLOP/s per process CPU second"
    )
    print(
        "CPU ms/it is the process CPU time (all its threads): with one BLAS/OpenMP thread it hardly moves when\n"
        "other programs share the cores, so its % of the CPU-time peak is the figure to trust on a busy machine."
    )
    reference = "pytorch autograd (bench/torch_model.py)"
    header = (
        f"{'candidate':40s} {'median ms':>9s} {'best ms':>8s} {'% peak':>7s} {'x torch':>7s}"
        f" {'CPU ms':>7s} {'% CPU peak':>10s} {'x torch':>7s}"
    )
    print(header)
    print("-" * len(header))
    for name in times:
        best, best_cpu = min(times[name]), min(cpu_times[name])
        share = flops / (best / 1e3) / 1e9 / peak * 100
        cpu_share = flops / (best_cpu / 1e3) / 1e9 / cpu_peak * 100
        ratio = f"{best / min(times[reference]):.2f}" if reference in times else "n/a"
        cpu_ratio = f"{best_cpu / min(cpu_times[reference]):.2f}" if reference in times else "n/a"
        print(
            f"{name:40s} {statistics.median(times[name]):9.2f} {best:8.2f} {share:6.1f}% {ratio:>7s}"
            f" {best_cpu:7.2f} {cpu_share:9.1f}% {cpu_ratio:>7s}"
        )


if __name__ == "__main__":
    main()
