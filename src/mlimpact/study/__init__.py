"""Stage 6, the study: the application of the generic stages to the notable AI models: scenarios,
the claims and their trends, the dominant inputs, card prices and dataset coverage."""
