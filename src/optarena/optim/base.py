"""The thin shell every optarena optimizer shares.

An optimizer here is four small methods on top of this class, and optionally a fifth:

* ``_check(owner, hp)``: validate one parameter group's hyperparameters (``ValueError`` on bad input);
* ``_init_state(p, state, group)``: create the algorithm's buffers (which may depend on the group's
  settings, e.g. Muon's route), and nothing else; it runs at the parameter's first step, with that
  step's gradient in ``p.grad``;
* ``_coefficients(group, t)``: every number of the update that moves with the LR schedule or the step
  t (decay factors, bias corrections, log-time weights), computed on the host as floats (None: a term
  that is off, e.g. no weight decay);
* ``_update(group, c, params, grads, states)``: the update rule on *lists* of tensors
  (``torch._foreach_*``), reading those coefficients from ``c`` and only constants from ``group``;
* ``_scope(group)``: what the update of one coordinate reads besides that coordinate: ``"coordinate"``
  (nothing), ``"tensor"`` (a reduction over its tensor, e.g. a norm; the default) or ``"list"`` (other
  tensors of the group, e.g. Muon's batched Newton–Schulz). The shell splits the work only that far.

The shell does the rest once: closure handling, refusal of sparse gradients and complex parameters,
the per-parameter step count, low-precision parameters (the update runs on fp32 working copies and is
written back, so bf16 weights get fp32 state and fp32 arithmetic), bf16 *state* on request (the group
option ``state_dtype``, see :mod:`._lowp`: widened to fp32 per chunk, written back with stochastic
rounding), and a ``load_state_dict`` that keeps each state tensor's dtype (torch would cast fp32 state
to a bf16 parameter's dtype).

Contract with subclasses: ``grads`` are read-only (they may be ``p.grad`` itself), ``params`` are updated
in place, and every tensor of a list shares nothing with another. The tensors of one ``_update`` call
share one step count (the shell groups them by step; they differ only when some parameters skipped
steps). The coefficients in ``c`` are floats, or 0-d float64 tensors on the fused path, so an update
never branches on their values (HeavyBall's lesson: a changing LR then never recompiles; and, being
computed on the host, the step's powers and roots are not recomputed inside the fused loop).

Two fast paths (docs/results/perf_cpu.md has the measurements):

* The **fused step** (:meth:`ArenaOptimizer.fuse`, the arena trainer's default for runs where it pays,
  see ``optim.fused`` in optarena.train.config): each parameter group's ``_update`` over *all* of the
  group's tensors is traced once by ``torch.compile`` (inductor) into one graph, whose elementwise chain
  inductor fuses vertically (one read and one write of every buffer) and horizontally (the group's
  tensors in one kernel: on CPU one C++ function with a loop per tensor, on CUDA foreach kernels). A
  step is then one call per group, whatever the number of tensors, with no per-tensor Python.
  Design choices, and why:

  - The parameters, gradients and state stay where they are (no flat buffers): a drop-in optimizer
    must not move a model's storage, and torch's ``zero_grad`` frees the gradients every step, so
    flat gradient storage would cost a gather (two extra passes, more than the fusion saves on Adam).
  - Shapes are static: a graph serves one group's exact tensor list, which training never changes.
    The coefficients enter as 0-d float64 tensors, so a changing LR or step never recompiles; every
    group compiles under a code object of its own, so many groups never meet dynamo's recompile limit.
  - It falls back to the eager step, for that group and step only, where a graph would not apply or
    would recompile: some parameter without a gradient this step, parameters at different step counts,
    tensors on several devices, FSDP2's sharded DTensor parameters (whose elementwise updates run
    per shard eagerly), and scope "list" (Muon's Newton–Schulz groups stay eager).
  - bf16 state is widened around the fused call and rounded back as on the eager path.
  - The price is compile time, once per process and group, growing with the number of tensors
    (inductor's on-disk cache makes a second process much cheaper): measured in perf_cpu.md.

  Numbers equal the eager step up to inductor's reassociation (the reference tests run on both).

* On CPU, the eager ``_update`` runs on chunks of about ``cpu_chunk_numel`` elements per torch thread:
  a list of small tensors, a large tensor alone, or, with scope "coordinate", flat slices of a large
  tensor with the matching slices of its state. A foreach chain's intermediates then stay in the L2
  cache instead of streaming whole-model temporaries through DRAM. The same ops on the same numbers:
  bitwise the whole-list step. On GPU the lists stay whole, where foreach ops are multi-tensor kernels.

``group["lr"]`` is withheld from a fused update: whatever depends on it must come through ``c``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch.distributed.tensor import DTensor
from torch.optim import Optimizer

from ._lowp import ROUNDING_SEED, Widened, parse_state_dtype
from ._lowp import WORKING_DTYPES as _WORKING_DTYPES
from ._lowp import default_state_dtype

Lists = tuple[list[torch.Tensor], list[torch.Tensor], list[dict[str, Any]]]
Update = Callable[[dict[str, Any], dict[str, Any], list[torch.Tensor], list[torch.Tensor], list[dict[str, Any]]], None]

# Elements per chunk when bf16 state is widened on a GPU: the fp32 working copies then stay a bounded
# transient (64 MiB per buffer) instead of a whole fp32 copy of the state.
_LOWP_GPU_CHUNK = 1 << 24


class ArenaOptimizer(Optimizer):
    """Base class: see the module docstring for the contract."""

    # Log-time methods read the schedule factor s(t) = group['lr'] / group['peak_lr'], as the authors'
    # code does with the constructor LR; the peak is recorded per group when the group is added.
    records_peak_lr = False
    # Elements of a CPU chunk per torch thread (each op splits a chunk across the threads): 1 MiB of
    # fp32, so that a chain's few live temporaries fit a 1-2 MiB L2 cache, yet large enough that the
    # per-op dispatch cost (~µs) stays small. None: whole lists on CPU too.
    cpu_chunk_numel: int | None = 1 << 18
    _fused: dict[int, Callable[..., None] | None] | None = None  # group index -> its fused step, None if it failed

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self._check(type(self).__name__, defaults)
        self._rounding: dict[str, torch.Generator] = {}  # per device: bf16 state's stochastic rounding
        super().__init__(params, {**defaults, "state_dtype": parse_state_dtype(
            type(self).__name__, defaults.get("state_dtype"))})

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)
        group = self.param_groups[-1]
        role = f", role {group['role']!r}" if "role" in group else ""  # create() names each group's role
        owner = f"{type(self).__name__} (param group {len(self.param_groups) - 1}{role})"
        _check_real(owner, group["params"])
        self._check(owner, group)
        group["state_dtype"] = parse_state_dtype(owner, group["state_dtype"])
        if self.records_peak_lr:
            group.setdefault("peak_lr", group["lr"])

    # -- subclass hooks ---------------------------------------------------------------------------
    def _check(self, owner: str, hp: dict[str, Any]) -> None:
        raise NotImplementedError

    def _init_state(self, p: torch.Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        raise NotImplementedError

    def _coefficients(self, group: dict[str, Any], t: int) -> dict[str, float | None]:
        raise NotImplementedError

    def _update(self, group: dict[str, Any], c: dict[str, Any], params: list[torch.Tensor],
                grads: list[torch.Tensor], states: list[dict[str, Any]]) -> None:
        raise NotImplementedError

    def _scope(self, group: dict[str, Any]) -> str:
        return "tensor"

    # -- the shared step ----------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for index, group in enumerate(self.param_groups):
            params = [p for p in group["params"] if p.grad is not None]
            if params:
                self._step_group(index, group, params)
        return loss

    def _step_group(self, index: int, group: dict[str, Any], params: list[torch.Tensor]) -> None:
        states = [self._next_state(p, group) for p in params]
        work = [p if p.dtype in _WORKING_DTYPES else p.float() for p in params]
        grads = [p.grad if p.grad.dtype == w.dtype else p.grad.to(w.dtype) for p, w in zip(params, work)]
        scope = self._scope(group)
        low = _low_precision(group["state_dtype"])
        by_step = _indices_by_step(states)
        if self._fusable(index, group, params, work, by_step, scope) and self._step_fused(
                index, group, work, grads, states):
            by_step = []
        for idx in by_step:
            c = self._coefficients(group, states[idx[0]]["step"])
            lists = ([work[i] for i in idx], [grads[i] for i in idx], [states[i] for i in idx])
            limit = None
            if scope != "list" and work[0].device.type == "cpu" and not _sharded(work):
                limit = _chunk_limit(self.cpu_chunk_numel)
            elif scope != "list" and low:
                limit = _LOWP_GPU_CHUNK
            for chunk in _chunks(*lists, limit, split=scope == "coordinate"):
                self._run(self._update, group, c, *chunk)
        for p, w in zip(params, work):
            if w is not p:
                p.copy_(w)

    def _next_state(self, p: torch.Tensor, group: dict[str, Any]) -> dict[str, Any]:
        if p.grad.is_sparse:
            raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
        state = self.state[p]
        if not state:
            state["step"] = 0
            self._init_state(p, state, group)
            if group["state_dtype"] is not None:  # one parameter's buffers at a time: a small transient
                for key, value in state.items():
                    if torch.is_tensor(value) and value.is_floating_point() and value.shape == p.shape:
                        state[key] = value.to(group["state_dtype"])
        state["step"] += 1
        return state

    def _run(self, update: Update, group: dict[str, Any], c: dict[str, Any], params: list[torch.Tensor],
             grads: list[torch.Tensor], states: list[dict[str, Any]]) -> None:
        """``update`` on these lists; bf16 state is widened to fp32 around it and rounded back."""
        if not _low_precision(group["state_dtype"]):
            update(group, c, params, grads, states)
            return
        widened = Widened(params, states, group["state_dtype"])
        update(group, c, params, grads, widened.states)
        widened.narrow(self._rounding_generator)

    def _rounding_generator(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self._rounding:
            self._rounding[key] = torch.Generator(device=device).manual_seed(ROUNDING_SEED)
        return self._rounding[key]

    # -- the fused step -----------------------------------------------------------------------------
    def fuse(self, enable: bool = True) -> ArenaOptimizer:
        """From the next step on, run each group's update as one compiled graph over all of its tensors
        (the fused step of the module docstring); ``enable=False`` returns to the eager step. Returns self.

        Each group compiles at its first fused step; changing a group's hyperparameters other than the
        LR recompiles it (once).
        """
        self._fused = {} if enable else None
        return self

    @property
    def fused(self) -> bool:
        return self._fused is not None

    def _fusable(self, index: int, group: dict[str, Any], params: list[torch.Tensor], work: list[torch.Tensor],
                 by_step: list[list[int]], scope: str) -> bool:
        # Where the graph of this group's whole tensor list does not apply, or would be a second graph
        # (a subset of the tensors, several step counts), this step runs eagerly instead.
        return (self._fused is not None and self._fused.get(index, True) is not None  # None: it failed
                and scope != "list" and len(by_step) == 1
                and len(params) == len(group["params"]) and len({w.device for w in work}) == 1
                and not _sharded(work))

    def _step_fused(self, index: int, group: dict[str, Any], work: list[torch.Tensor],
                    grads: list[torch.Tensor], states: list[dict[str, Any]]) -> bool:
        """The group's fused update; False (nothing done) when its compilation failed, this time or before."""
        assert self._fused is not None
        fn, first = self._fused.get(index), index not in self._fused
        if first:
            fn = self._fused[index] = _compiled_update(self._update, f"fused_update_group{index}")
        device = work[0].device
        hp = {k: v for k, v in group.items() if k not in ("params", "lr")}
        c = {k: None if v is None else torch.tensor(v, dtype=torch.float64, device=device)
             for k, v in self._coefficients(group, states[0]["step"]).items()}
        bare = [{k: v for k, v in s.items() if k != "step"} for s in states]  # an int here would be a guard
        # 0-d tensors enter as 1-element views: inductor lifts a 0-d CPU input to a scalar, and then
        # misses the in-place updates of a chain (a 0-d parameter's second term was lost, torch 2.13)
        bare = [_state_views(s, p.shape, _one_element) if p.dim() == 0 else s for p, s in zip(work, bare)]
        work, grads = [_one_element(x) for x in work], [_one_element(x) for x in grads]
        try:
            self._run(lambda _, *args: fn(hp, *args), group, c, work, grads, bare)
        except torch._dynamo.exc.BackendCompilerFailed as e:  # e.g. no C++ compiler: before any write
            if not first:
                raise
            self._fused[index] = None
            warnings.warn(f"{type(self).__name__}: the fused step of param group {index} could not be "
                          f"compiled ({str(e).splitlines()[0][:200]}); that group steps eagerly", stacklevel=3)
            return False
        return True

    # -- helpers for subclasses ---------------------------------------------------------------------
    def zeros(self, p: torch.Tensor) -> torch.Tensor:
        """A zero state buffer shaped like ``p``, in the default state dtype (the shell then applies
        the group's ``state_dtype``)."""
        return torch.zeros_like(p, dtype=default_state_dtype(p), memory_format=torch.preserve_format)

    def state_dict(self) -> dict[str, Any]:
        out = super().state_dict()
        if self._rounding:  # the stochastic rounding's generators: a resumed run rounds as the original
            out["rounding_rng"] = {key: gen.get_state() for key, gen in self._rounding.items()}
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._check_loadable(state_dict)
        state_dict = dict(state_dict)
        rng = state_dict.pop("rounding_rng", {})
        saved = state_dict["state"]
        ids = [pid for g in state_dict["param_groups"] for pid in g["params"]]
        super().load_state_dict(state_dict)
        self._rounding = {}
        for key, value in rng.items():
            self._rounding_generator(torch.device(key)).set_state(value)
        params = [p for g in self.param_groups for p in g["params"]]
        for pid, p in zip(ids, params):
            for key, value in saved.get(pid, {}).items():
                if torch.is_tensor(value):
                    self.state[p][key] = value.to(device=p.device, copy=True)


    def _check_loadable(self, state_dict: Any) -> None:
        """What `load_state_dict` is given, checked before anything is loaded, with the constructor's
        messages: its groups' hyperparameters (a missing one means another optimizer's state_dict),
        and each parameter's state (its keys against what this optimizer keeps, each buffer's shape
        against the parameter's; on the meta device, so the check allocates nothing)."""
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError(f"{name}.load_state_dict: expected an optimizer state_dict with 'state' and "
                             f"'param_groups', got {type(state_dict).__name__}"
                             f"{' with keys ' + ', '.join(map(str, state_dict)) if isinstance(state_dict, dict) else ''}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state_dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer {len(self.param_groups)}")
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            owner = f"{name}.load_state_dict (param group {i})"
            missing = sorted(set(self.defaults) - set(saved) - {"params"})
            if missing:
                raise ValueError(f"{owner}: the saved group lacks {', '.join(missing)}, which {name} keeps: "
                                 "a state_dict of another optimizer (or of an older optarena)?")
            self._check(owner, {**saved, "params": group["params"]})  # the saved values, on these tensors
            params = group["params"]
            if len(saved["params"]) != len(params):
                raise ValueError(f"{owner}: {len(saved['params'])} saved parameters, {len(params)} here")
            for j, (pid, p) in enumerate(zip(saved["params"], params)):
                self._check_state(f"{owner}, parameter {j} of shape {tuple(p.shape)}", p, group,
                                  state_dict["state"].get(pid, {}))

    def _check_state(self, owner: str, p: torch.Tensor, group: dict[str, Any], saved: dict[str, Any]) -> None:
        """One parameter's saved state against what this optimizer would make for it: the buffers of
        ``_init_state`` (run on a meta copy of ``p`` with a meta gradient, as at a first step, since
        an ``_init_state`` may read it: SVRM's g_0 = g_1), and those an update makes itself, which a
        subclass declares with ``_lazy_state_shapes(p, group) -> {key: shape}`` (Muon's momentum)."""
        if not saved:
            return
        fresh: dict[str, Any] = {"step": 0}
        meta = torch.empty(p.shape, dtype=p.dtype, device="meta")
        meta.grad = torch.empty_like(meta)
        try:
            self._init_state(meta, fresh, group)
        except Exception:  # an _init_state the meta device cannot run: nothing to compare with
            return
        want = {k: v.shape for k, v in fresh.items() if torch.is_tensor(v)}
        lazy = getattr(self, "_lazy_state_shapes", None)
        want.update({k: torch.Size(s) for k, s in (lazy(p, group) if lazy else {}).items()})
        keys, kept = set(saved) - {"step"}, (set(fresh) | set(want)) - {"step"}
        if keys and kept and keys != kept:  # (kept empty: state made elsewhere, nothing to compare)
            raise ValueError(f"{owner}: the saved state has {', '.join(sorted(keys))}; {type(self).__name__} "
                             f"keeps {', '.join(sorted(kept))}: a state_dict of another optimizer?")
        for key, value in saved.items():
            if torch.is_tensor(value) and key in want and value.shape != want[key]:
                raise ValueError(f"{owner}: state {key!r} has shape {tuple(value.shape)}, expected "
                                 f"{tuple(want[key])}")


