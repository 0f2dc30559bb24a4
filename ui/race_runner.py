"""Trains the lanes of every learner's race (core.lab.race.Race) on the server's background threads while the
pages draw them.

Each page holds one RaceRunner per browser session (st.session_state) and, while the race runs, redraws it
from `records()` every fraction of a second; the lanes train in between, not inside the page's script run.

- Threads, not processes: NumPy releases the GIL in the matrix products that make most of an iteration,
  so lanes on threads of the server run side by side on the cores, with the data and the weights where the
  page reads them (bench/bench_race.py measures this against the other schedules).
- One crew of workers for the whole server (WORKERS), at most one per core, shared by every race: a free
  worker takes a lane of the race that has had the least of the crew's time, and in that race the unfinished
  lane with the fewest iterations that no other worker holds, so the lanes stay close. A race alone gets a
  core per lane, up to the cores; races together share the cores' time evenly, as they would with a crew each.
  The iterations in progress are then at most as many as the cores, and so is the memory they hold: each
  worker thread keeps what its iterations allocate in a malloc arena of its own (core.runtime). With a crew per
  race, six races of the default settings at once took 248 MiB more than before they started, with this one
  139 MiB, and ended sooner (bench/README.md, "Ten learners at once"). A worker gives the memory malloc kept
  back to the system when the crew has nothing left to train.
- The workers run at a lower scheduling priority (on Linux, niceness +TRAINING_NICENESS): the threads that
  answer the learners' clicks come first, training takes the CPU time they leave.
- A lane publishes its state after every iteration (core.lab.race.LaneState), and `records()` copies what
  each lane last published: a lane's losses, gradient norms and weights are always those of one iteration,
  and the page never waits for an iteration in progress. (It did, with a lock per lane: with two busy
  processes on the 2 cores, a redraw waited 0.2 s in the median and up to 1 s for a worker, which runs at
  the lower priority, to finish its iteration; bench/README.md.)
- A race is served until it is paused, done or failed, or until its page has not asked for records for
  IDLE_STOP_SECONDS (the learner left the page or closed the tab); `start` lets it go on.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from core import runtime
from core.lab.race import LaneRecord, Race

IDLE_STOP_SECONDS = 10.0
TRAINING_NICENESS = 10


def usable_cores() -> int:
    """The CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _lower_priority() -> None:
    """Raise the calling thread's niceness by TRAINING_NICENESS (Linux schedules threads by their own niceness;
    any thread may lower its own priority). Elsewhere the niceness is the process's: it is left alone."""
    if sys.platform.startswith("linux"):
        thread = threading.get_native_id()
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness + TRAINING_NICENESS, 19))


class Workers:
    """A crew of at most `size` worker threads, named `name`-1, -2…, that train the lanes of the races it serves.

    The next lane goes to the race served that has had the least of the crew's time since it was last started
    (a race joining starts level with the least served), so a small race beside a large one trains at its own
    pace, not at the large one's. Its condition guards the races served, their time and every RaceRunner's lanes
    in hand (`_busy`); it is notified whenever a lane is handed back or a race leaves, for `RaceRunner.join`.
    """

    def __init__(self, size: int, name: str = "race"):
        self.size = size
        self.name = name
        self.changed = threading.Condition()
        self._served: list[RaceRunner] = []  # the races that want training
        self._alive = 0
        self._started = 0

    def serve(self, runner: RaceRunner) -> None:
        """Train `runner`'s lanes with the others', starting workers up to what the races can use (nothing if
        it no longer wants training: done, failed or stopped meanwhile)."""
        with self.changed:
            if runner not in self._served:
                if not runner._wants_training():
                    return
                runner._crew_seconds = min((r._crew_seconds for r in self._served), default=0.0)
                self._served.append(runner)
            wanted = sum(min(r.workers, sum(not lane.done for lane in r.race.lanes)) for r in self._served)
            while self._alive < min(self.size, wanted):
                self._started += 1
                threading.Thread(target=self._work, name=f"{self.name}-{self._started}", daemon=True).start()
                self._alive += 1  # once started: a thread that could not start is not counted

    def forget(self, runner: RaceRunner) -> None:
        """Take no more lanes of `runner` (those in hand finish their iteration)."""
        with self.changed:
            if runner in self._served:
                self._served.remove(runner)
            self.changed.notify_all()

    def serving(self, runner: RaceRunner) -> bool:
        """Whether `runner` is served (with `changed` held)."""
        return runner in self._served

    def _next(self) -> tuple[RaceRunner, int] | None:
        """The race and lane to train next, now in hand, or None when no race has a lane to give (with
        `changed` held). Races that no longer want training leave."""
        for runner in [r for r in self._served if not r._wants_training()]:
            self._served.remove(runner)
            self.changed.notify_all()
        for runner in sorted(self._served, key=lambda r: r._crew_seconds):
            index = runner._free_lane()
            if index is not None:
                runner._busy.add(index)
                return runner, index
        return None

    def _work(self) -> None:
        try:
            _lower_priority()
            while True:
                with self.changed:
                    job = self._next()
                    if job is None:
                        # Leaving and finding no work are one step: a race served meanwhile starts a worker.
                        self._alive -= 1
                        break
                runner, index = job
                start = time.monotonic()
                try:
                    runner._train(index)
                finally:  # the lane goes back whatever happened, so that no race waits for it forever
                    with self.changed:
                        runner._busy.discard(index)
                        runner._crew_seconds += time.monotonic() - start
                        self.changed.notify_all()
        except BaseException:  # a worker that dies leaves the count too
            with self.changed:
                self._alive -= 1
                self.changed.notify_all()
            raise
        runtime.release_free_memory()  # the memory of the iterations, kept by malloc meanwhile (core.runtime)


