"""IMAP4rev1 (RFC 3501) building blocks for a sans-IO server engine.

- `state`: the states of RFC 3501 §3 and the TRANSITIONS table.
- `events`: the typed commands and the values inside them (sequence sets, FETCH items, SEARCH keys).
- `readers`: `CommandReader`, framing commands and their literals from bytes split anywhere.
- `parser`: `parse_command`, one framed command to a typed command or a structured BAD.
- `writers`: responses, response codes and the value encoder (atom, quoted, literal, NIL, lists).
- `responses`: every status response the server sends, with explanation and RFC section.
- `commands`: every command, with usage, explanation and RFC section.
- `envelope`: ENVELOPE, BODY, BODYSTRUCTURE, body sections and RFC822.SIZE from raw messages.
- `search`: evaluating SEARCH keys against messages.
- `utf7`: modified UTF-7 mailbox names.
"""