def _check_real(owner: str, params: list[torch.Tensor]) -> None:
    # The update rules are real (sign, max, √v), and the shell's fp32 working copy (p.float()) would
    # drop a complex parameter's imaginary part with nothing but torch's one-time cast warning.
    for i, p in enumerate(params):
        if p.is_complex():
            raise ValueError(
                f"{owner}: optarena optimizers do not support complex parameters (parameter {i} of shape "
                f"{tuple(p.shape)}, dtype {str(p.dtype).removeprefix('torch.')}); store it as a real tensor "
                "with torch.view_as_real and view it as complex in the forward pass (torch.view_as_complex)")


def _sharded(tensors: list[torch.Tensor]) -> bool:
    """FSDP2's DTensor parameters: their updates run whole (a DTensor is not cut into flat chunks) and
    eager (the fused graph is not traced over DTensors)."""
    return any(isinstance(x, DTensor) for x in tensors)


def _low_precision(dtype: torch.dtype | None) -> bool:
    return dtype is not None and dtype not in _WORKING_DTYPES


def _chunk_limit(per_thread: int | None) -> int | None:
    return None if per_thread is None else per_thread * torch.get_num_threads()


def _indices_by_step(states: list[dict[str, Any]]) -> list[list[int]]:
    """Positions grouped by step count, so that each ``_update`` call sees a single step."""
    by_step: dict[int, list[int]] = {}
    for i, s in enumerate(states):
        by_step.setdefault(s["step"], []).append(i)
    return list(by_step.values())


