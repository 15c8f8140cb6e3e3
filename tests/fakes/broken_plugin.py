"""A plugin whose import fails."""

raise ImportError("simulated: libfoo.so.1 cannot be opened")
