"""Which engine and number format embed on this CPU: the runtime labels and the `auto` rule.

A runtime label names the engine and the precision of the vectors it makes: "torch-fp32", "torch-bf16" (the
sentence-transformers model in PyTorch) and "onnx-fp32", "onnx-int8" (its ONNX export in ONNX Runtime, the second
with int8 weights quantised per channel). `auto` decides by the CPU's flags in /proc/cpuinfo:

- AMX (`amx_bf16`): torch-bf16, the fastest path there (bf16 matrix tiles).
- else int8 dot products in hardware (`avx512_vnni` or `avx_vnni`) and a built export: onnx-int8. This includes
  AVX-512 bf16 CPUs without AMX, such as the AMD EPYC this project runs on, where int8 measured faster than bf16
  (docs/benchmarks.md) and kept MRR@10 within 0.01 of fp32.
- else native bf16 (`avx512_bf16`): torch-bf16.
- else torch-fp32. Plain AVX2 gets no int8: without VNNI, ONNX Runtime's u8*s8 kernels can saturate.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pedkb.errors import ModelError

RuntimeLabel = Literal["torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8"]
RUNTIMES: tuple[str, ...] = get_args(RuntimeLabel)
VNNI_FLAGS = frozenset({"avx512_vnni", "avx_vnni"})
BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
AMX_FLAGS = frozenset({"amx_bf16"})


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
    if flags & AMX_FLAGS:
        return "torch-bf16"
    if onnx_available and flags & VNNI_FLAGS:
        return "onnx-int8"
    if flags & BF16_FLAGS:
        return "torch-bf16"
    return "torch-fp32"


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