def _chunks(params: list[torch.Tensor], grads: list[torch.Tensor], states: list[dict[str, Any]],
            limit: int | None, split: bool) -> Iterator[Lists]:
    """The lists cut into chunks of about ``limit`` elements (whole when None); ``split`` allows cutting
    a tensor into flat slices, its state buffers sliced alike."""
    if limit is None:
        yield params, grads, states
        return
    batch: Lists = ([], [], [])
    size = 0
    for p, g, s in zip(params, grads, states):
        if split and p.numel() > limit and _flattenable(p, g, s):
            yield from _slices(p, g, s, limit)
            continue
        for xs, x in zip(batch, (p, g, s)):
            xs.append(x)
        size += p.numel()
        if size >= limit:
            yield batch
            batch, size = ([], [], []), 0
    if batch[0]:
        yield batch


def _slices(p: torch.Tensor, g: torch.Tensor, state: dict[str, Any], limit: int) -> Iterator[Lists]:
    flat_p, flat_g = p.view(-1), g.view(-1)
    flat_state = _state_views(state, p.shape, lambda x: x.view(-1))
    for a in range(0, p.numel(), limit):
        cut = slice(a, a + limit)
        yield [flat_p[cut]], [flat_g[cut]], [_state_views(flat_state, flat_p.shape, lambda x: x[cut])]


