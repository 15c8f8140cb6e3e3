"""ER-NeRF training: presets, the head/lips/torso stages, checkpoints and resume."""
