"""The verdict of a healthy background flow (:mod:`pcapflow.reconcile.relevance`), kept apart
so that the pipeline names it without importing the readers."""

BACKGROUND_REASON = "answered"  # the reason ``ok`` gives a healthy flow that is not an attempt