class RaceRunner:
    """The race, the lanes a worker holds and the learner's intent (`wanted`: started and not paused).

    workers: how many of its lanes may train at once (by default one per lane, up to the cores); crew: the
    Workers that train them (by default the server's, WORKERS).
    """

    def __init__(self, race: Race, workers: int | None = None, crew: Workers | None = None):
        self.race = race
        self.workers = workers or min(len(race.lanes), usable_cores())
        self.wanted = False
        self._crew = crew or WORKERS
        self._busy: set[int] = set()  # the lanes a worker holds (guarded by the crew's condition)
        self._crew_seconds = 0.0  # the crew's time spent on it while served (guarded likewise)
        self._stopped = False
        self._seen = time.monotonic()
        self._failure: BaseException | None = None

    @property
    def training(self) -> bool:
        """Whether the race is served or a worker is training one of its lanes now."""
        with self._crew.changed:
            return self._training()

    def start(self) -> None:
        """Have the race trained until it is done (nothing if the race is done or has failed: the crew serves only a
        race that wants training)."""
        self._seen = time.monotonic()
        self._stopped = False
        self._crew.serve(self)

    def stop(self) -> None:
        """Stop training after the iterations in progress (without waiting for them)."""
        self._stopped = True
        self._crew.forget(self)

    def join(self, timeout: float | None = None) -> None:
        """Wait until no worker trains the race (it ends by itself when the race is done or stopped)."""
        with self._crew.changed:
            self._crew.changed.wait_for(lambda: not self._training(), timeout)

    def records(self) -> list[LaneRecord]:
        """A LaneRecord of every lane, of what it published after its latest iteration; raises what a worker
        raised, if one failed. One caller at a time (the page's session)."""
        self._seen = time.monotonic()
        if self._failure is not None:
            raise self._failure
        return [self.race.record(lane) for lane in self.race.lanes]

    # The crew's side, called with its condition held (but _train).

    def _training(self) -> bool:
        return bool(self._busy) or self._crew.serving(self)

    def _wants_training(self) -> bool:
        idle = time.monotonic() - self._seen > IDLE_STOP_SECONDS
        return not (self._stopped or idle or self._failure is not None or self.race.done)

    def _free_lane(self) -> int | None:
        """The unfinished lane with the fewest iterations that no worker holds, within `workers` at once."""
        if len(self._busy) >= self.workers:
            return None
        free = [i for i, lane in enumerate(self.race.lanes) if not lane.done and i not in self._busy]
        return min(free, key=lambda i: self.race.lanes[i].iteration) if free else None

    def _train(self, index: int) -> None:
        try:
            self.race.step_lane(self.race.lanes[index])
        except Exception as exc:  # the page shows it (records() raises it) instead of a silent stall
            self._failure = exc


# The server's crew, for every learner's race.
WORKERS = Workers(usable_cores())
