"""The POP3 commands, each with a learner's explanation and its RFC section.

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
        CommandInfo("CAPA", "CAPA", "Asks which optional features the server supports.", "RFC 2449 §5"),
        CommandInfo(
            "USER", "USER name", "Names the mailbox to log in to; the password follows with PASS.", "RFC 1939 §7"
        ),
        CommandInfo(
            "PASS",
            "PASS password",
            "Sends the password, in clear text unless the connection is already TLS.",
            "RFC 1939 §7",
        ),
        CommandInfo(
            "APOP",
            "APOP name digest",
            "Logs in without sending the password: the digest is MD5 of the greeting's timestamp and the secret.",
            "RFC 1939 §7",
        ),
        CommandInfo(
            "AUTH", "AUTH mechanism [initial-response]", "Starts a SASL login with the named mechanism.", "RFC 5034 §4"
        ),
        CommandInfo(
            "STLS", "STLS", "Asks to upgrade this connection to TLS before anything secret is sent.", "RFC 2595 §4"
        ),
        CommandInfo("STAT", "STAT", "Asks how many messages the maildrop holds and their total size.", "RFC 1939 §5"),
        CommandInfo("LIST", "LIST [msg]", "Asks for the size of every message, or of one.", "RFC 1939 §5"),
        CommandInfo("RETR", "RETR msg", "Downloads one whole message.", "RFC 1939 §5"),
        CommandInfo(
            "DELE",
            "DELE msg",
            "Marks one message for deletion; it is removed only when QUIT succeeds.",
            "RFC 1939 §5",
        ),
        CommandInfo("NOOP", "NOOP", "Does nothing; checks that the server still answers.", "RFC 1939 §5"),
        CommandInfo("RSET", "RSET", "Removes every deletion mark made in this session.", "RFC 1939 §5"),
        CommandInfo(
            "QUIT",
            "QUIT",
            "Ends the session; after a login this is what makes the marked deletions happen.",
            "RFC 1939 §6",
        ),
        CommandInfo(
            "TOP", "TOP msg n", "Downloads a message's header and only the first n lines of its body.", "RFC 1939 §7"
        ),
        CommandInfo(
            "UIDL",
            "UIDL [msg]",
            "Asks for the unique-id of every message, or of one: ids survive between sessions, numbers do not.",
            "RFC 1939 §7",
        ),
    )
}

SASL_RESPONSE = CommandInfo("", "base64", "The client's answer to a SASL challenge, base64-encoded.", "RFC 5034 §4")


def describe_command(line: str) -> CommandInfo:
    """Look up a command line's verb; unknown verbs get a generic note."""
    verb = line.split(" ", 1)[0].upper()
    return COMMANDS.get(verb) or CommandInfo(
        verb, "", "Not a POP3 command this server knows; expect -ERR.", "RFC 1939 §3"
    )
