"""A plugin that declares itself unavailable at import."""

from tfk.errors import PluginUnavailable

raise PluginUnavailable("needs CUDA >= 11.8")
