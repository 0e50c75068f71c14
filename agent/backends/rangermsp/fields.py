"""RangerMSP's data kinds, the ``FLD…`` fields the backend reads and writes, and the values it
relies on, in one place.

What comes from the vendor's own code or the shipped DLL is said so with its entry of
../references/rangermsp-api-facts.md; what no source shows is marked *unverified*, can be set in
the INI, and ``zenithlink psa probe`` checks it on the installation (:data:`ASSUMPTIONS`).
"""

from __future__ import annotations

from dataclasses import dataclass

QUOTE = "'"  # map line 1, the text qualifier (S1 §3.1)
DELIMITER = ","  # map line 2 (S1 §3.1)
PAGE_SIZE = 500  # MaxRecordCount of one query; the next page is "> the last REC ID" (§4.5)
# The key a record carries so that it can be found again (D9): a note's text and an account's or
# asset's notes end with this marker. Only letters, digits and '-': no LIKE wildcard ('%', '_'),
# nothing the vendor's unescaped XML could break ('<', '&', "'").
KEY_MARKER = "zenithlink-key-{}"
KEY_HASH_LENGTH = 16
MARKER_LENGTH = len(KEY_MARKER.format("0" * KEY_HASH_LENGTH))
# A ticket's key (its Continuum ticket id, or a generated one) must fit the key field whole.
TICKET_KEY_MAX = 20
GENERATED_TICKET_KEY = "zl-{}"

# Ticket statuses. 1000 Completed is read from a RangerMSP-era client (S6, §5.4); RangerMSP
# documents a fixed set whose names can be renamed but whose codes keep their meaning (W4); the
# other codes are unverified (the W4 table was not reachable): [RangerMSP] NewTicketStatus sets
# New, and the probe shows the status a new ticket gets.
STATUS_COMPLETED = 1000
STATUS_CANCELED = 900
STATUS_NEW_GUESS = 100
FIXED_STATUSES = {100: "New", 200: "Scheduled", 300: "In Progress", 400: "Waiting for Customer",
                  500: "Waiting for Vendor", 600: "Waiting for Approval", 700: "Waiting for Parts",
                  800: "Pending", 900: "Canceled", 1000: "Completed"}

# FLDCRDENTITYKIND: the table of accounts also holds secondary contacts (5, read from the vendor
# wrapper's Contact() and RepairShopr's query, S1/S4 §5.3) and employees (value unverified).
ENTITY_KIND_FIELD = "FLDCRDENTITYKIND"
ENTITY_CONTACT = 5
ENTITY_EMPLOYEE_GUESS = 3
ASSET_TYPE_DEFAULT = "Other"  # required on insert (PyCommit, S5 §5.5); value unverified
ASSET_STATUS_DEFAULT = "Active"  # required on insert; value unverified


@dataclass(frozen=True)
class Kind:
    """One data kind: its table code, XML ``Datakind`` and REC ID prefix (§5.1)."""

    name: str
    table_id: int
    datakind: str
    prefix: str
    rec_id_field: str


ACCOUNT = Kind("account", 10, "ACCOUNT", "CRD", "FLDCRDRECID")
HISTORY = Kind("history", 60, "HISTORY-NOTE", "HIS", "FLDHISRECID")
TICKET = Kind("ticket", 70, "TICKET", "TKT", "FLDTKTRECID")
ASSET = Kind("asset", 90, "ASSET", "AST", "FLDASTRECID")
KINDS = {kind.prefix: kind for kind in (ACCOUNT, HISTORY, TICKET, ASSET)}


