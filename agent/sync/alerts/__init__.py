"""Alert RMMs (N-sight): failing checks polled as snapshots and kept in step with PSA tickets."""

from agent.sync.alerts.lifecycle import CLEAR, AlertLifecycle, AlertPolicy, PollOutcome, policy_from, skip_rule

__all__ = ["CLEAR", "AlertLifecycle", "AlertPolicy", "PollOutcome", "policy_from", "skip_rule"]
