"""Stage 1, the tables: packaged data (hardware, grids, LCA factors, ACT's fab data, the Epoch
AI models, the catalogue file), each read by one loader with one lookup rule."""
