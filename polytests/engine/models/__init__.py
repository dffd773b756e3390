"""Models: the embedded SoLU model, its training, and loading any model spec."""

from polytests.engine.models.loading import EMBEDDED_MODEL_DIR, LoadedModel, load_model

__all__ = ["EMBEDDED_MODEL_DIR", "LoadedModel", "load_model"]
