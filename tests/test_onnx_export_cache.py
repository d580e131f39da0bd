"""The ONNX export cache beside the model: built once, reused, rebuilt when the weights or the request change.

The export and quantisation steps are stubbed with small files (the real ones take a minute and 877 MB); what is
tested is the record, the reuse rule and what `auto` and the ONNX sessions may rely on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from index.embedding import onnx_export
from index.embedding.onnx_export import FP32_FILE, INT8_FILE, MANIFEST_FILE, ONNX_DIR, build_onnx, export_is_current
from index.embedding.onnx_runtime import onnx_available, onnx_fingerprint


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A model folder with a safetensors file, and export steps that write small stand-ins and count builds."""
    folder = tmp_path / "e5"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights-1")
    builds: list[str] = []

    def export(_model: Path, target: Path) -> str:
        builds.append("fp32")
        target.write_bytes(b"fp32 graph of " + (_model / "model.safetensors").read_bytes())
        return "base0000base0000"

    def quantise(source: Path, target: Path) -> dict[str, Any]:
        builds.append("int8")
        target.write_bytes(b"int8 of " + source.read_bytes())
        return {"weights": "int8 per channel"}

    monkeypatch.setattr(onnx_export, "_export_fp32", export)
    monkeypatch.setattr(onnx_export, "_quantise_int8", quantise)
    monkeypatch.setattr(onnx_export, "_versions", lambda: {"onnxruntime": "test"})
    monkeypatch.setattr(onnx_export, "BUILDS", builds, raising=False)
    return folder


def _builds() -> list[str]:
    return list(onnx_export.BUILDS)  # type: ignore[attr-defined]


def test_int8_is_built_once_beside_the_model_and_then_reused(model: Path) -> None:
    assert not export_is_current(model) and not onnx_available(model)
    out = build_onnx(model)
    assert out == model / ONNX_DIR and (out / INT8_FILE).is_file()
    assert not (out / FP32_FILE).exists()  # the fp32 graph is only a step, not kept by default
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    assert set(manifest["files"]) == {INT8_FILE} and manifest["base_fingerprint"] == "base0000base0000"
    assert export_is_current(model) and onnx_available(model)
    assert not export_is_current(model, ("onnx-fp32",))
    stamp = (out / INT8_FILE).stat().st_mtime_ns
    assert build_onnx(model) == out and _builds() == ["fp32", "int8"]  # the second install: nothing rebuilt
    assert (out / INT8_FILE).stat().st_mtime_ns == stamp
    assert not list(model.glob(".onnx.build-*"))


def test_fp32_on_request_and_a_rebuild_when_the_weights_change(model: Path) -> None:
    build_onnx(model, keep_fp32=True)
    assert export_is_current(model, ("onnx-fp32", "onnx-int8"))
    build_onnx(model)  # int8 is there too: reused
    assert _builds() == ["fp32", "int8"]
    (model / "model.safetensors").write_bytes(b"weights-2")
    assert not export_is_current(model)
    build_onnx(model)
    assert _builds() == ["fp32", "int8"] * 2
    assert (model / ONNX_DIR / INT8_FILE).read_bytes() == b"int8 of fp32 graph of weights-2"


def test_a_damaged_export_or_force_rebuilds_and_leftovers_go(model: Path) -> None:
    out = build_onnx(model)
    (out / INT8_FILE).write_bytes(b"truncated")
    assert not export_is_current(model)
    (model / ".onnx.build-interrupted").mkdir()
    build_onnx(model)
    assert export_is_current(model) and not (model / ".onnx.build-interrupted").exists()
    build_onnx(model, force=True)
    assert _builds() == ["fp32", "int8"] * 3


def test_onnx_fingerprint_covers_weights_runtime_and_file() -> None:
    one = onnx_fingerprint("b74b1cb7abfd52ce", "onnx-int8", "a" * 64)
    assert len(one) == 16 and one != "b74b1cb7abfd52ce"
    assert one != onnx_fingerprint("b74b1cb7abfd52ce", "onnx-fp32", "a" * 64)
    assert one != onnx_fingerprint("b74b1cb7abfd52ce", "onnx-int8", "b" * 64)
    assert one != onnx_fingerprint("3c4d000000000000", "onnx-int8", "a" * 64)


@pytest.mark.parametrize(("flags", "argv", "built"), [
    (frozenset({"avx2", "avx512_vnni"}), [], [False]),  # VNNI without bf16: auto runs onnx-int8, so build it
    (frozenset({"avx2", "avx512_vnni", "avx512_bf16"}), [], [True]),  # this EPYC: openvino-bf16 runs the fp32 graph
    (frozenset({"avx2", "avx512_vnni", "avx512_bf16", "amx_bf16"}), [], []),  # AMX: torch-bf16, no export
    (frozenset({"avx2", "avx512_vnni", "avx512_bf16", "amx_bf16"}), ["--onnx"], [False]),
    (frozenset({"avx2"}), ["--onnx-fp32"], [True]),
    (frozenset({"avx2", "avx512_vnni"}), ["--no-onnx"], []),
])
def test_model_install_builds_the_export_where_it_will_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           flags: frozenset[str], argv: list[str],
                                                           built: list[bool]) -> None:
    from cli.main import main
    from index.embedding import provision, runtime

    calls: list[bool] = []
    monkeypatch.setattr(provision, "install_model", lambda cache, force=False: tmp_path / "e5")
    monkeypatch.setattr(onnx_export, "build_onnx",
                        lambda folder, force=False, keep_fp32=False: calls.append(keep_fp32) or folder / ONNX_DIR)
    monkeypatch.setattr(runtime, "cpu_flags", lambda cpuinfo=None: flags)
    monkeypatch.delenv("PEDKB_RUNTIME", raising=False)
    monkeypatch.delenv("PEDKB_PRECISION", raising=False)
    assert main(["-q", "model", "install", *argv]) == 0
    assert calls == built
