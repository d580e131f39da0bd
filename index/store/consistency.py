"""What `pedkb check` finds: counts of rows, lexical entries and vectors, and each disagreement with its number.

Both backends fill a `ConsistencyReport` (`Backend.check`); the knowledge base adds the model fingerprint. A
problem is something a search would get wrong (a chunk it cannot find, a hit twice, a hit without a row); a note
is a state that heals itself (a FAISS file behind the store is caught up from the rows at the next use).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Problem:
    """One kind of disagreement: a short name, how many items it touches, a sentence, and whether rows fix it."""

    name: str
    count: int
    detail: str
    repairable: bool = True


@dataclass
class ConsistencyReport:
    """The outcome of a check (and of a repair, when one ran)."""

    backend: str
    counts: dict[str, int] = field(default_factory=dict)  # documents, chunks, lexical, vectors, ...
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing disagrees."""
        return not self.problems

    def problem(self, name: str, count: int, detail: str, *, repairable: bool = True) -> None:
        """Record a disagreement when `count` is not zero."""
        if count:
            self.problems.append(Problem(name, int(count), detail, repairable))

    def number(self, name: str) -> int:
        """How many items a problem touches (0 when it was not found)."""
        return sum(p.count for p in self.problems if p.name == name)

    def lines(self) -> list[str]:
        """The report as text lines for the terminal and the logs."""
        out = [f"backend {self.backend}: " + ", ".join(f"{k} {v}" for k, v in self.counts.items())]
        out += [f"PROBLEM {p.name}: {p.count} - {p.detail}" + ("" if p.repairable else " (not repairable from "
                                                                  "the rows)") for p in self.problems]
        out += [f"note: {n}" for n in self.notes]
        out += [f"repaired: {r}" for r in self.repaired]
        out.append("consistent" if self.ok else f"INCONSISTENT: {len(self.problems)} kinds of problem")
        return out

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        return {"backend": self.backend, "ok": self.ok, "counts": dict(self.counts),
                "problems": [vars(p) for p in self.problems], "notes": list(self.notes),
                "repaired": list(self.repaired)}
