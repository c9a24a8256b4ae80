"""Pure metric functions and the full-ranking evaluator: below the models (which validate with them) and above
the data layer only.

- :mod:`fathom.metrics.ranking`: top-k ranking metrics of a hit (or gain) matrix, vectorised;
- :mod:`fathom.metrics.queries`: search metrics of ranked document ids against graded judgements;
- :mod:`fathom.metrics.evaluator`: full-ranking evaluation of a scorer over every catalogue item;
- :mod:`fathom.metrics.pointwise`: AUC, group AUC and log loss of pointwise predictions.
"""
