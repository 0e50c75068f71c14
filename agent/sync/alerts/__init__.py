"""Alert RMMs (N-sight, NinjaOne): failing checks polled as snapshots and kept in step with PSA tickets.

The modules are imported by what uses them (``lifecycle``, ``reconcile``, ``kept``…): the status
fields read ``kept`` without loading the lifecycle and the RMM port behind it.
"""
