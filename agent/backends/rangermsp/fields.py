"""RangerMSP's data kinds and the ``FLD…`` fields the backend reads and writes, in one place.

Everything the contract marks **(verify)** is a named constant here (or a field an INI key can
override), so that a correction found on a real installation is a one-line change. The list of
assumptions is :data:`ASSUMPTIONS`; ``zenithlink psa probe`` checks them on a server.
"""

from __future__ import annotations

from dataclasses import dataclass

ENCODING = "cp1252"  # (verify) the DLLs' byte encoding: the ANSI code page of a Western server
DATE_FORMAT = "%d/%m/%Y %H:%M"  # (verify: locale) how dates come and go
STATUS_NEW_GUESS = 100  # (verify) the code of "New"; the probe reports what a new ticket gets
STATUS_COMPLETED = 1000  # the contract: Completed = 1000
QUOTE = "'"
DELIMITER = ","
MAP_LAYOUT = "quote, delimiter, then one field per line"  # (verify the exact layout)
ASSET_TYPE_DEFAULT = "Other"  # required on insert; (verify) a value the installation accepts
ASSET_STATUS_DEFAULT = "Active"  # required on insert; (verify)
PAGE_SIZE = 500  # MaxRecordCount of one query; 110019 pages on by REC ID
KEY_MARKER = "[zenithlink:{}]"  # the key written into a history note's text and an account's notes


@dataclass(frozen=True)
class Kind:
    """One data kind: its table code, XML ``Datakind`` and REC ID prefix."""

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
    """The fields of the contract's table, by meaning, and the assumed values an installation may
    differ in. ``continuum_ticket`` is the ticket user field that keeps the Continuum ticket id
    (``[RangerMSP] ContinuumTicketField``)."""

    account_name: str = "FLDCRDFULLNAME"
    account_company: str = "FLDCRDCOMPANY"
    account_manager: str = "FLDCRDASSIGNCARDID"
    account_notes: str = "FLDCRDNOTES"
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
    # The values marked (verify) that [RangerMSP] can override (DateFormat, NewTicketStatus, ...).
    date_format: str = DATE_FORMAT
    status_new: int = STATUS_NEW_GUESS
    asset_type_default: str = ASSET_TYPE_DEFAULT
    asset_status_default: str = ASSET_STATUS_DEFAULT

    def account_fields(self) -> list[str]:
        return [ACCOUNT.rec_id_field, self.account_name, self.account_manager, self.account_notes]

    def ticket_fields(self) -> list[str]:
        return [TICKET.rec_id_field, self.ticket_no, self.ticket_description, self.ticket_status,
                self.ticket_account, self.ticket_asset, self.ticket_manager, self.continuum_ticket]

    def asset_fields(self) -> list[str]:
        return [ASSET.rec_id_field, self.asset_name, self.asset_account, self.asset_serial,
                self.asset_manufacturer, self.asset_notes]

    def history_fields(self) -> list[str]:
        return [HISTORY.rec_id_field, self.history_ticket, self.history_at, self.history_text]


#: What this backend assumes of RangerMSP beyond the contract's certainties (docs/rangermsp.md).
ASSUMPTIONS = {
    "encoding": f"the DLLs take and give text in {ENCODING}",
    "date_format": f"dates are written and read as {DATE_FORMAT}",
    "status_new": f"a new ticket's status code is {STATUS_NEW_GUESS} (New)",
    "map_layout": f"the map buffer is: {MAP_LAYOUT}; a quote inside a value is doubled",
    "inbox": "a ticket created through the API lands in the Ticket Inbox",
    "continuum_field": "the Continuum ticket field is empty on tickets zenithlink did not make",
    "asset_defaults": f"an asset may be inserted with type {ASSET_TYPE_DEFAULT!r} and status {ASSET_STATUS_DEFAULT!r}",
}
