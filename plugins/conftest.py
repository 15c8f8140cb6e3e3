pytest_plugins = ["tfk.testing.pytest_plugin"]
