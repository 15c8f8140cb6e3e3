"""PHADTF networks: the audio LSTM (:mod:`.atcnet`), the memory GAN (:mod:`.gan`, :mod:`.memory`), the
ArcFace replacement (:mod:`.arcface`) and checkpoint I/O in the published layouts (:mod:`.checkpoint`)."""