def _state_views(state: dict[str, Any], shape: torch.Size, view: Callable[[torch.Tensor], torch.Tensor]
                 ) -> dict[str, Any]:
    """The state with ``view`` applied to every buffer shaped like its parameter (others as they are)."""
    return {k: view(v) if torch.is_tensor(v) and v.shape == shape else v for k, v in state.items()}


def _one_element(x: torch.Tensor) -> torch.Tensor:
    return x.view(1) if x.dim() == 0 else x


def _compiled_update(update: Update, name: str) -> Callable[..., None]:
    """``update`` under ``torch.compile``, entered through a code object of its own: dynamo keeps its
    graphs (and counts recompiles) per code object, so each group gets its own cache."""
    def fused(hp: dict[str, Any], c: dict[str, Any], params: list[torch.Tensor], grads: list[torch.Tensor],
              states: list[dict[str, Any]]) -> None:
        update(hp, c, params, grads, states)
    fused.__code__ = fused.__code__.replace(co_name=name)
    return torch.compile(fused, fullgraph=True, dynamic=False)


def _flattenable(p: torch.Tensor, g: torch.Tensor, state: dict[str, Any]) -> bool:
    buffers = [v for v in state.values() if torch.is_tensor(v) and v.shape == p.shape]
    return all(x.is_contiguous() for x in (p, g, *buffers))
