"""The model stage on a Ray cluster (`gemmadoc run --ray local|HOST:PORT`): one resident model per GPU,
ingest as Ray tasks on the cluster's CPUs, writing in the flow process. Imported only with --ray.

* One named actor per GPU (per tensor-parallel group for vLLM): `num_gpus=1, num_cpus=0,
  max_restarts=-1, max_task_retries=0`, named by model identity (`actor_prefix`), so `get_if_exists`
  never hands out a model loaded with other settings. On a standing cluster the actors are detached:
  the next night's run finds them loaded (`gemmadoc ray stop-models` releases them).
* A driver-side dispatcher (`RayModelStage.outcomes`) keeps one chunk in flight per live actor (at
  most one chunk is lost with an actor, as with `ray.util.ActorPool`, but nothing is dropped): when
  an actor or its node dies mid-call, the chunk goes back to the queue and the actor rejoins once it
  answers a ping (Ray restarts it where capacity is). Delivery is at least once; a chunk's writes are
  keyed by its stamp, so one written twice replaces its parts.
* Ingest runs as Ray tasks; page images travel inline as bytes. A file missing on the node that
  ingested it (no shared mount) is ingested again on the flow's node."""

from __future__ import annotations

import collections
import hashlib
import logging
import math
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from model.backend import ModelUnavailable
from pipeline.chunk import ChunkOutcome, extract_chunk, failed_outcome
from pipeline.prepare import Prepared, inline_images, prepare_chunk
from schemas.options import PIPELINE_VERSION, BackendOptions, IngestOptions, RunOptions
from schemas.records import SourceDocument, WorkerUsage

NAMESPACE = "gemmadoc"
MAX_SENDS = 3  # a chunk whose actor died this many times fails (error rows), the run goes on
NO_ACTOR_GIVE_UP_S = 600.0  # with no live model actor this long, the remaining chunks fail
log = logging.getLogger("gemmadoc.ray")


class ClusterUnavailable(ModelUnavailable):
    """The Ray cluster cannot serve the model stage (unreachable, refused, no GPUs, mixed versions)."""


