"""Test kit for tfk and its plugins.

Load the fixtures in a plugin's ``conftest.py`` with ``pytest_plugins = ["tfk.testing.pytest_plugin"]``.
"""
