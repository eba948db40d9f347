"""Stage 7, rendering: text tables, JSON schemas, the report, figures and files. Nothing here
computes impacts; the command line (:mod:`mlimpact.cli`) parses options and calls these."""
