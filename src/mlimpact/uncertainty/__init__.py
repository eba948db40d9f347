"""Stage 3, uncertainty: distributions, the catalogue of uncertain inputs, their binding to run
tables, and the sampling designs. Nothing here evaluates the model."""

#: Sampling designs (:class:`mlimpact.uncertainty.sampling.Design`): plain Monte Carlo, Latin
#: hypercube, scrambled Sobol'.
METHODS = ("mc", "lhs", "sobol")
