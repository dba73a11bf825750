from typing import Any

from deskscribe.dataset.build import Release
from deskscribe.dataset.episodes import EpisodeParams, annotated, build_episodes
from deskscribe.dataset.reduce import reduce_events
from deskscribe.events import Event
from deskscribe.instructions import Annotation

MS = 1_000_000


def session(*items: tuple[int, str, dict[str, Any]]) -> list[tuple[int, Event]]:
    return [(i, Event(t_ns=t * MS, kind=k, data=d)) for i, (t, k, d) in enumerate(items, start=1)]


def click(t: int, x: int) -> list[tuple[int, str, dict[str, Any]]]:
    return [(t, "frame", {"frame_id": t, "region": [0, 0, 1, 1], "reason": "pre_action"}),
            (t, "mouse_down", {"x": x, "y": 1, "button": "left"}),
            (t + 50, "mouse_up", {"x": x, "y": 1, "button": "left"})]


def episodes(events: list[tuple[int, Event]], **params: Any) -> list[Any]:
    return build_episodes(events, reduce_events(events), EpisodeParams(**params))


def test_task_markers_define_episodes_and_outcomes() -> None:
    events = session(
        (0, "marker", {"marker": "start"}), *click(100, 1),
        (1000, "marker", {"marker": "task_start", "instruction": "Rename the file"}), *click(2000, 2), *click(3000, 3),
        (4000, "marker", {"marker": "task_end", "status": "success"}), *click(5000, 4),
        (6000, "marker", {"marker": "task_start", "instruction": "Undo it"}), *click(7000, 5),
        (8000, "marker", {"marker": "task_end", "status": "fail"}))
    eps = episodes(events)
    assert [(e.instruction, e.status) for e in eps] == [("Rename the file", "success"), ("Undo it", "fail")]
    assert [[s.action.fields.get("x") for s in e.steps] for e in eps] == [[2, 3, None], [5, None]]
    assert eps[0].steps[-1].action.fields == {"status": "success"}
    assert [s.frame_id for s in eps[0].steps] == [2000, 3000, 3000]  # pre-action frames; final one last


def test_without_markers_sessions_split_at_exclusions_and_idle_gaps() -> None:
    events = session(*click(0, 1), *click(1000, 2),
                     (1500, "marker", {"marker": "excluded", "duration_ms": 900}), *click(2500, 3),
                     *click(500_000, 4))
    eps = episodes(events, idle_split_s=300)
    assert [[s.action.type for s in e.steps] for e in eps] == [
        ["click", "click", "terminate"], ["click", "terminate"], ["click", "terminate"]]


def test_step_times_are_coarse_and_relative() -> None:
    events = session(*click(10_000, 1), *click(11_234, 2))
    (ep,) = episodes(events, precision_ms=100)
    assert [s.t_ms for s in ep.steps] == [0, 1200, 1200]


def test_whole_contributors_land_in_one_split() -> None:
    release = Release(key=b"k" * 32)
    names = [release.pseudonym("contributor", f"c{i}") for i in range(400)]
    splits = [release.split(n) for n in names]
    assert {release.split(n) for n in names[:1] * 5} == {splits[0]}
    assert {"train", "validation", "test"} == set(splits)
    assert 0.7 < splits.count("train") / len(splits) < 0.9
    other = Release(key=b"j" * 32)
    assert other.pseudonym("contributor", "c0") != names[0]  # release-specific pseudonyms


def test_instructions_say_where_they_came_from() -> None:
    events = session((0, "marker", {"marker": "task_start", "instruction": "Rename the file"}), *click(100, 1),
                     (200, "marker", {"marker": "task_end", "status": "success"}))
    (ep,) = episodes(events)
    assert (ep.instruction, ep.instruction_source) == ("Rename the file", "task_start")
    (plain,) = episodes(session(*click(100, 1)))
    assert (plain.instruction, plain.instruction_source) == ("", None)


def focus(t: int, title: str) -> tuple[int, str, dict[str, Any]]:
    return (t, "focus", {"app": "Mail", "title": title, "pid": 1, "geometry": [0, 0, 10, 10], "url": None})


def test_episodes_are_flagged_for_dropped_screenshots_and_redacted_steps() -> None:
    events = session(
        focus(0, "Inbox"), *click(100, 1), *click(1000, 2),
        (1500, "marker", {"marker": "excluded", "duration_ms": 10}),
        (2000, "text", {"text": "<PASSWORD>", "kinds": ["PASSWORD"], "secure": True, "erase": 0,
                        "t_end_ns": 2100 * MS}),
        (3000, "marker", {"marker": "excluded", "duration_ms": 10}),
        focus(3500, "Mail to <EMAIL_ADDRESS>"), *click(4000, 3),
        (4500, "marker", {"marker": "excluded", "duration_ms": 10}), focus(4800, "Inbox"), *click(5000, 4))
    stored = {1000, 4000, 5000}  # the frame shown before the first click was dropped
    eps = build_episodes(events, reduce_events(events), EpisodeParams(), stored)
    assert [e.flags for e in eps] == [["frames_dropped"], ["redacted"], ["redacted"], []]
    assert eps[0].steps[0].frame_id is None and eps[0].steps[1].frame_id == 1000
    assert [e.flags for e in build_episodes(events, reduce_events(events))] == [[], ["redacted"], ["redacted"], []]


def test_an_annotation_replaces_the_instruction_of_the_episode_it_spans() -> None:
    events = session(*click(0, 1), *click(1000, 2), (1500, "marker", {"marker": "excluded", "duration_ms": 9}),
                     *click(2000, 3))
    first, second = episodes(events)
    start, end = first.span_ns
    assert (start, end) == (0, 1050 * MS)
    note = Annotation(t_first_ns=start, t_last_ns=end, instruction="Open two files")
    a, b = annotated([first, second], [note])
    assert (a.instruction, a.instruction_source, a.flags) == ("Open two files", "review", [])
    assert (b.instruction, b.instruction_source) == ("", None)
    assert first.instruction == "" and first.instruction_source is None  # the recorded episode is left as it was
    # review deleted the first click: what is left of the episode keeps its instruction
    (rest, _) = annotated(episodes(session(*click(1000, 2), (1500, "marker", {"marker": "excluded",
                                                                               "duration_ms": 9}),
                                           *click(2000, 3))), [note])
    assert rest.instruction == "Open two files"
    redacted = Annotation(t_first_ns=start, t_last_ns=end, instruction="Mail <EMAIL_ADDRESS>",
                          redacted=("EMAIL_ADDRESS",))
    (c, _) = annotated([first, second], [note, redacted])
    assert (c.instruction, c.flags) == ("Mail <EMAIL_ADDRESS>", ["redacted"])
