"""The topology pane: every host with its role, whether it is up, its TLS, its queue and its connections."""

from __future__ import annotations

from rich.text import Text

from simulator.sim import HostStatus
from simulator.tui.widgets.text_pane import TextPane


class Topology(TextPane):
    """The world's hosts as they are at the current step, two lines each so that it reads at any width."""

    DEFAULT_CSS = """
    Topology { height: auto; }
    """

    def show(self, hosts: list[HostStatus], connections: dict[str, int]) -> None:
        """Redraw from the facade's host list and the number of protocol engines each host has on a connection."""
        out = Text()
        for host in hosts:
            out.append(host.name, style="bold")
            out.append(f"  {host.ip}\n")
            out.append(f"  {host.role} · ")
            if host.up:
                out.append("up")
            else:
                out.append("DOWN", style="bold reverse")
            facts = [host.tls or "no TLS"]
            if host.role == "mail-server":
                facts.append(f"queue {host.queued}")
            if connections.get(host.name):
                open_ = connections[host.name]
                facts.append(f"{open_} open connection{'s' if open_ != 1 else ''}")
            out.append(" · " + " · ".join(facts) + "\n")
        self.show_text(out)
