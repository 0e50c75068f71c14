"""The look-ups of the inventory files live in :mod:`dbsys.inventory` (plugins read them too);
this name stays for the inbound engine's import until that engine is switched to it."""

from dbsys.inventory import (
    KEYS,
    device_lookup,
    device_record,
    fold,
    inventory_path,
    keys_with,
    problem,
    record_lookup,
    searchable,
    site_record,
)

__all__ = ["KEYS", "device_lookup", "device_record", "fold", "inventory_path", "keys_with", "problem", "record_lookup",
           "searchable", "site_record"]
