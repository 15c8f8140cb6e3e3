"""DFRF training: fine-tune from the base model, from scratch, or train a base model on several subjects."""

from tfk_dfrf.train.runner import train

__all__ = ["train"]
