"""Trains the lanes of one learner's race (core.lab.race.Race) on background threads while the page draws it.

The page holds one RaceRunner per browser session (st.session_state) and, while the race runs, redraws it
from `records()` every fraction of a second; the lanes train in between, not inside the page's script run.

- Threads, not processes: NumPy releases the GIL in the matrix products that make most of an iteration,
  so lanes on threads of the server run side by side on the cores, with the data and the weights where the
  page reads them (bench/bench_race.py measures this against the other schedules).
- At most one worker per core per race: a free worker takes the unfinished lane with the fewest iterations
  that no other worker holds, so the lanes stay close, and a race with more lanes than cores takes no more
  of the machine than one with as many lanes as cores.
- The workers run at a lower scheduling priority (on Linux, niceness +TRAINING_NICENESS): the threads that
  answer the learners' clicks come first, training takes the CPU time they leave.
- A lane publishes its state after every iteration (core.lab.race.LaneState), and `records()` copies what
  each lane last published: a lane's losses, gradient norms and weights are always those of one iteration,
  and the page never waits for an iteration in progress. (It did, with a lock per lane: with two busy
  processes on the 2 cores, a redraw waited 0.2 s in the median and up to 1 s for a worker, which runs at
  the lower priority, to finish its iteration; bench/README.md.)
- The workers stop when paused, when the race is done, or when the page has not asked for records for
  IDLE_STOP_SECONDS (the learner left the page or closed the tab); `start` lets them go on.
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


class RaceRunner:
    """The race, its workers and the learner's intent (`wanted`: started and not paused)."""

    def __init__(self, race: Race, workers: int | None = None):
        self.race = race
        self.workers = workers or min(len(race.lanes), usable_cores())
        self.wanted = False
        # Guards _busy, _threads and _stop: which lanes a worker holds, the workers (each with the stop event
        # it obeys) and the current workers' stop event.
        self._claim = threading.Lock()
        self._busy: set[int] = set()
        self._threads: list[tuple[threading.Thread, threading.Event]] = []
        self._stop = threading.Event()
        self._seen = time.monotonic()
        self._failure: BaseException | None = None

    @property
    def training(self) -> bool:
        """Whether a worker is training now."""
        return any(thread.is_alive() for thread, _ in self._threads)

    def start(self) -> None:
        """Let `workers` workers train until the race is done (nothing if the race is done or has failed)."""
        self._seen = time.monotonic()
        with self._claim:
            if self.race.done or self._failure is not None:
                return
            # Workers of a pause that are still finishing their iteration obey the old event and end.
            if self._stop.is_set():
                self._stop = threading.Event()
            self._threads = [(thread, stop) for thread, stop in self._threads if thread.is_alive()]
            current = sum(stop is self._stop for _, stop in self._threads)
            for i in range(current, self.workers):
                thread = threading.Thread(
                    target=self._work, args=(self._stop,), name=f"race-{i}", daemon=True
                )
                self._threads.append((thread, self._stop))
                thread.start()

    def stop(self) -> None:
        """Stop the workers after their current iteration (without waiting for it)."""
        with self._claim:
            self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        """Wait until no worker trains (they end by themselves when the race is done or stopped)."""
        for thread, _ in list(self._threads):
            thread.join(timeout)

    def records(self) -> list[LaneRecord]:
        """A LaneRecord of every lane, of what it published after its latest iteration; raises what a worker
        raised, if one failed. One caller at a time (the page's session)."""
        self._seen = time.monotonic()
        if self._failure is not None:
            raise self._failure
        return [self.race.record(lane) for lane in self.race.lanes]

    def _take(self, stop: threading.Event) -> int | None:
        """The index of the lane this worker trains next (now its own), or None when it should end."""
        with self._claim:
            idle = time.monotonic() - self._seen > IDLE_STOP_SECONDS
            if stop.is_set() or idle or self._failure is not None:
                return None
            free = [i for i, lane in enumerate(self.race.lanes) if not lane.done and i not in self._busy]
            if not free:
                return None
            chosen = min(free, key=lambda i: self.race.lanes[i].iteration)
            self._busy.add(chosen)
            return chosen

    def _work(self, stop: threading.Event) -> None:
        _lower_priority()
        while (index := self._take(stop)) is not None:
            try:
                self.race.step_lane(self.race.lanes[index])
            except Exception as exc:  # the page shows it (records() raises it) instead of a silent stall
                self._failure = exc
            finally:
                with self._claim:
                    self._busy.discard(index)
        runtime.release_free_memory()  # the memory of the iterations, kept by malloc meanwhile (core.runtime)
