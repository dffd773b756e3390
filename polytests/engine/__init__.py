"""The engine: models, tokens, activations and their caches, and ablated losses. It knows tensors
and sites, never claims or verdicts."""