def installed_version() -> str:
    """This installation's identity, which every node must share: package version and pipeline version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("gemmadoc")
    except PackageNotFoundError:
        package = "unknown"
    return f"gemmadoc {package}, pipeline {PIPELINE_VERSION}"


def actor_prefix(backend: BackendOptions) -> str:
    """`gemmadoc-<model>-<digest>`: the actors' name without the index. The digest covers every backend
    option (model, revision, dtype, backend, engine settings) and the installed version."""
    digest = hashlib.sha256(f"{backend.model_dump_json()}|{installed_version()}".encode()).hexdigest()[:12]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", backend.model.rsplit("/", 1)[-1]).strip("-")[:32] or "model"
    return f"gemmadoc-{slug}-{digest}"


def connect(address: str) -> None:
    """Join the cluster at HOST:PORT, or start one on this machine for `local` (once per process)."""
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    quiet = dict(namespace=NAMESPACE, log_to_driver=False, logging_level=logging.WARNING)
    if address == "local":
        try:
            ray.init(address="local", include_dashboard=False, **quiet)
        except Exception as e:  # noqa: BLE001 - Ray raises many kinds here
            raise ClusterUnavailable(f"could not start a local Ray instance: {type(e).__name__}: {e}") from e
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnavailable(f"--ray {address}: expected 'local' or HOST:PORT of the cluster's head (e.g. 10.0.0.1:6379)")
    try:  # Ray itself retries an unreachable address for minutes
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as e:
        raise ClusterUnavailable(f"no Ray cluster answers at {address} ({e.strerror or e}). Start its head with "
                                 f"`ray start --head --port={port}` there, or check the address and the firewall.") from e
    try:
        ray.init(address=f"{host}:{port}", **quiet)
    except Exception as e:  # noqa: BLE001 - ConnectionError (auth), RuntimeError (version), ...
        hint = (" Something answers there but refused this process: Ray clusters use token authentication, so set "
                "RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) to the cluster's token, and check that this machine has the "
                "cluster's Ray version." if isinstance(e, ConnectionError) else "")
        raise ClusterUnavailable(f"could not join the Ray cluster at {address}: {type(e).__name__}: "
                                 f"{' '.join(str(e).split())}{hint}") from e


def check_nodes(expected: str, reader: str | None = None) -> None:
    """Every live node must run the same gemmadoc, and OCR with the same second reader (Tesseract's script
    models, `reader`: this machine's `tesseract.signature()` unless given; work keys name it, and ingest
    runs on every node): raises ClusterUnavailable naming the nodes that differ and what to do."""
    from pipeline.ingest.tesseract import signature

    reader = signature() if reader is None else reader

    def probe() -> tuple[str, str, str]:  # defined here so Ray ships it by value: it runs even without gemmadoc
        import socket as _socket

        try:
            from flows.ray_stage import installed_version as _version
            from pipeline.ingest.tesseract import signature as _reader

            found, reads = _version(), _reader()
        except Exception as e:  # noqa: BLE001
            found, reads = f"no gemmadoc ({type(e).__name__}: {e})", ""
        return _socket.gethostname(), found, reads

    remote = ray.remote(num_cpus=0, max_retries=0)(probe)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = [remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote()
            for n in nodes]
    try:
        answers = ray.get(refs, timeout=120)
    except (GetTimeoutError, RayError) as e:
        raise ClusterUnavailable(f"the Ray cluster's nodes did not answer a version check: {e}") from e
    wrong = [f"{n['NodeManagerAddress']} ({host}): {found}" for n, (host, found, _) in zip(nodes, answers) if found != expected]
    if wrong:
        raise ClusterUnavailable(f"every Ray node needs the same gemmadoc as this machine ({expected}); these differ: "
                                 + "; ".join(wrong) + ". Install the same version on them (pip install gemmadoc==...).")
    unlike = [f"{n['NodeManagerAddress']} ({host}): {reads or 'none'}" for n, (host, _, reads) in zip(nodes, answers) if reads != reader]
    if unlike:
        raise ClusterUnavailable(
            "every Ray node reads scans, and needs the same Tesseract script models as this machine "
            f"({reader or 'none'}): the work keys name them, so a node with others would give the same key other "
            "words; these differ: " + "; ".join(unlike) + ". Install the same ones there (sh tools/ensure_tesseract.sh, "
            "or the tesseract-ocr-script-* packages), or the same set here.")


@dataclass
class ActorInfo:
    """What a model actor says about itself when it is ready."""

    model_id: str
    node: str
    gpus: list[str]
    pid: int
    loaded_at: float
    is_random: bool = False
    quantization: str = "none"
    parameter_bytes: dict[str, int] = field(default_factory=dict)


@ray.remote(max_restarts=-1, max_task_retries=0)
class ModelServer:
    """One resident model: loads the backend once (`__init__`), then serves the model stage of chunks."""

    def __init__(self, backend_json: str):
        from pydantic import TypeAdapter

        from model.registry import get_backend

        self.error: Exception | None = None
        self.backend = None
        try:
            self.backend = get_backend(TypeAdapter(BackendOptions).validate_json(backend_json))
        except Exception as e:  # noqa: BLE001 - reported by ready(), so the driver sees the message
            why = str(e) if isinstance(e, ModelUnavailable) else f"{type(e).__name__}: {e}"
            self.error = ModelUnavailable(f"(on node {ray.util.get_node_ip_address()}) {why}")
        self.loaded_at = time.time()

    def ready(self) -> ActorInfo:
        """The actor's identity once its model is loaded; raises the load error otherwise."""
        if self.error is not None:
            raise self.error
        ctx = ray.get_runtime_context()
        return ActorInfo(model_id=self.backend.model_id, node=ray.util.get_node_ip_address(),
                         gpus=[str(g) for g in ctx.get_accelerator_ids().get("GPU", [])], pid=os.getpid(),
                         loaded_at=self.loaded_at, is_random=bool(getattr(self.backend, "is_random", False)),
                         quantization=getattr(self.backend, "quantization", "none"),
                         parameter_bytes=dict(getattr(self.backend, "parameter_bytes", {})))

    def extract(self, options: RunOptions, keys: dict[str, str], *parts: list[Prepared]) -> ChunkOutcome:
        prepared = [p for part in parts for p in part]
        return extract_chunk(self.backend, prepared, options, keys)


@ray.remote(num_cpus=1, num_returns=2, max_retries=3)
def ingest_on_node(docs: list[SourceDocument], options: IngestOptions, everything: bool) -> tuple[list[Prepared], list[SourceDocument]]:
    """Ingest the documents this node can read, page images inline; returns (prepared, the ones it cannot
    read), unless `everything` (then a missing file is an error row like anywhere else)."""
    here = [d for d in docs if everything or os.path.exists(d.path)]
    missing = [d for d in docs if not (everything or os.path.exists(d.path))]
    with tempfile.TemporaryDirectory(prefix="gemmadoc-ray-spool-") as spool:
        prepared = inline_images(prepare_chunk(here, options, Path(spool)))
    return prepared, missing