@dataclass(frozen=True)
class FieldMap:
    """The fields by meaning, and the values an installation may differ in. ``continuum_ticket``
    is the ticket field that keeps the ticket's key (``[RangerMSP] ContinuumTicketField``)."""

    account_name: str = "FLDCRDFULLNAME"
    account_company: str = "FLDCRDCOMPANY"
    account_manager: str = "FLDCRDASSIGNCARDID"
    account_notes: str = "FLDCRDNOTES"
    account_kind: str = ENTITY_KIND_FIELD
    ticket_no: str = "FLDTKTTICKETNO"
    ticket_description: str = "FLDTKTPROBLEM"
    ticket_status: str = "FLDTKTSTATUS"
    ticket_account: str = "FLDTKTCARDID"
    ticket_asset: str = "FLDTKTASSETRECID"
    ticket_manager: str = "FLDTKTWORKERID"
    continuum_ticket: str = "FLDTKTUSER1"
    asset_name: str = "FLDASTNAME"
    asset_account: str = "FLDASTACCRECID"
    asset_serial: str = "FLDASTSERIALNO"
    asset_manufacturer: str = "FLDASTMANUFACTURER"
    asset_model: str = "FLDASTMODEL"
    asset_type: str = "FLDASTASSETTYPE"
    asset_status: str = "FLDASTSTATUS"
    asset_notes: str = "FLDASTNOTES"
    history_ticket: str = "FLDHISLINKRECID"
    history_account: str = "FLDHISCARDID"
    history_at: str = "FLDHISNOTEDATETIME"
    history_text: str = "FLDHISDESCRIPTION"
    history_employee: str = "FLDHISWORKERID"
    status_new: int = STATUS_NEW_GUESS
    not_account_kinds: tuple[int, ...] = (ENTITY_CONTACT, ENTITY_EMPLOYEE_GUESS)
    asset_type_default: str = ASSET_TYPE_DEFAULT
    asset_status_default: str = ASSET_STATUS_DEFAULT

    def account_fields(self) -> list[str]:
        return [ACCOUNT.rec_id_field, self.account_name, self.account_manager, self.account_notes,
                self.account_kind]

    def ticket_fields(self) -> list[str]:
        return [TICKET.rec_id_field, self.ticket_no, self.ticket_description, self.ticket_status,
                self.ticket_account, self.ticket_asset, self.ticket_manager, self.continuum_ticket]

    def asset_fields(self) -> list[str]:
        return [ASSET.rec_id_field, self.asset_name, self.asset_account, self.asset_serial,
                self.asset_manufacturer, self.asset_notes]

    def history_fields(self) -> list[str]:
        return [HISTORY.rec_id_field, self.history_ticket, self.history_at, self.history_text]

    def written_fields(self) -> list[str]:
        """Every field the backend writes or queries on (the probe reads their attributes)."""
        names = (self.account_fields() + self.ticket_fields() + self.asset_fields() + self.history_fields()
                 + [self.history_account, self.asset_type, self.asset_status])
        return list(dict.fromkeys(names))

    def key_fields(self) -> dict[str, int]:
        """The fields a key is written into and compared in, with the length the key needs."""
        return {self.continuum_ticket: TICKET_KEY_MAX, self.history_text: MARKER_LENGTH,
                self.account_notes: MARKER_LENGTH, self.asset_notes: MARKER_LENGTH}


#: What this backend assumes beyond the vendor's code (docs/rangermsp.md), each checked by the probe.
ASSUMPTIONS = {
    "status_new": f"a new ticket's status code is {STATUS_NEW_GUESS} (New)",
    "statuses": "RangerMSP's fixed ticket statuses are 100 New … 900 Canceled, 1000 Completed (only 1000 verified)",
    "entity_kinds": f"contacts are entity kind {ENTITY_CONTACT}; employees {ENTITY_EMPLOYEE_GUESS} (unverified)",
    "quotes": "a quote or line break inside a value is stored as sent (the vendor escapes nothing)",
    "inbox": "a ticket created through the API lands in the Ticket Inbox",
    "continuum_field": "the key field is empty on tickets zenithlink did not make",
    "asset_defaults": f"an asset may be inserted with type {ASSET_TYPE_DEFAULT!r} and status {ASSET_STATUS_DEFAULT!r}",
}
