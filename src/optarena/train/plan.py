"""`Plan`: the numbers a `TrainConfig` implies once the data and the world size are known.

    vocab_size   the data's vocabulary rounded up to a multiple of 64 (GPT-2's 50257 -> 50304,
                 the padded size the papers count), unless model.vocab_size sets it
    total_steps  T = budget tokens // batch_tokens, floored as the authors' int(20 N / batch)
    accum_steps  batch sequences / (micro_batch x world_size)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from optarena.model import ModelConfig, chinchilla_tokens, count_params, get_preset

from .config import TrainConfig, check_warmup
from .schedule import warmup_steps

VOCAB_MULTIPLE = 64


@dataclass(frozen=True)
class Plan:
    model: ModelConfig
    total_steps: int
    batch_seqs: int  # global sequences per optimizer step
    micro_batch: int  # sequences per rank per forward pass
    accum_steps: int  # forward/backward passes per rank per optimizer step
    warmup_steps: int
    world_size: int
    seq_len: int

    @property
    def batch_tokens(self) -> int:
        return self.batch_seqs * self.seq_len

    @property
    def tokens(self) -> int:
        return self.total_steps * self.batch_tokens

    def to_dict(self) -> dict:
        counts = count_params(self.model)
        return {**dataclasses.asdict(self), "tokens": self.tokens, "batch_tokens": self.batch_tokens,
                "params_total": counts.total, "params_non_embedding": counts.non_embedding}


def make_plan(cfg: TrainConfig, data_vocab: int, world_size: int = 1) -> Plan:
    model = model_config(cfg, data_vocab)
    batch_seqs = cfg.data.batch_tokens // cfg.data.seq_len
    micro = _micro_batch(cfg, batch_seqs, world_size)
    T = total_steps(cfg, model)
    check_warmup(cfg.schedule, T)
    return Plan(model=model, total_steps=T, batch_seqs=batch_seqs, micro_batch=micro,
                accum_steps=batch_seqs // (micro * world_size), warmup_steps=warmup_steps(cfg.schedule, T),
                world_size=world_size, seq_len=cfg.data.seq_len)


def model_config(cfg: TrainConfig, data_vocab: int) -> ModelConfig:
    """The preset at the data's vocabulary, with RoPE tables as long as the training sequences."""
    vocab = cfg.model.vocab_size
    if vocab is None:
        vocab = -(-data_vocab // VOCAB_MULTIPLE) * VOCAB_MULTIPLE
    elif vocab < data_vocab:
        raise ValueError(f"model.vocab_size={vocab} is smaller than the data's vocabulary ({data_vocab})")
    return get_preset(cfg.model.preset, vocab_size=vocab, max_seq_len=cfg.data.seq_len)


def total_steps(cfg: TrainConfig, model: ModelConfig) -> int:
    b = cfg.budget
    if b.steps is not None:
        return b.steps
    tokens = b.tokens if b.tokens is not None else chinchilla_tokens(model, ratio=b.ratio, count=b.count)
    steps = tokens // cfg.data.batch_tokens
    if steps < 1:
        raise ValueError(f"the budget of {tokens} tokens is less than one batch "
                         f"(data.batch_tokens={cfg.data.batch_tokens}); raise budget.tokens or budget.ratio")
    return steps


def _micro_batch(cfg: TrainConfig, batch_seqs: int, world_size: int) -> int:
    if batch_seqs % world_size:
        raise ValueError(f"the global batch of {batch_seqs} sequences (data.batch_tokens / data.seq_len) "
                         f"does not split over {world_size} processes")
    per_rank = batch_seqs // world_size
    micro = cfg.data.micro_batch or per_rank
    if per_rank % micro:
        raise ValueError(f"data.micro_batch={micro} must divide the {per_rank} sequences each of "
                         f"{world_size} processes takes per step")
    return micro
