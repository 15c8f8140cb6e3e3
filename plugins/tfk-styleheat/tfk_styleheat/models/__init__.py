"""StyleHEAT networks (checkpoint-compatible re-implementations; see each module for its key layout)."""
