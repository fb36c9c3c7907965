"""`hark eval`: dialogue test suites run through the same dialogue manager and voice pipeline users talk to.

`suite` loads and validates a YAML suite, `expectations` checks one turn, `runner` plays the cases,
`judge` and `similarity` are the optional model-backed checks, `report` writes the HTML page.
"""
