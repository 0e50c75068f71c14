"""``zenithlink demo --rmm ninjaone``: the alert story (:mod:`agent.demo_alerts`) against a sandbox
NinjaOne API v2: open alerts become tickets, a repeat and a recovery become notes, completing a
ticket resets its alert in NinjaOne."""

from __future__ import annotations

from agent.demo_alerts import AlertDemo
from agent.ports.rmm import AlertRmm
from agent.sandbox.ninjaone import NinjaSandbox
from agent.sandbox.ninjaone.server import CLIENT_ID, CLIENT_SECRET, NinjaWorld


class NinjaOneDemo(AlertDemo):
    """The alert story against a sandbox NinjaOne."""

    rmm_name = "NinjaOne"
    backend = "ninjaone"
    inventory_text = ("The agent reads NinjaOne's organizations, their locations and their devices "
                      "(GET /v2/organizations, /v2/locations, /v2/devices, with an OAuth2 client-credentials "
                      "token) into the Dbsys folder's inventory files: a location is a site.")
    site_code_is = "NinjaOne's location id"
    politeness = ("Each poll reads the open alerts once (GET /v2/alerts); the devices again only for a device "
                  "not seen yet, or after ten minutes.")
    completion = "the agent resets the alert in NinjaOne (POST /v2/alert/{uid}/reset)"

    def make_sandbox(self) -> NinjaSandbox:
        return NinjaSandbox(NinjaWorld.seeded(organizations=3, locations=6, devices=24), port=self.port)

    def rmm_sections(self) -> dict[str, dict[str, str]]:
        return {"NinjaOne": {"URL": self.rmm_sandbox.url, "ClientID": CLIENT_ID, "ClientSecret": CLIENT_SECRET}}

    def client(self) -> AlertRmm:
        from agent.backends.ninjaone import NinjaOneClient

        return NinjaOneClient(self.rmm_sandbox.url, CLIENT_ID, CLIENT_SECRET)
