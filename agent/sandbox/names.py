"""Word lists the world generator draws from: company names, hardware, alerts.

The fixed company names come first so that even a small world holds the cases a matcher
must cope with: near-duplicates, ``&``, legal-form suffixes.
"""

from __future__ import annotations

FIXED_CLIENTS = [
    "ACME Inc.", "Acme, Inc", "ACME Holdings", "Smith & Sons", "Müller Technik GmbH",
    "Blue River Dental LLC", "Harbour View Accountants Ltd", "Northwind Traders",
    "Northwind Traders Ltd", "O'Brien & Partners", "Contoso Legal LLC", "Fabrikam GmbH",
    "Greenfield Veterinary Clinic", "Summit Logistics Ltd", "Pine & Oak Interiors",
    "St. Mary's Parish", "Bright Smile Orthodontics", "Keller Bau GmbH", "Redwood Realty LLC",
    "Tailspin Toys", "Coho Winery", "Lakeside Medical Group", "Alpine Ski Haus",
    "Wide World Importers Ltd", "Baker, Baker & Cole LLP", "Sunrise Bakery",
]

WORDS_A = [
    "Apex", "Beacon", "Cedar", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Iron",
    "Juniper", "Keystone", "Liberty", "Maple", "Nova", "Orion", "Pioneer", "Quantum", "Riverside",
    "Sterling", "Trident", "Union", "Vertex", "Willow", "Zephyr", "Atlas", "Crescent", "Summit",
]
WORDS_B = [
    "Dental", "Logistics", "Accounting", "Law", "Realty", "Engineering", "Medical", "Foods",
    "Construction", "Consulting", "Insurance", "Motors", "Printing", "Design", "Clinic",
    "Manufacturing", "Partners", "Pharmacy", "Studios", "Outfitters",
]
SUFFIXES = ["Inc.", "LLC", "Ltd", "GmbH", "Group", "& Co.", "Corp.", "", "", ""]

STREETS = ["Main St", "High Street", "Oak Avenue", "Bahnhofstraße", "Market Square", "Elm Road",
           "Industrial Park", "Harbour Way", "Station Road", "Church Lane"]
CITIES = ["Springfield", "Riverton", "Bristol", "München", "Portland", "Lakeside", "Fairview",
          "Greenville", "Dublin", "Kingston"]

# (type, manufacturer, models, os list, name tag)
HARDWARE = [
    ("Server", "Dell Inc.", ["PowerEdge R640", "PowerEdge T440", "PowerEdge R750"],
     ["Windows Server 2022", "Windows Server 2019", "Ubuntu 22.04 LTS"], "SRV"),
    ("Server", "HPE", ["ProLiant DL380 Gen10", "ProLiant ML350 Gen10"],
     ["Windows Server 2019", "Windows Server 2016"], "SRV"),
    ("Desktop", "Dell Inc.", ["OptiPlex 7090", "OptiPlex 5080", "Precision 3650"],
     ["Windows 11 Pro", "Windows 10 Pro"], "WS"),
    ("Desktop", "HP", ["EliteDesk 800 G6", "ProDesk 400 G7"], ["Windows 10 Pro", "Windows 11 Pro"], "WS"),
    ("Desktop", "LENOVO", ["ThinkCentre M720q", "ThinkCentre M90s"], ["Windows 11 Pro"], "WS"),
    ("Desktop", "System manufacturer", ["System Product Name", "To be filled by O.E.M."],
     ["Windows 10 Pro"], "WS"),
    ("Laptop", "LENOVO", ["ThinkPad T14 Gen 2", "ThinkPad X1 Carbon Gen 9"], ["Windows 11 Pro"], "LT"),
    ("Laptop", "Dell Inc.", ["Latitude 5420", "Latitude 7430"], ["Windows 11 Pro", "Windows 10 Pro"], "LT"),
    ("Laptop", "Apple Inc.", ["MacBookPro18,3", "MacBookAir10,1"], ["macOS 14.2"], "MAC"),
    ("Network", "Cisco", ["Meraki MX68", "Catalyst 2960-X"], [""], "FW"),
    ("Network", "Ubiquiti", ["UniFi Switch 24", "UniFi Dream Machine Pro"], [""], "SW"),
    ("Other", "Synology", ["DS920+", "RS1221+"], ["DSM 7.2"], "NAS"),
]

JUNK_SERIALS = ["To be filled by O.E.M.", "Default string", "0", "", "System Serial Number"]

FRIENDLY = {
    "Server": ["Domain controller", "File server", "SQL server", "Hyper-V host", "Backup server"],
    "Desktop": ["Reception PC", "Accounts workstation", "Front desk", "CAD workstation", ""],
    "Laptop": ["Director's laptop", "Sales laptop", "Loaner", ""],
    "Network": ["Edge firewall", "Core switch", "Office switch"],
    "Other": ["NAS", "Printer", ""],
}

ALERTS = [
    ("Low disk space on C:", "Free space below 5% on {device}."),
    ("Disk C: < 5% free", "Volume C: on {device} has less than 5% free space."),
    ("CPU usage above 90%", "CPU usage on {device} has been above 90% for 15 minutes."),
    ("Memory usage high", "Available memory on {device} is below 500 MB."),
    ("Backup & replication failed", "The nightly backup job on {device} ended with errors."),
    ("Service 'Spooler' stopped", "The Print Spooler service on {device} is not running."),
    ("Device offline", "{device} has not reported for 15 minutes."),
    ("Antivirus definitions out of date", "Definitions on {device} are older than 7 days."),
    ("Patch installation failed", "3 updates failed to install on {device} (0x80070643)."),
]
SITE_ALERTS = [
    ("Internet link down", "The primary WAN link at {site} is down."),
    ("Backup storage almost full", "The backup target for {site} is 95% full."),
]
NOC_TICKETS = [
    ("Scheduled maintenance window", "The NOC will patch monitoring agents tonight 22:00–23:00 UTC."),
    ("Agent update available", "A new monitoring agent version is available for your devices."),
    ("Monthly health report", "Your monthly health report is ready <see portal>."),
]
PRIORITIES = ["Critical", "High", "High", "Medium", "Medium", "Medium", "Low"]
