"""Layer 1: the emotion vocabulary, label parsing and the learnable emotion embedding."""

from emoctl.emotions.embedding import EmotionEmbedding, EmotionTokens
from emoctl.emotions.labels import MAX_INTENSITY, Emotion, EmotionLabel, emotion_curve, interpolate, parse_emotion
from emoctl.emotions.vocabulary import EMOTIONS, NEUTRAL, Vocabulary

__all__ = [
    "EMOTIONS",
    "MAX_INTENSITY",
    "NEUTRAL",
    "Emotion",
    "EmotionEmbedding",
    "EmotionLabel",
    "EmotionTokens",
    "Vocabulary",
    "emotion_curve",
    "interpolate",
    "parse_emotion",
]
