"""What the simulator knows of RangerMSP's data, each with its source in
docs/../references/rangermsp-api-facts.md (the "facts") or marked as the simulator's own choice
where no source says (listed in docs/rangermsp-simulator.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Ticket statuses: 1000 Completed (facts §5.4, S6); RangerMSP's other fixed codes are unverified
# (W4's table was not reachable): the simulator's set, refused otherwise with 54005 (facts §4.7).
STATUS_NEW = 100
STATUS_TEXTS = {100: "New", 200: "Scheduled", 300: "In Progress", 400: "Waiting for Customer",
                500: "Waiting for Vendor", 600: "Waiting for Approval", 700: "Waiting for Parts",
                800: "Pending", 900: "Canceled", 1000: "Completed"}
# FLDCRDENTITYKIND: 5 = secondary contact (facts §5.3, S1/S4); account and employee values are
# unverified: the simulator's choice is 1 (account, given when an insert names none) and 3.
ENTITY_ACCOUNT, ENTITY_EMPLOYEE, ENTITY_CONTACT = 1, 3, 5
ENTITY_KINDS = frozenset({ENTITY_ACCOUNT, ENTITY_EMPLOYEE, ENTITY_CONTACT})
PLACEHOLDER_BODY = "0" * 17  # a REC ID of a prefix and seventeen zeros is a placeholder (150007)
MAX_REQUEST_BYTES = 1024 * 1024
REC_ID_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Field sizes (CHAR fields; 0 = no limit). Account sizes are the wiki's (facts §5.7, W3); the
# others are the simulator's choice. A settings file can override any (a truncating key field).
MEMO = 0


@dataclass(frozen=True)
class Table:
    code: int
    datakind: str
    prefix: str
    fields: dict[str, int]  # field id -> size (0: no limit)
    required: frozenset[str] = frozenset()
    numeric: frozenset[str] = frozenset()

    @property
    def rec_id_field(self) -> str:
        return f"FLD{self.prefix}RECID"


def _sizes(prefix: str, **sizes: int) -> dict[str, int]:
    return {f"FLD{prefix}{name}": size for name, size in sizes.items()}


TABLES = (
    Table(10, "ACCOUNT", "CRD", _sizes("CRD", RECID=20, FULLNAME=60, COMPANY=60, CONTACT=40, ASSIGNCARDID=20,
                                       NOTES=MEMO, CARDID2=15, CARDID3=15, ENTITYKIND=0, USER1=50, USER2=50,
                                       USER3=50, USER4=50, USER5=50), numeric=frozenset({"FLDCRDENTITYKIND"})),
    Table(60, "HISTORY-NOTE", "HIS", _sizes("HIS", RECID=20, LINKRECID=20, CARDID=20, NOTEDATETIME=0,
                                             DESCRIPTION=MEMO, WORKERID=20)),
    Table(70, "TICKET", "TKT", _sizes("TKT", RECID=20, TICKETNO=0, PROBLEM=MEMO, STATUS=0, CARDID=20,
                                       ASSETRECID=20, WORKERID=20, PRIORITY=0, SOURCE=40, KIND=40, CATEGORY=40,
                                       UPDATEDATE=0, USER1=50, USER2=50, USER3=50, USER4=50, USER5=50),
          numeric=frozenset({"FLDTKTSTATUS", "FLDTKTTICKETNO"})),
    Table(90, "ASSET", "AST", _sizes("AST", RECID=20, NAME=60, ACCRECID=20, SERIALNO=40, MANUFACTURER=40,
                                      MODEL=40, ASSETTYPE=40, STATUS=40, NOTES=MEMO),
          required=frozenset({"FLDASTASSETTYPE", "FLDASTSTATUS"})),
)
BY_CODE = {t.code: t for t in TABLES}
BY_DATAKIND = {t.datakind: t for t in TABLES}
BY_PREFIX = {t.prefix: t for t in TABLES}
RAW_FIELDS = frozenset({"FLDTKTSTATUS", "FLDCRDENTITYKIND"})  # answered with CmtRawData and a display text
MISSING_REQUIRED = 50115  # "Some Mandatory Fields has no Values" (facts §4.7)


@dataclass
class Installation:
    """What differs between installations: the system properties (facts §4.4/§5.6), the ANSI code
    page (facts §3.3), field sizes. Read from ``rangermsp-simulator-settings.json`` in the Db folder."""

    date_format: str = "dd/mm/yyyy"
    date_separator: str = "/"
    time_format: str = "HH:MM"
    am_pm: bool = False
    code_page: str = "cp1252"
    field_sizes: dict[str, int] = field(default_factory=dict)

    def size(self, table: Table, name: str) -> int:
        return int(self.field_sizes.get(name, table.fields.get(name, 0)))
