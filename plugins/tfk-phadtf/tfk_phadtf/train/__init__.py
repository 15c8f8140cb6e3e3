"""PHADTF personalisation: the audio-network fine-tune (:mod:`.audio`) and the memory-GAN fine-tune (:mod:`.gan`)."""
