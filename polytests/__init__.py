"""polytests: claims about transformer neurons, tested like code."""

__version__ = "0.1.0"
