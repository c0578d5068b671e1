"""Toy problems reproducing the seed papers' illustrative figures."""
