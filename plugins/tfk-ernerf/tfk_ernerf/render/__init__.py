"""Pure-PyTorch ER-NeRF rendering: cameras and rays, the Morton-ordered occupancy grid, ray marching
(occupancy-culled and the uniform reference) and alpha compositing. Runs on CPU and CUDA alike."""
