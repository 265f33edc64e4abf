"""Layer 1: the emotion vocabulary, label parsing and the learnable emotion embedding."""

from emoctl.emotions.vocabulary import EMOTIONS, NEUTRAL, Vocabulary

__all__ = ["EMOTIONS", "NEUTRAL", "Vocabulary"]
