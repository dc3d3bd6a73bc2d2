"""Values shared by every stage: packets, flows, load-balancer config, analysis results.

Nothing in this package does I/O. Everything is a frozen dataclass, an enum, or a numpy dtype.
"""
