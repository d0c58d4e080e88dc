"""Attribute names the property tests draw from (with arbitrary text besides)."""

#: What a NAS puts in Access- and Accounting-Requests, plus the source address radiusd adds.
REQUEST_ATTRIBUTES = [
    "User-Name",
    "User-Password",
    "CHAP-Password",
    "MS-CHAP2-Response",
    "Calling-Station-Id",
    "CloudOS-NAS-Address",
    "Framed-IP-Address",
    "Acct-Status-Type",
    "Acct-Session-Id",
    "Acct-Unique-Session-Id",
    "Acct-Input-Octets",
    "Acct-Input-Gigawords",
    "Acct-Output-Octets",
    "Acct-Output-Gigawords",
    "Acct-Session-Time",
    "Acct-Delay-Time",
]

#: What the hooks read back from the control list.
CONTROL_ATTRIBUTES = [
    "Post-Auth-Type",
    "CloudOS-Decision",
    "CloudOS-Reason",
    "CloudOS-Tenant-Id",
    "CloudOS-NAS-Id",
    "CloudOS-Subscriber-Id",
    "CloudOS-Log-Id",
]
