"""Alert RMMs (N-sight): failing checks polled as snapshots and kept in step with PSA tickets."""

from agent.sync.alerts.lifecycle import AlertLifecycle, AlertPolicy, PollOutcome, policy_from, skip_rule
from agent.sync.outbound.vocabulary import CLEAR

__all__ = ["CLEAR", "AlertLifecycle", "AlertPolicy", "PollOutcome", "policy_from", "skip_rule"]
