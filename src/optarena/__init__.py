"""optarena: optimizers for language-model pretraining, and an arena that judges them fairly."""

__version__ = "0.1.0"
