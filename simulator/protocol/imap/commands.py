"""The IMAP commands, each with its usage, a learner's explanation and its RFC section.

The same table annotates a command whoever sent it: our client, a real client
through `smtpsim serve`, or a learner typing in the terminal app.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommandInfo:
    name: str
    usage: str
    explain: str
    rfc: str


COMMANDS: dict[str, CommandInfo] = {
    info.name: info
    for info in (
        CommandInfo(
            "CAPABILITY", "tag CAPABILITY", "Asks which IMAP extensions the server supports.", "RFC 3501 §6.1.1"
        ),
        CommandInfo("NOOP", "tag NOOP", "Does nothing, but lets the server report new mail.", "RFC 3501 §6.1.2"),
        CommandInfo("LOGOUT", "tag LOGOUT", "Ends the session; the server says BYE and closes.", "RFC 3501 §6.1.3"),
        CommandInfo(
            "STARTTLS", "tag STARTTLS", "Upgrades the connection to TLS before any password is sent.", "RFC 3501 §6.2.1"
        ),
        CommandInfo(
            "AUTHENTICATE",
            "tag AUTHENTICATE mechanism [initial-response]",
            "Starts a SASL login; challenges and responses follow as base64 lines.",
            "RFC 3501 §6.2.2; RFC 4959",
        ),
        CommandInfo(
            "LOGIN", "tag LOGIN user password", "Logs in with a user name and password in clear.", "RFC 3501 §6.2.3"
        ),
        CommandInfo(
            "SELECT", "tag SELECT mailbox", "Opens a mailbox to read and change its messages.", "RFC 3501 §6.3.1"
        ),
        CommandInfo("EXAMINE", "tag EXAMINE mailbox", "Opens a mailbox read-only.", "RFC 3501 §6.3.2"),
        CommandInfo("CREATE", "tag CREATE mailbox", "Creates a new mailbox (a folder).", "RFC 3501 §6.3.3"),
        CommandInfo("DELETE", "tag DELETE mailbox", "Deletes a mailbox and its messages.", "RFC 3501 §6.3.4"),
        CommandInfo("RENAME", "tag RENAME mailbox new-name", "Renames a mailbox.", "RFC 3501 §6.3.5"),
        CommandInfo(
            "SUBSCRIBE", "tag SUBSCRIBE mailbox", "Adds a mailbox to the list the client shows.", "RFC 3501 §6.3.6"
        ),
        CommandInfo(
            "UNSUBSCRIBE", "tag UNSUBSCRIBE mailbox", "Removes a mailbox from the shown list.", "RFC 3501 §6.3.7"
        ),
        CommandInfo(
            "LIST",
            "tag LIST reference pattern",
            "Lists mailboxes matching a pattern; * matches anything, % stops at the hierarchy delimiter.",
            "RFC 3501 §6.3.8",
        ),
        CommandInfo("LSUB", "tag LSUB reference pattern", "Lists subscribed mailboxes.", "RFC 3501 §6.3.9"),
        CommandInfo(
            "STATUS",
            "tag STATUS mailbox (items)",
            "Asks for counts (messages, unseen, next UID) of a mailbox without selecting it.",
            "RFC 3501 §6.3.10",
        ),
        CommandInfo(
            "APPEND",
            "tag APPEND mailbox [(flags)] [date-time] {size}",
            "Uploads a message into a mailbox, as a client does to save a sent message or a draft.",
            "RFC 3501 §6.3.11",
        ),
        CommandInfo(
            "NAMESPACE", "tag NAMESPACE", "Asks where personal, other users' and shared mailboxes live.", "RFC 2342 §5"
        ),
        CommandInfo("ENABLE", "tag ENABLE capability...", "Turns on extensions that change responses.", "RFC 5161"),
        CommandInfo(
            "IDLE",
            "tag IDLE ... DONE",
            "Waits for the server to push news (new mail) until the client sends DONE.",
            "RFC 2177",
        ),
        CommandInfo("CHECK", "tag CHECK", "Asks the server to save its state: a checkpoint.", "RFC 3501 §6.4.1"),
        CommandInfo(
            "CLOSE", "tag CLOSE", "Removes messages marked \\Deleted and closes the mailbox.", "RFC 3501 §6.4.2"
        ),
        CommandInfo("UNSELECT", "tag UNSELECT", "Closes the mailbox without removing anything.", "RFC 3691"),
        CommandInfo(
            "EXPUNGE", "tag EXPUNGE", "Removes messages marked \\Deleted, for good.", "RFC 3501 §6.4.3; RFC 4315 §2.1"
        ),
        CommandInfo(
            "SEARCH",
            "tag SEARCH [CHARSET name] keys",
            "Finds messages by flags, dates, sizes, header or body text; answers with their numbers.",
            "RFC 3501 §6.4.4",
        ),
        CommandInfo(
            "FETCH",
            "tag FETCH set items",
            "Reads data of messages: flags, sizes, the envelope, the structure, or any part of the content.",
            "RFC 3501 §6.4.5",
        ),
        CommandInfo(
            "STORE", "tag STORE set [+|-]FLAGS[.SILENT] (flags)", "Changes the flags of messages.", "RFC 3501 §6.4.6"
        ),
        CommandInfo("COPY", "tag COPY set mailbox", "Copies messages into another mailbox.", "RFC 3501 §6.4.7"),
        CommandInfo("MOVE", "tag MOVE set mailbox", "Moves messages into another mailbox.", "RFC 6851"),
        CommandInfo(
            "UID",
            "tag UID FETCH|STORE|COPY|MOVE|SEARCH|EXPUNGE ...",
            "The same command, with UIDs (which never change) instead of sequence numbers (which shift).",
            "RFC 3501 §6.4.8",
        ),
    )
}

LITERAL_DATA = CommandInfo(
    "", "{size} CRLF octets", "The octets of a literal, sent after the server's '+' go-ahead.", "RFC 3501 §4.3, §7.5"
)
SASL_RESPONSE = CommandInfo(
    "", "base64", "The client's answer to a SASL challenge, base64-encoded; '*' cancels.", "RFC 3501 §6.2.2"
)
IDLE_DONE = CommandInfo("", "DONE", "Ends IDLE; the server completes the IDLE command.", "RFC 2177 §3")


def describe_command(name: str) -> CommandInfo:
    """Look up a command name (any case); unknown names get a generic note."""
    return COMMANDS.get(name.upper()) or CommandInfo(
        name.upper(), "", "Not an IMAP command this server knows; expect BAD.", "RFC 3501 §6, §7.1.3"
    )
