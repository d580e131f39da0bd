"""The rules of an experience's lifecycle: stages follow the guide's order (identified → studied → generalised →
disseminated → implemented), one step at a time; a skipped stage or a step back needs a reason.

The order is the order of the `stage` classification's values in `corpus/classifications.json`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ingest.knowledge_schema import StageTransition


def transition_problem(order: Sequence[str], previous: str | None, stage: str, reason: str | None) -> str | None:
    """Why going from `previous` to `stage` is refused, or None when it is allowed."""
    if stage not in order:
        return f"unknown stage {stage!r} (one of {', '.join(order)})"
    if previous is None:  # the first stage recorded for an experience: any
        return None
    if previous not in order:
        return f"unknown previous stage {previous!r}"
    if stage == previous:
        return f"the experience is at stage {stage!r} already"
    step = order.index(stage) - order.index(previous)
    if step == 1 or reason:
        return None
    if step > 1:
        skipped = ", ".join(order[order.index(previous) + 1 : order.index(stage)])
        return f"going from {previous!r} to {stage!r} skips {skipped}: give a reason"
    return f"going back from {previous!r} to {stage!r} needs a reason"


def history_problems(order: Sequence[str], stage: str, history: Sequence[StageTransition]) -> Iterator[tuple[str, str]]:
    """Yield (field, reason) for each way a recorded history breaks the rules or disagrees with `stage`."""
    for i, step in enumerate(history):
        where = f"history[{i}]"
        if i and step.previous != history[i - 1].stage:
            yield f"{where}.previous", f"must be {history[i - 1].stage!r}, the stage the step before reached"
        if i and step.date < history[i - 1].date:
            yield f"{where}.date", f"{step.date} is before the step before ({history[i - 1].date})"
        problem = transition_problem(order, step.previous, step.stage, step.reason)
        if problem is not None:
            yield f"{where}.stage", problem
    if history and history[-1].stage != stage:
        yield "stage", (f"{stage!r} is not the last stage of the history ({history[-1].stage!r}); "
                        "record a change of stage as a transition (`pedkb exp stage`)")
