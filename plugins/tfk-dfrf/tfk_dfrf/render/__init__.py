"""DFRF volume rendering: rays and projections, compositing, the tfk renderer and the original-loop restatement."""
