"""Wall time of one activation race, as the page runs it and as it could: threads, one thread, ticks, processes.

    python -m bench.bench_race [--rounds 5] [--iterations 100] [--lanes tanh sigmoid] [--only threads ...]
    python -m bench.bench_race --redraws [--busy 2]
    python -m bench.bench_race --crowd 6 [--rounds 3]

The race is the page's default, the notebook's overfit run: 50 training captions of the app's dataset
(load_coco_data: COCO if present, else the embedded one, V from its vocabulary), N = 25 per minibatch, T = 16
less the all-<NULL> columns the solver trims, D = 512, W = 256, H = 512, Adam 5e-3, decay 0.95, 100 iterations,
lanes tanh and sigmoid. The process is set up as the server runs (serve.py's environment, then
core.runtime.configure: one BLAS thread, freed memory kept). Candidates, interleaved round by round so that
they share the machine's spells:

- threads: ui.race_runner.RaceRunner, what the page runs (one worker per lane up to the cores, at a lower
  priority);
- one thread: Race.step, the lanes in turn on this thread: the best that longer ticks of the page's script
  could reach;
- ticks 0.25/0.5 s: the page before RaceRunner: every 0.5 s a tick trained the lanes in turn for at most
  0.25 s (its slowest round had to fit in what was left);
- processes: one spawned worker process per lane (a Streamlit server runs threads, so it could not fork),
  each building its one-lane race from the same seed and training it; its time includes starting Python and
  importing NumPy. Their peak memory is printed, what a server would add per lane.

Reported per candidate: median, best and worst wall time of the race and its process CPU time (this process
only; the workers' own for processes). Every candidate's losses are checked against the one-thread run.

--redraws: what a redraw of the race page waits for while the race trains (RaceRunner.records(), every
REDRAW_INTERVAL), with `--busy` processes spinning at normal priority beside it, as other learners' work
would on a shared server; the race's workers run at the lower priority.

--crowd K: K learners' races of these settings started at once, as K race pages of one server would, trained by
the server's one crew of workers (ui.race_runner.WORKERS, the page) and by a crew of their own each (one worker per
lane up to the cores, as before the shared crew); each run in a spawned process of its own. Reported per
schedule: the time until every race is done, and how much the process's resident memory grew from before the
races started to its peak (sampled every CROWD_SAMPLE_S).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import serve
from core import runtime
from core.data.coco_utils import load_coco_data
from core.lab.race import Race, RaceConfig
from ui.race_runner import RaceRunner, Workers, usable_cores

REDRAW_INTERVAL = 0.25
REDRAWS = 40
# The previous page's schedule.
TICK_BUDGET = 0.25
TICK_INTERVAL = 0.5
ROUNDS_PER_TICK = 10
CROWD_SAMPLE_S = 0.02


def run_threads(race):
    runner = RaceRunner(race)
    runner.start()
    runner.join()


def run_one_thread(race):
    race.step(race.target)


def run_ticks(race):
    """Ticks of the previous page: rounds of every lane in turn within TICK_BUDGET, one tick per TICK_INTERVAL."""
    while not race.done:
        start = time.perf_counter()
        slowest, rounds = 0.0, 0
        while not race.done and rounds < ROUNDS_PER_TICK:
            round_start = time.perf_counter()
            race.step(1)
            rounds += 1
            now = time.perf_counter()
            slowest = max(slowest, now - round_start)
            if now - start + slowest > TICK_BUDGET:
                break
        time.sleep(max(TICK_INTERVAL - (time.perf_counter() - start), 0.0))


def _lane_process(config, lane, queue):
    runtime.configure()
    race = Race(load_coco_data(), RaceConfig(**{**config, "activations": (lane,)}))
    race.step(race.target)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put((lane, race.lanes[0].losses, peak_kib, time.process_time()))


def run_processes(race, report):
    """One spawned process per lane; report gets each lane's losses, peak RSS and CPU time."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    config = {
        key: getattr(race.config, key)
        for key in (
            "num_train",
            "hidden_dim",
            "wordvec_dim",
            "learning_rate",
            "lr_decay",
            "batch_size",
            "seed",
        )
    }
    config["iterations"] = race.target
    workers = [
        context.Process(target=_lane_process, args=(config, lane.activation, queue)) for lane in race.lanes
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        lane, losses, peak_kib, cpu = queue.get()
        report[lane] = (losses, peak_kib, cpu)
    for worker in workers:
        worker.join()


def _resident_mib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024**2


def _crowd_process(config, count, shared):
    """In a fresh process: `count` races of `config` at once, trained by the server's crew if `shared`, else by
    a crew of their own each; returns (seconds until all are done, peak resident MiB less the MiB before)."""
    runtime.configure()
    data = load_coco_data()
    runners = [
        RaceRunner(Race(data, config), crew=None if shared else Workers(usable_cores())) for _ in range(count)
    ]
    runtime.release_free_memory()
    before = peak = _resident_mib()
    start = time.perf_counter()
    for runner in runners:
        runner.start()
    while not all(runner.race.done for runner in runners):
        for runner in runners:
            runner.records()  # as each page does while its race runs; raises what a worker raised
        peak = max(peak, _resident_mib())
        time.sleep(CROWD_SAMPLE_S)
    seconds = time.perf_counter() - start
    for runner in runners:
        runner.join()
    return seconds, peak - before


def measure_crowd(config, count, rounds):
    """Print the time and the memory growth of `count` races at once, with one crew and with a crew each."""
    schedules = {"one crew for the server (the page)": True, "a crew per race (before)": False}
    results = {name: [] for name in schedules}
    context = multiprocessing.get_context("spawn")
    for round_index in range(rounds):
        for name, shared in schedules.items():
            with context.Pool(1) as pool:
                results[name].append(pool.apply(_crowd_process, (config, count, shared)))
            seconds, grown = results[name][-1]
            print(f"round {round_index + 1}, {name}: {seconds:.2f} s, +{grown:.0f} MiB")
    print(
        f"\n{count} races at once: {'schedule':36s} {'median s':>9s} {'median +MiB':>12s} {'most +MiB':>10s}"
    )
    for name, runs in results.items():
        print(
            f"{'':18s}{name:36s} {statistics.median(s for s, _ in runs):9.2f} "
            f"{statistics.median(m for _, m in runs):12.0f} {max(m for _, m in runs):10.0f}"
        )


def measure_redraws(data, config, busy: int) -> None:
    """Print the median and worst time of RaceRunner.records() while the race trains beside `busy` spinning
    processes."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        runner = RaceRunner(Race(data, config))
        runner.wanted = True
        runner.start()
        times = []
        while len(times) < REDRAWS and not runner.race.done:
            time.sleep(REDRAW_INTERVAL)
            start = time.perf_counter()
            runner.records()
            times.append(time.perf_counter() - start)
        runner.stop()
        runner.join()
    finally:
        for spinner in spinners:
            spinner.kill()
    print(
        f"redraws with {busy} busy processes: records() median {1000 * statistics.median(times):.0f} ms, "
        f"worst {1000 * max(times):.0f} ms ({len(times)} redraws, every {REDRAW_INTERVAL:g} s)"
    )


CANDIDATES = {
    "threads": "threads (ui.race_runner, the page)",
    "one": "one thread, lanes in turn",
    "ticks": f"ticks ({TICK_BUDGET:g} s every {TICK_INTERVAL:g} s, the page before)",
    "processes": "processes, one per lane (spawned)",
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--iterations", type=int, default=100, help="iterations of the race (default 100)")
    parser.add_argument(
        "--lanes", nargs="+", default=["tanh", "sigmoid"], help="the lanes (default tanh sigmoid)"
    )
    parser.add_argument("--only", nargs="+", choices=tuple(CANDIDATES), help="run only these candidates")
    parser.add_argument(
        "--redraws", action="store_true", help="time the page's redraws while the race trains"
    )
    parser.add_argument("--busy", type=int, default=2, help="spinning processes beside --redraws (default 2)")
    parser.add_argument("--crowd", type=int, help="time this many races at once, and their memory")
    args = parser.parse_args(argv)
    serve.restart_with_server_environment(Path(__file__))
    runtime.configure()
    data = load_coco_data()
    config = RaceConfig(activations=tuple(args.lanes), iterations=args.iterations)
    probe = Race(data, config)
    print(
        f"{os.cpu_count()} CPUs ({usable_cores()} usable), load average {os.getloadavg()[0]:.2f}; dataset "
        f"{data.get('source')}, V = {len(data['word_to_idx'])}, T = {probe.data['train_captions'].shape[1] - 1} "
        f"before trimming; lanes {', '.join(args.lanes)}, {args.iterations} iterations, N = {config.batch_size}, "
        f"D = {data['train_features'].shape[1]}, W = {config.wordvec_dim}, H = {config.hidden_dim}"
    )
    if args.redraws:
        measure_redraws(data, config, args.busy)
        return
    if args.crowd:
        measure_crowd(config, args.crowd, args.rounds)
        return
    names = args.only or list(CANDIDATES)
    walls = {name: [] for name in names}
    cpus = {name: [] for name in names}
    reference = None
    memory = {}
    for round_index in range(args.rounds):
        for name in names:
            race = Race(data, config)
            report = {}
            start, start_cpu = time.perf_counter(), time.process_time()
            if name == "threads":
                run_threads(race)
            elif name == "one":
                run_one_thread(race)
            elif name == "ticks":
                run_ticks(race)
            else:
                run_processes(race, report)
            walls[name].append(time.perf_counter() - start)
            if name == "processes":
                cpus[name].append(sum(cpu for _, _, cpu in report.values()))
                losses = {lane: values for lane, (values, _, _) in report.items()}
                memory = {lane: peak for lane, (_, peak, _) in report.items()}
            else:
                cpus[name].append(time.process_time() - start_cpu)
                losses = {lane.activation: lane.losses for lane in race.lanes}
            if reference is None:
                reference = losses
            for lane, values in losses.items():
                if not np.array_equal(values, reference[lane]):
                    raise SystemExit(
                        f"{CANDIDATES[name]}: the {lane} lane's losses differ from the first run's"
                    )
        print(f"round {round_index + 1}: " + ", ".join(f"{name} {walls[name][-1]:.2f} s" for name in names))
    print(f"\n{'candidate':52s} {'median s':>9s} {'best s':>7s} {'worst s':>8s} {'CPU s':>6s}")
    for name in names:
        print(
            f"{CANDIDATES[name]:52s} {statistics.median(walls[name]):9.2f} {min(walls[name]):7.2f} "
            f"{max(walls[name]):8.2f} {statistics.median(cpus[name]):6.2f}"
        )
    if memory:
        print(
            "peak RSS of each worker process: "
            + ", ".join(f"{lane} {peak / 1024:.0f} MiB" for lane, peak in memory.items())
        )
    print(f"every run's losses equal: yes; load average now {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
