"""DFRF networks (checkpoint-compatible with sstzal/DFRF ``{step:06d}_head.tar`` / ``base.tar``)."""
