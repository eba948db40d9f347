"""Stage 2, runs: the run table (one row per training run), its default row, and the builders of
run tables: a setup file, the notable models of Epoch AI, one card."""
