"""What the simulator knows of RangerMSP's data, from the DB API's description (not from the backend).

Where the description is silent or says "verify", the simulator's choice is a constant here and
listed in docs/rangermsp-simulator.md.
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT_ENCODING = "cp1252"  # every buffer, both ways
XML_ENCODING_NAME = "windows-1252"
DATE_DISPLAY = "%d/%m/%Y %H:%M"
STATUS_NEW = 100  # the status a ticket gets when the insert names none
STATUS_TEXTS = {100: "New", 200: "In Progress", 300: "Waiting for Customer", 400: "Waiting for Vendor",
                500: "Scheduled", 1000: "Completed"}
MISSING_REQUIRED = 150001  # the code for an asset insert without type or status (the real one is unknown)
PLACEHOLDER_BODY = "0" * 17  # a REC ID of a prefix and seventeen zeros is a placeholder (150006)
MAX_REQUEST_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Table:
    code: int
    datakind: str
    prefix: str
    fields: frozenset[str]
    required: frozenset[str] = frozenset()

    @property
    def rec_id_field(self) -> str:
        return f"FLD{self.prefix}RECID"


def _names(prefix: str, *names: str) -> frozenset[str]:
    return frozenset(f"FLD{prefix}{n}" for n in names)


TABLES = (
    Table(10, "ACCOUNT", "CRD", _names("CRD", "RECID", "FULLNAME", "COMPANY", "ASSIGNCARDID", "NOTES", "CARDID2",
                                        "CARDID3", "USER1", "USER2", "USER3", "USER4", "USER5")),
    Table(60, "HISTORY-NOTE", "HIS", _names("HIS", "RECID", "LINKRECID", "CARDID", "NOTEDATETIME", "DESCRIPTION",
                                             "WORKERID")),
    Table(70, "TICKET", "TKT", _names("TKT", "RECID", "TICKETNO", "PROBLEM", "STATUS", "CARDID", "ASSETRECID",
                                       "WORKERID", "PRIORITY", "SOURCE", "KIND", "CATEGORY", "USER1", "USER2",
                                       "USER3", "USER4", "USER5")),
    Table(90, "ASSET", "AST", _names("AST", "RECID", "NAME", "ACCRECID", "SERIALNO", "MANUFACTURER", "MODEL",
                                      "ASSETTYPE", "STATUS", "NOTES"),
          required=_names("AST", "ASSETTYPE", "STATUS")),
)
BY_CODE = {t.code: t for t in TABLES}
BY_DATAKIND = {t.datakind: t for t in TABLES}
BY_PREFIX = {t.prefix: t for t in TABLES}
RAW_FIELDS = frozenset({"FLDTKTSTATUS"})  # answered with CmtRawData (the stored code) and a display text
