"""``tfk ui``: a local web page for every model, generated from the plugins' own declarations.

Optional extra ``tfk[ui]`` (Gradio). :mod:`tfk.ui.forms` maps ``Option`` declarations to form fields
and back without importing Gradio; :mod:`tfk.ui.app` builds and serves the page.
"""
