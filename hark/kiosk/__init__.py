"""Hark as an unattended kiosk: visitor sessions, operator endpoints, structured logs, fault recovery.

`service.KioskService` wires it together; `session` is the visitor state machine, `conversation` the
voice loop's view of it, `audio` the devices, `health`/`metrics`/`log` what the operator sees.
"""
