"""Example setup files, shipped in the wheel as mlimpact.examples."""
