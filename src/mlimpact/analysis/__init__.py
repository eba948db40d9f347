"""Stage 5, analysis: generic estimators on sampled outputs: log-linear trends with bootstrap
intervals, and Sobol' indices. Nothing here knows the study's models or claims."""
