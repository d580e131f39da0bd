"""Which engine and number format embed on this CPU: the runtime labels and the `auto` rule.

A runtime label names the engine and the precision of the vectors it makes: "torch-fp32", "torch-bf16" (the
sentence-transformers model in PyTorch) and "onnx-fp32", "onnx-int8" (its ONNX export in ONNX Runtime, the second
with int8 weights quantised per channel). `auto` decides by the CPU's flags in /proc/cpuinfo:

- native bf16 (`amx_bf16` or `avx512_bf16`): torch-bf16. With AMX it is the fastest path. On this project's AMD
  EPYC (avx512_bf16 and VNNI, no AMX) onnx-int8 was not faster than bf16 (about 2.5x torch-fp32 each) and failed
  three real-model tests that torch passes (a classifier accuracy floor and two close rankings), while bf16 keeps
  cosine 0.99996 to fp32: docs/benchmarks.md, docs/model_identity.md.
- else int8 dot products in hardware (`avx512_vnni` or `avx_vnni`) and a built export: onnx-int8 (measured 3.1-3.3x
  torch fp32 on an earlier session's EPYC).
- else torch-fp32. Plain AVX2 gets no int8: without VNNI, ONNX Runtime's u8*s8 kernels can saturate.

`pedkb model install` builds the export only where it can be picked (`export_wanted`), or when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pedkb.errors import ModelError

RuntimeLabel = Literal["torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8"]
RUNTIMES: tuple[str, ...] = get_args(RuntimeLabel)
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The first CPU's flags from /proc/cpuinfo (empty when unreadable)."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    lines = [line for line in text.splitlines() if line.startswith("flags")]
    return frozenset(lines[0].partition(":")[2].split()) if lines else frozenset()


def auto_runtime(flags: frozenset[str], *, onnx_available: bool) -> str:
    """The runtime `auto` picks for a CPU with these flags (see the module docstring for the rule)."""
    if flags & BF16_FLAGS:
        return "torch-bf16"
    if onnx_available and flags & VNNI_FLAGS:
        return "onnx-int8"
    return "torch-fp32"


def export_wanted(runtime: str, precision: str, flags: frozenset[str]) -> bool:
    """True when these settings would run an ONNX runtime on this CPU once the export exists."""
    return choose_runtime(runtime, precision, flags=flags, onnx_available=True).startswith("onnx-")


def choose_runtime(runtime: str, precision: str, *, flags: frozenset[str], onnx_available: bool) -> str:
    """Resolve the `runtime` and `precision` settings to one label.

    An explicit runtime wins; with runtime "auto", an explicit precision ("fp32"/"bf16") keeps its old meaning
    (torch at that precision), and "auto" for both applies `auto_runtime`.
    """
    if runtime in RUNTIMES:
        return runtime
    if runtime != "auto":
        raise ModelError(f"runtime: unknown value {runtime!r} (expected auto or one of {', '.join(RUNTIMES)})")
    if precision in ("fp32", "bf16"):
        return f"torch-{precision}"
    if precision != "auto":
        raise ModelError(f"precision: unknown value {precision!r} (expected auto, fp32 or bf16)")
    return auto_runtime(flags, onnx_available=onnx_available)
