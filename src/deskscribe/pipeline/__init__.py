"""The capture pipeline: OS leaf -> gate -> typing -> frames -> store, as small stages.

:class:`~deskscribe.pipeline.recorder.Recorder` is the thread shell; the stages (gate, input
mapping, typing bursts, frame schedule, titles) hold state and make decisions without I/O,
and context sources (terminal ptys, the accessibility bus) answer what is inside a window.
"""