_local_handles: dict[str, "ray.actor.ActorHandle"] = {}  # non-detached actors die with their creating handle


@dataclass
class _Chunk:
    index: int
    docs: list[SourceDocument]
    keys: dict[str, str]
    parts: list = field(default_factory=list)  # ObjectRefs of lists of Prepared
    missing_ref: object = None
    sends: int = 0


class RayModelStage:
    """The model actors of one run and the dispatcher that feeds them."""

    def __init__(self, options: RunOptions, handles: dict, detached: bool, address: str):
        self.options = options
        self.handles = handles
        self.detached = detached
        self.address = address
        self.info: dict[str, ActorInfo] = {}
        self.usage_by_actor: dict[str, WorkerUsage] = {n: WorkerUsage(name=n) for n in handles}
        self.chunk_retries = 0
        self.pending: dict[str, object] = {}  # actor name -> ready() ref, for actors starting or restarting
        self.pinged_at: dict[str, float] = {}
        self.idle: collections.deque[str] = collections.deque()  # actors with a loaded model and no chunk
        self.inflight: dict[object, tuple[_Chunk, str]] = {}
        self.model_id = ""

    @property
    def size(self) -> int:
        return len(self.handles)

    @classmethod
    def connect(cls, options: RunOptions) -> "RayModelStage":
        """Join (or start) the cluster, check its nodes, and get or create the model actors; returns once
        at least one actor has its model loaded. Raises ClusterUnavailable / ModelUnavailable."""
        address = options.cluster.ray
        connect(address)
        check_nodes(installed_version())
        resources = ray.cluster_resources()
        gpus_per_model = getattr(options.backend, "tensor_parallel_size", 1)
        n_gpu_models = int(resources.get("GPU", 0) // gpus_per_model)
        if n_gpu_models:
            n, actor_options = n_gpu_models, dict(num_gpus=gpus_per_model, num_cpus=0)
        elif options.cluster.ray_cpu_actors:
            # num_cpus=0: a model actor holds no CPU slot, or on a small cluster the ingest tasks never get one
            n, actor_options = options.cluster.ray_cpu_actors, dict(num_cpus=0, num_gpus=0, scheduling_strategy="SPREAD")
        else:
            have = ", ".join(f"{k} {v:g}" for k, v in sorted(resources.items()) if not k.startswith(("node:", "memory", "object_store")))
            raise ClusterUnavailable(f"the Ray cluster at {address} has no GPUs ({have or 'no resources'}"
                                     f"{'; one model needs ' + str(gpus_per_model) if gpus_per_model > 1 else ''}). "
                                     "Add GPU nodes, or pass --ray-cpu-actors N to run N models on CPUs.")
        detached = address != "local"
        prefix = actor_prefix(options.backend)
        names = [f"{prefix}-{i}" for i in range(n)]
        existing = {name: _existing_actor(name) for name in names}
        handles = {name: h for name, h in existing.items() if h is not None}
        if n_gpu_models:  # new actors only where a GPU is free: one that cannot be placed would wait forever
            room = int(ray.available_resources().get("GPU", 0) // gpus_per_model)
            names = list(handles) + [name for name in names if name not in handles][:room]
            if not names:
                others = [a for a in _named_actors() if not a.startswith(prefix)]
                raise ClusterUnavailable(
                    f"every GPU of the Ray cluster at {address} is taken"
                    + (f", by {len(others)} gemmadoc model(s) loaded with other settings ({', '.join(others[:4])})"
                       f". Release them with `gemmadoc ray stop-models --ray {address}`, or run with their settings"
                       if others else " by other work; try again when it is done"))
        for name in names:
            if name not in handles:
                handles[name] = ModelServer.options(name=name, namespace=NAMESPACE, get_if_exists=True,
                                                    lifetime="detached" if detached else None, **actor_options
                                                    ).remote(options.backend.model_dump_json())
                if not detached:  # the creating handle: a non-detached actor dies when it is dropped
                    _local_handles[name] = handles[name]
        stage = cls(options, handles, detached, address)
        stage._await_first_actor()
        return stage

    # -- actors -------------------------------------------------------------------------------------

    def _await_first_actor(self) -> None:
        """Wait for the actors' models to load; return once one is ready (the rest join while working)."""
        self.pending = {name: h.ready.remote() for name, h in self.handles.items()}
        deadline = time.monotonic() + NO_ACTOR_GIVE_UP_S
        while not self.idle:
            self._reping()
            waiting = [r for r in self.pending.values() if r is not None]
            ready, _ = ray.wait(waiting, num_returns=1, timeout=1.0) if waiting else ([], [])
            if not ready and time.monotonic() > deadline:
                raise ClusterUnavailable(f"no model actor became ready within {NO_ACTOR_GIVE_UP_S:.0f} s "
                                         f"on the Ray cluster at {self.address}")
            for name, ref in list(self.pending.items()):
                if ref in ready:
                    self._answered(name, ref, raise_load_errors=True)
            if not self.pending and not self.idle:
                raise ClusterUnavailable("every model actor died while loading its model")

    def _answered(self, name: str, ref, raise_load_errors: bool = False) -> None:
        """A ready()/ping answer arrived: the actor joins the idle ones, or stays pending (restarting)."""
        del self.pending[name]
        try:
            info = ray.get(ref)
        except RayTaskError as e:  # the model did not load: tell, and let the next run try fresh actors
            cause = e.cause if isinstance(e.cause, ModelUnavailable) else ModelUnavailable(str(e))
            if raise_load_errors or not self.info:
                for handle in self.handles.values():  # same settings: the others fail alike
                    ray.kill(handle, no_restart=True)
                raise ModelUnavailable(f"model actor {name} could not load its model: {cause}") from e
            ray.kill(self.handles[name], no_restart=True)
            log.warning("model actor %s could not load its model: %s", name, cause)
            return
        except RayActorError:  # dead or restarting: ping again shortly
            self.pinged_at[name] = time.monotonic()
            self.pending[name] = None
            return
        self.info[name] = info
        self.model_id = self.model_id or info.model_id
        usage = self.usage_by_actor[name]
        usage.node, usage.gpus = info.node, info.gpus
        self.idle.append(name)

    def _reping(self) -> None:
        """Ping the actors whose last ping failed, at most twice a second (Ray restarts them elsewhere)."""
        now = time.monotonic()
        for name, ref in list(self.pending.items()):
            if ref is None and now - self.pinged_at.get(name, 0) > 0.5:
                self.pending[name] = self.handles[name].ready.remote()

    def _lost(self, name: str) -> None:
        """The actor (or its node) died: it is only handed work again after it answers."""
        self.usage_by_actor[name].lost_chunks += 1
        self.pending[name] = self.handles[name].ready.remote()

    # -- the dispatcher -----------------------------------------------------------------------------

    def chunk_size(self, documents: int) -> int:
        """--chunk-docs, else small enough that every actor gets at least two chunks."""
        if self.options.output.chunk_docs:
            return self.options.output.chunk_docs
        return max(1, min(self.options.chunk_size(), math.ceil(documents / (2 * self.size))))

    def outcomes(self, chunks: list[list[SourceDocument]], options: RunOptions, keys: dict[str, str],
                 model_id: str) -> Iterator[tuple[int, ChunkOutcome]]:
        """Yield (chunk index, outcome) as chunks finish, in any order; every chunk exactly once."""
        todo = collections.deque(_Chunk(i, docs, {d.doc_id: keys[d.doc_id] for d in docs}) for i, docs in enumerate(chunks))
        ingesting: dict[object, _Chunk] = {}  # missing_ref -> chunk
        ready: collections.deque[_Chunk] = collections.deque()  # ingested, waiting for an actor
        inflight = self.inflight = {}  # extract ref -> (chunk, actor name)
        here = NodeAffinitySchedulingStrategy(ray.get_runtime_context().get_node_id(), soft=False)
        window = 2 * self.size  # chunks ingested ahead of the actors: bounds the object store's load
        no_actor_since: float | None = None
        while todo or ingesting or ready or inflight:
            while todo and len(ingesting) + len(ready) < window:
                c = todo.popleft()
                prepared_ref, c.missing_ref = ingest_on_node.remote(c.docs, options.ingest, False)
                c.parts = [prepared_ref]
                ingesting[c.missing_ref] = c
            while ready and self.idle:
                c, name = ready.popleft(), self.idle.popleft()
                c.sends += 1
                inflight[self.handles[name].extract.remote(options, c.keys, *c.parts)] = (c, name)
            self._reping()
            if not self.idle and not inflight and ready:  # work waits and no actor serves (all lost or restarting)
                no_actor_since = no_actor_since or time.monotonic()
                if time.monotonic() - no_actor_since > NO_ACTOR_GIVE_UP_S:
                    for c in ready:
                        yield c.index, self._failed(c, model_id, RuntimeError(
                            f"no model actor answered for {NO_ACTOR_GIVE_UP_S:.0f} s (every GPU node lost?)"))
                    ready.clear()
                    continue
            else:
                no_actor_since = None
            waiting = list(inflight) + list(ingesting) + [r for r in self.pending.values() if r is not None]
            if not waiting:
                time.sleep(0.1)
                continue
            done, _ = ray.wait(waiting, num_returns=1, timeout=0.5)
            for ref in done:
                if ref in ingesting:
                    c = ingesting.pop(ref)
                    try:
                        missing = ray.get(ref)
                    except RayError as e:
                        yield c.index, self._failed(c, model_id, e, stage="ingest")
                        continue
                    if missing:  # not on that node's disk: ingest those on the flow's node
                        c.parts.append(ingest_on_node.options(scheduling_strategy=here).remote(missing, options.ingest, True)[0])
                    ready.append(c)
                elif ref in inflight:
                    c, name = inflight.pop(ref)
                    outcome = self._collect(ref, c, name, model_id)
                    if outcome is not None:
                        yield c.index, outcome
                    elif c.sends < MAX_SENDS:
                        ready.appendleft(c)  # its actor died: first in line for the next live one
                    else:
                        yield c.index, self._failed(c, model_id, RuntimeError(
                            f"the model actor serving this chunk died {c.sends} times (lost nodes?)"))
                else:
                    name = next(n for n, r in self.pending.items() if r == ref)
                    self._answered(name, ref)

    def busy(self) -> list[str]:
        """The actors serving a chunk right now."""
        return [name for _, name in self.inflight.values()]

    def _collect(self, ref, c: _Chunk, name: str, model_id: str) -> ChunkOutcome | None:
        """The chunk's outcome, or None when its actor died (the chunk is to be sent again)."""
        try:
            outcome = ray.get(ref)
        except RayActorError:
            self.chunk_retries += 1
            self._lost(name)
            return None
        except RayTaskError as e:
            self.idle.append(name)
            if isinstance(e.cause, ModelUnavailable):
                raise e.cause
            return self._failed(c, model_id, e.cause if isinstance(e.cause, Exception) else e)
        except RayError as e:  # e.g. the chunk's ingested pages were lost with their node, beyond retries
            self.idle.append(name)
            return self._failed(c, model_id, e)
        self.idle.append(name)
        usage = self.usage_by_actor[name]
        usage.chunks += 1
        usage.requests += outcome.stats.requests
        return outcome

    def _failed(self, c: _Chunk, model_id: str, error: BaseException, stage: str = "model") -> ChunkOutcome:
        return failed_outcome([Prepared(doc=d) for d in c.docs], c.keys, self.options, model_id, error, stage)

    # -- the run's record ---------------------------------------------------------------------------

    def usage(self) -> dict:
        """The runs table's cluster columns (and the weights' quantization and bytes, as the actors loaded them)."""
        first = next(iter(self.info.values()), None)
        weights = {"quantization": first.quantization, "parameter_bytes": first.parameter_bytes} if first else {}
        return {**weights, "cluster": f"ray {self.address}", "chunk_retries": self.chunk_retries,
                "workers": [u for u in self.usage_by_actor.values() if u.chunks or u.lost_chunks or u.node]}


@dataclass
class ModelActor:
    """A gemmadoc model actor as `gemmadoc ray models` lists it."""

    name: str
    state: str
    node: str = ""
    gpus: list[str] = field(default_factory=list)
    model_id: str = ""
    pid: int = 0
    loaded_at: float = 0.0


def _existing_actor(name: str):
    """The live actor of that name, or None."""
    try:
        return ray.get_actor(name, namespace=NAMESPACE)
    except ValueError:
        return None


def _named_actors() -> list[str]:
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a.get("namespace") == NAMESPACE and a["name"].startswith("gemmadoc-")]


def list_models(address: str, timeout_s: float = 10.0) -> list[ModelActor]:
    """The gemmadoc model actors on the cluster; those that answer within `timeout_s` say where they are."""
    connect(address)
    found = []
    for name in sorted(_named_actors()):
        try:
            info = ray.get(ray.get_actor(name, namespace=NAMESPACE).ready.remote(), timeout=timeout_s)
            found.append(ModelActor(name, "ready", info.node, info.gpus, info.model_id, info.pid, info.loaded_at))
        except GetTimeoutError:
            found.append(ModelActor(name, "busy or loading"))
        except (RayError, ValueError) as e:
            found.append(ModelActor(name, f"not answering ({type(e).__name__})"))
    return found


def stop_models(address: str) -> list[str]:
    """Kill every gemmadoc model actor on the cluster; returns their names."""
    connect(address)
    names = _named_actors()
    for name in names:
        try:
            ray.kill(ray.get_actor(name, namespace=NAMESPACE), no_restart=True)
        except ValueError:  # gone meanwhile
            pass
        _local_handles.pop(name, None)
    return names
