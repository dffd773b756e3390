"""Progress lines (polytests/progress.py): what, how far, how long, and at most how often."""

from __future__ import annotations

from polytests.progress import Steps


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_each_step_says_what_how_far_and_how_long_is_left():
    clock, lines = Clock(), []
    steps = Steps(lines.append, 4, clock=clock)
    steps(0, "claim a")
    clock.now += 10
    steps(1, "claim b")
    clock.now += 30
    steps(2, "claim c")
    steps.finish("3 claims computed")
    assert lines[0] == "polytests: claim a (1/4; 0 s so far)"
    assert lines[1] == "polytests: claim b (2/4; 10 s so far, about 30 s left)"  # 10 s a step, 3 to go
    assert lines[2] == "polytests: claim c (3/4; 40 s so far, about 40 s left)"
    assert lines[3] == "polytests: 3 claims computed in 40 s"


def test_at_most_one_line_per_interval_and_none_without_an_output():
    from polytests.progress import at_most_every

    clock, lines = Clock(), []
    steps = Steps(at_most_every(60.0, lines.append, clock=clock), 100, clock=clock)
    for i in range(100):
        steps(i, f"claim {i}")
        clock.now += 5
    assert [line.split(" (")[0] for line in lines] == [f"polytests: claim {i}" for i in range(0, 100, 12)]
    Steps(None, 3)(0, "silent")  # no output: nothing happens
    long = Steps(lines.append, 2, clock=clock)
    clock.now += 600
    long(1, "claim z")
    assert lines[-1].endswith("(2/2; 10.0 min so far, about 10.0 min left)")


def test_a_gate_passes_one_line_per_interval():
    from polytests.progress import at_most_every

    clock, lines = Clock(), []
    gate = at_most_every(60.0, lines.append, clock=clock)
    for i in range(10):
        gate(f"line {i}")
        clock.now += 25
    assert lines == ["line 0", "line 3", "line 6", "line 9"]
    every = at_most_every(0.0, lines.append, clock=clock)
    every("a")
    every("b")
    assert lines[-2:] == ["a", "b"]
