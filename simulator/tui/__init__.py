"""The terminal app (`smtpsim tui`): step through, break and compare mail flows in Textual.

A thin front end: every screen calls the `simulator.Simulation` facade and the
text views in `simulator.views`; nothing here knows SMTP, POP3 or IMAP. Importing
`simulator` does not import this package (nor Textual): the command line loads it
only for `smtpsim tui`.
"""
