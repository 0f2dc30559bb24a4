"""The race's milliseconds per iteration per lane: this engine against the engine before issue 9, interleaved.

    python -m bench.bench_race_history [--rounds 6] [--commit 75bcaee] [--vocabulary app|coco]

Issue 9 rewrote the engine as a composition of the course's layers and asked that the race's milliseconds
per iteration per lane stay within 10 % of the engine before it: commit 75bcaee (2026-11-25), whose `core/`
this script reads from git (`git archive`) into a temporary folder.

Each round trains the race page's default race (lanes tanh and sigmoid, 100 iterations, the notebook's sizes:
N = 25, D = 512, W = 256, H = 512; 50 training captions) once with each engine, one after the other,
alternating which goes first. Each race runs in a fresh process of its own whose `core` is that engine's,
set up alike, as the server is (serve.py's environment: two malloc arenas and, on AMD's Zen 4, OpenBLAS's AVX2
kernels; then one BLAS thread and freed memory kept, core.runtime.configure), on the same data, saved once by
this process (`OPENBLAS_CORETYPE=SkylakeX` measures both with OpenBLAS's own choice on Zen 4):
- `app` (the default): the app's dataset, as the race page trains on it (load_coco_data: COCO if present,
  else the embedded scenes, whose vocabulary is small);
- `coco`: 1,000 random captions over COCO 2014's 1004 words (../shared/coco_sample/coco2014_vocab.json) and
  200 random features, so that the vocabulary products weigh as with the real COCO data.

Reported per lane: the time of its iterations (`Lane.seconds`, which both engines count alike: the solver's
steps, not the captions sampled between them) per iteration, median and best over the rounds, and the change.
Both engines' final losses are printed to show they train the same race.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BEFORE_ISSUE_9 = "75bcaee"
COCO_VOCABULARY = ROOT.parent / "shared" / "coco_sample" / "coco2014_vocab.json"


def app_data(path: Path) -> None:
    """Save the app's dataset's training arrays and vocabulary to `path` (.npz)."""
    from core.data.coco_utils import load_coco_data

    data = load_coco_data()
    np.savez(
        path,
        train_captions=data["train_captions"],
        train_image_idxs=data["train_image_idxs"],
        train_features=data["train_features"],
        idx_to_word=np.array(data["idx_to_word"]),
    )


def coco_sized_data(path: Path, seed: int = 0) -> None:
    """Save 1,000 random captions of 8-15 words over COCO's vocabulary, for 200 random 512-d features."""
    if not COCO_VOCABULARY.is_file():
        raise SystemExit(
            f"--vocabulary coco reads {COCO_VOCABULARY}, which is missing; use --vocabulary app."
        )
    words = json.loads(COCO_VOCABULARY.read_text())["idx_to_word"]
    rng = np.random.default_rng(seed)
    captions = np.zeros((1000, 17), dtype=np.int32)
    captions[:, 0] = words.index("<START>")
    for row in captions:
        length = rng.integers(8, 16)
        row[1 : 1 + length] = rng.integers(words.index("<UNK>") + 1, len(words), size=length)  # real words
        row[1 + length] = words.index("<END>")
    np.savez(
        path,
        train_captions=captions,
        train_image_idxs=rng.integers(0, 200, size=1000).astype(np.int32),
        train_features=rng.standard_normal((200, 512)).astype(np.float32),
        idx_to_word=np.array(words),
    )


def worker(engine_root: str, data_path: str) -> None:
    """In a fresh process: the default race of the engine in `engine_root` on the saved data; prints JSON."""
    sys.path.insert(0, engine_root)
    # This engine's process setup for both engines, imported by its path: `core` is the engine's.
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("server_runtime", ROOT / "core" / "runtime.py")
    server_runtime = module_from_spec(spec)
    spec.loader.exec_module(server_runtime)
    server_runtime.configure()
    try:
        from core.lab.race import Race, RaceConfig
    except ModuleNotFoundError as missing:
        if missing.name != "core.lab":
            raise
        from core.race import Race, RaceConfig  # the engine before issue 9 kept every module in core/
    saved = np.load(data_path)
    idx_to_word = [str(word) for word in saved["idx_to_word"]]
    data = {key: saved[key] for key in ("train_captions", "train_image_idxs", "train_features")}
    data.update(idx_to_word=idx_to_word, word_to_idx={word: i for i, word in enumerate(idx_to_word)})
    race = Race(data, RaceConfig())
    race.step(race.target)
    print(
        json.dumps(
            {
                lane.activation: {
                    "ms": lane.seconds / lane.iteration * 1000,
                    "loss": float(lane.solver.loss_history[-1]),
                }
                for lane in race.lanes
            }
        )
    )


def run_race(engine_root: Path, data_path: Path) -> dict:
    command = [sys.executable, __file__, "--worker", str(engine_root), str(data_path)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"the race of {engine_root} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds (default 6)")
    parser.add_argument(
        "--commit", default=BEFORE_ISSUE_9, help=f"the engine before (default {BEFORE_ISSUE_9})"
    )
    parser.add_argument("--vocabulary", choices=("app", "coco"), default="app")
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE_ROOT", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(*args.worker)
        return
    # Imported here, not above: a worker runs this file by its path, where the repository is not importable.
    import serve

    serve.restart_with_server_environment(Path(__file__))  # the workers inherit the environment
    with tempfile.TemporaryDirectory() as folder:
        before = Path(folder) / "before"
        before.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", args.commit, "core"],
            capture_output=True,
            check=False,
        )
        if archive.returncode:
            raise SystemExit(f"git archive {args.commit} failed: {archive.stderr.decode()[-500:]}")
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        data_path = Path(folder) / "data.npz"
        (app_data if args.vocabulary == "app" else coco_sized_data)(data_path)
        vocabulary = len(np.load(data_path)["idx_to_word"])
        print(
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.vocabulary} data, "
            f"V = {vocabulary}; the race page's default race; engines: {args.commit} (before issue 9) and "
            "this one"
        )
        engines = {"before": before, "this": ROOT}
        times = {name: {} for name in engines}
        for round_ in range(args.rounds):
            order = list(engines) if round_ % 2 == 0 else list(engines)[::-1]
            for name in order:
                lanes = run_race(engines[name], data_path)
                for lane, result in lanes.items():
                    times[name].setdefault(lane, []).append(result["ms"])
                described = ", ".join(
                    f"{lane} {r['ms']:.2f} ms (loss {r['loss']:.4f})" for lane, r in lanes.items()
                )
                print(f"round {round_ + 1}, {name:6}: {described}", flush=True)
    for lane in times["this"]:
        before_ms, this_ms = times["before"][lane], times["this"][lane]
        before_median, this_median = statistics.median(before_ms), statistics.median(this_ms)
        print(
            f"{lane:8} ms per iteration: before {before_median:.2f} median, {min(before_ms):.2f} best; "
            f"this engine {this_median:.2f}, {min(this_ms):.2f}; "
            f"change {this_median / before_median - 1:+.1%} median, {min(this_ms) / min(before_ms) - 1:+.1%} "
            "best (target: within +10 %)"
        )


if __name__ == "__main__":
    main()
