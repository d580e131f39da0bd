"""Which engine and number format embed on this CPU: the runtime labels and the `auto` rule.

A runtime label names the engine and the precision of the vectors it makes: "torch-fp32", "torch-bf16" (the
sentence-transformers model in PyTorch), "onnx-fp32", "onnx-int8" (its ONNX export in ONNX Runtime, the second
with int8 weights quantised per channel) and "openvino-bf16" (the export's fp32 graph in OpenVINO at bf16
precision). `auto` decides by the CPU's flags in /proc/cpuinfo:

- AMX (`amx_bf16`): torch-bf16, the fastest path measured there (11,370 tokens/s on an earlier session's Intel).
- native bf16 without AMX (`avx512_bf16`, e.g. AMD Zen 4 EPYC) and a built export: openvino-bf16. On this
  project's EPYC a 15-token query took 3.3 ms against torch-bf16's 9.9 ms and passages ran 1.4x faster, with
  vectors closer to fp32 than torch-bf16's (cosine 0.99999), so it shares torch's fingerprint (no reindex).
  onnx-int8 was measured there too: not faster than torch-bf16 and it failed three real-model tests
  (docs/model_identity.md, docs/benchmarks.md). Without the export: torch-bf16.
- else int8 dot products in hardware (`avx512_vnni` or `avx_vnni`) and a built export: onnx-int8 (measured 3.1-3.3x
  torch fp32 on an earlier session's EPYC).
- else torch-fp32. Plain AVX2 gets no int8: without VNNI, ONNX Runtime's u8*s8 kernels can saturate.

`pedkb model install` builds the export only where it can be picked (`export_wanted`), or when asked.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, get_args

from pedkb.errors import ModelError

RuntimeLabel = Literal["torch-fp32", "torch-bf16", "onnx-fp32", "onnx-int8", "openvino-bf16"]
FP32_GRAPH_RUNTIMES = frozenset({"onnx-fp32", "openvino-bf16"})  # they run the export's fp32 graph
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


def auto_runtime(flags: frozenset[str], *, onnx_available: bool, openvino_available: bool = False) -> str:
    """The runtime `auto` picks for a CPU with these flags (see the module docstring for the rule);
    `onnx_available`: the int8 export is built; `openvino_available`: OpenVINO and the fp32 graph are there."""
    if "amx_bf16" in flags:
        return "torch-bf16"
    if flags & BF16_FLAGS:
        return "openvino-bf16" if openvino_available else "torch-bf16"
    if onnx_available and flags & VNNI_FLAGS:
        return "onnx-int8"
    return "torch-fp32"


def export_wanted(runtime: str, precision: str, flags: frozenset[str]) -> bool:
    """True when these settings would run the ONNX export (ONNX Runtime or OpenVINO) on this CPU once it exists."""
    return not choose_runtime(runtime, precision, flags=flags, onnx_available=True,
                              openvino_available=True).startswith("torch-")


def fp32_graph_wanted(runtime: str, precision: str, flags: frozenset[str]) -> bool:
    """True when these settings would run the export's fp32 graph (onnx-fp32, openvino-bf16)."""
    return choose_runtime(runtime, precision, flags=flags, onnx_available=True,
                          openvino_available=True) in FP32_GRAPH_RUNTIMES


def choose_runtime(runtime: str, precision: str, *, flags: frozenset[str], onnx_available: bool,
                   openvino_available: bool = False) -> str:
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
    return auto_runtime(flags, onnx_available=onnx_available, openvino_available=openvino_available)
