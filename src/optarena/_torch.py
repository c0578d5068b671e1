"""Two torch helpers the package shares: the bytes a set of tensors holds (one meaning of "optimizer
memory" for the bench's results and the perf tables) and the device a device setting names (the
trainer's ``run.device``, ``optarena perf --device``)."""

from __future__ import annotations

import torch


def tensor_bytes(tensors: object) -> int:
    """Bytes of the distinct storages among the tensors found in nested dicts, lists and tuples: the
    memory they hold, each storage once (views of one buffer, tensors shared between two optimizers)."""
    seen: dict[tuple[str, int], int] = {}

    def visit(x: object) -> None:
        if torch.is_tensor(x):
            storage = x.untyped_storage()
            seen[(str(storage.device), storage.data_ptr())] = storage.nbytes()
        elif isinstance(x, dict):
            for v in x.values():
                visit(v)
        elif isinstance(x, (list, tuple)):
            for v in x:
                visit(v)

    visit(tensors)
    return sum(seen.values())


def resolve_device(name: str, local_rank: int | None = None, world: int = 1,
                   setting: str = "run.device") -> torch.device:
    """The device ``name`` stands for: "auto" is CUDA when present, else the CPU; "cuda" is
    ``cuda:local_rank`` (torchrun's LOCAL_RANK; the current GPU when None) and needs a CUDA device;
    "cuda:N" pins one GPU, refused when ``world`` > 1 (every rank would share it); other names go to
    ``torch.device``. ``setting`` names the option in the messages (``ValueError``)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{setting}='cuda' but no CUDA device is available")
        return torch.device("cuda") if local_rank is None else torch.device("cuda", local_rank)
    if name.startswith("cuda:") and world > 1:
        raise ValueError(f"{setting}={name!r} pins one GPU; under torchrun use 'cuda' (rank -> cuda:LOCAL_RANK)")
    device = torch.device(name)
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if device.index >= count:
            raise ValueError(f"{setting}={name!r} but this machine has "
                             + (f"{count} CUDA device(s) (cuda:0 to cuda:{count - 1})" if count else "no CUDA device"))
    return device
