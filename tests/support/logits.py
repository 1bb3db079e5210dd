"""Comparing next-token distributions, for the prompt-cache tests and benchmark."""

from __future__ import annotations

import numpy as np


def kl(p_logits: np.ndarray, q_logits: np.ndarray) -> float:
    """KL(p || q) of the next-token distributions given by two logit vectors."""
    p = np.exp(p_logits - p_logits.max())
    p /= p.sum()
    log_q = q_logits - q_logits.max()
    log_q -= np.log(np.exp(log_q).sum())
    return float((p * (np.log(p + 1e-30) - log_q)).sum())
