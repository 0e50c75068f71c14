"""``zenithlink demo --rmm nsight``: the alert story (:mod:`agent.demo_alerts`) against a sandbox
N-able N-sight's Data Extraction API: failing checks become tickets, a repeat and a recovery become
notes, completing a ticket clears its check in N-sight."""

from __future__ import annotations

from agent.demo_alerts import AlertDemo
from agent.ports.rmm import AlertRmm
from agent.sandbox.nsight import NsightSandbox, NsightWorld


class NsightDemo(AlertDemo):
    """The alert story against a sandbox N-sight."""

    rmm_name = "N-sight"
    backend = "nsight"
    inventory_text = ("The agent reads N-sight's clients, their sites and each site's servers and workstations "
                      "(list_clients, list_sites, list_servers, list_workstations) into the Dbsys folder's "
                      "inventory files.")
    site_code_is = "N-sight's siteid"
    politeness = "The service reads them at most every 90 s, as N-able asks;"
    completion = "the agent clears the check in N-sight (clear_check)"

    def make_sandbox(self) -> NsightSandbox:
        return NsightSandbox(NsightWorld(seed=7, clients=3, sites=6, devices=24), port=self.port)

    def rmm_sections(self) -> dict[str, dict[str, str]]:
        return {"Nsight": {"ServerURL": self.rmm_sandbox.url, "APIKey": self.rmm_sandbox.world.api_key}}

    def client(self) -> AlertRmm:
        from agent.backends.nsight import NsightClient

        return NsightClient(self.rmm_sandbox.url, self.rmm_sandbox.world.api_key, min_poll_seconds=0)
