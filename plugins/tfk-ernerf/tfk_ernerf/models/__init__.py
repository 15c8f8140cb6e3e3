"""ER-NeRF networks (head and torso) and their encoders, checkpoint-compatible with the original."""
