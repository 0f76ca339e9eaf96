"""The SMTP commands, each with a learner's explanation and its RFC section.

The same table annotates a command whoever sent it: our client, a real client
through `smtpsim serve`, or a learner typing in the terminal app.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandInfo:
    verb: str
    usage: str
    explain: str
    rfc: str


COMMANDS: dict[str, CommandInfo] = {
    info.verb: info
    for info in (
        CommandInfo(
            "EHLO",
            "EHLO hostname",
            "The client introduces itself and asks which ESMTP extensions the server supports.",
            "RFC 5321 §4.1.1.1",
        ),
        CommandInfo(
            "HELO", "HELO hostname", "The client introduces itself, the old way: no extensions.", "RFC 5321 §4.1.1.1"
        ),
        CommandInfo(
            "MAIL",
            "MAIL FROM:<address> [parameters]",
            "Starts a transaction and gives the envelope sender, where bounces go.",
            "RFC 5321 §4.1.1.2",
        ),
        CommandInfo(
            "RCPT",
            "RCPT TO:<address> [parameters]",
            "Names one envelope recipient; repeated once per recipient.",
            "RFC 5321 §4.1.1.3",
        ),
        CommandInfo(
            "DATA",
            "DATA",
            "Asks to send the message itself: headers, blank line, body, then a lone dot.",
            "RFC 5321 §4.1.1.4",
        ),
        CommandInfo(
            "BDAT",
            "BDAT size [LAST]",
            "Sends the next chunk of the message as exactly that many octets, no dot needed.",
            "RFC 3030 §2",
        ),
        CommandInfo(
            "RSET", "RSET", "Abandons the current transaction; the connection stays open.", "RFC 5321 §4.1.1.5"
        ),
        CommandInfo(
            "NOOP",
            "NOOP",
            "Does nothing; keeps the connection alive or checks the server still answers.",
            "RFC 5321 §4.1.1.9",
        ),
        CommandInfo(
            "VRFY",
            "VRFY address",
            "Asks whether an address is valid here; often disabled against address harvesting.",
            "RFC 5321 §4.1.1.6, §3.5",
        ),
        CommandInfo(
            "HELP", "HELP [topic]", "Asks for help text meant for a person at a keyboard.", "RFC 5321 §4.1.1.8"
        ),
        CommandInfo("QUIT", "QUIT", "Ends the session; the server replies 221 and closes.", "RFC 5321 §4.1.1.10"),
        CommandInfo(
            "STARTTLS",
            "STARTTLS",
            "Asks to upgrade this connection to TLS before anything secret is sent.",
            "RFC 3207 §4",
        ),
        CommandInfo(
            "AUTH", "AUTH mechanism [initial-response]", "Starts a SASL login with the named mechanism.", "RFC 4954 §4"
        ),
    )
}

SASL_RESPONSE = CommandInfo("", "base64", "The client's answer to a SASL challenge, base64-encoded.", "RFC 4954 §4")
MESSAGE_DATA = CommandInfo(
    "", "", "The message itself, dot-stuffed, ending with a line holding only a dot.", "RFC 5321 §4.5.2, §4.1.1.4"
)
CHUNK_DATA = CommandInfo(
    "", "", "A BDAT chunk: exactly the announced number of octets, sent as they are.", "RFC 3030 §2"
)


def describe_command(line: str) -> CommandInfo:
    """Look up a command line's verb; unknown verbs get a generic note."""
    verb = line.split(" ", 1)[0].upper()
    return COMMANDS.get(verb) or CommandInfo(
        verb, "", "Not an SMTP command this server knows; expect 502.", "RFC 5321 §4.2.4"
    )
