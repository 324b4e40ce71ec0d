"""yibao (医保): an open-source core platform for a pooling region of China's basic medical insurance."""

__version__ = "0.1.0"
