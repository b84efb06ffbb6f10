from surgiplan.core.undo import FunctionCommand, History


def _counter_cmd(state, delta, size=10):
    def do():
        state["v"] += delta

    def undo():
        state["v"] -= delta

    return FunctionCommand(f"add {delta}", do, undo, size)


def test_undo_redo_and_redo_cleared_by_new_edit():
    s = {"v": 0}
    h = History()
    h.push(_counter_cmd(s, 1), apply=True)
    h.push(_counter_cmd(s, 10), apply=True)
    assert s["v"] == 11
    assert h.undo().description == "add 10"
    assert s["v"] == 1
    h.redo()
    assert s["v"] == 11
    h.undo()
    h.push(_counter_cmd(s, 100), apply=True)
    assert not h.can_redo and s["v"] == 101


def test_group_is_one_step_and_memory_bound():
    s = {"v": 0}
    h = History(max_bytes=100)
    with h.group("two"):
        h.push(_counter_cmd(s, 1), apply=True)
        h.push(_counter_cmd(s, 2), apply=True)
    assert len(h) == 1 and s["v"] == 3
    h.undo()
    assert s["v"] == 0
    for _ in range(30):
        h.push(_counter_cmd(s, 1, size=10), apply=True)
    assert h.nbytes <= 100 and len(h) == 10
