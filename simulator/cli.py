"""The `smtpsim` command: list, run, export and serve the built-in scenarios, or open them in the terminal app.

A thin front end: it parses arguments, calls the scenarios, views and bridge,
and turns every mistake in its input into exit code 2 with one line saying
what was expected.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from simulator import bridge, faults, scenarios, web
from simulator.compare import COMPARED
from simulator.scenarios import ScenarioError, ScenarioSpec
from simulator.scenarios.schema import RETRIEVAL_PROFILES
from simulator.scenarios.worlds import default_world as serving_world
from simulator.sim import Simulation
from simulator.views.eavesdropper import render_observed
from simulator.views.jsonl import render_jsonl
from simulator.views.pcap import export_pcap
from simulator.views.report import render_report
from simulator.views.sequence import render_sequence_mermaid, render_sequence_svg
from simulator.views.transcript import render_transcript

USAGE_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but every usage error is one line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE_ERROR, f"{self.prog}: {message}\n")


def _fault(text: str) -> faults.Fault:
    try:
        return faults.parse(text)
    except faults.FaultSpecError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="smtpsim", description="An interactive simulator of how email moves.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("list", help="list the built-in scenarios")

    run = sub.add_parser("run", help="run a scenario and print what happened")
    run.add_argument("scenario", help="a built-in scenario name (see `smtpsim list`) or the path of a .toml file")
    run.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's, else 1)")
    _add_fault_option(run)
    run.add_argument(
        "--format",
        choices=("transcript", "json", "mermaid", "summary", "observed"),
        default="transcript",
        help="output format; mermaid: a sequenceDiagram for Markdown; "
        "observed: what each [[observer]] on a link saw, as a packet analyser shows it",
    )
    run.add_argument("--full", action="store_true", help="show message bodies whole in the transcript")
    run.add_argument("--no-explain", action="store_true", help="leave out the learner's notes")
    run.add_argument(
        "--check",
        action="store_true",
        help="compare the outcome with the scenario's [[expect]] tables: exit 1 and say what was not met",
    )

    export = sub.add_parser(
        "export", help="run a scenario and write it as a pcap file, a sequence diagram or an HTML report"
    )
    export.add_argument("scenario", help="a built-in scenario name (see `smtpsim list`) or the path of a .toml file")
    export.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's, else 1)")
    _add_fault_option(export)
    what = export.add_mutually_exclusive_group(required=True)
    what.add_argument("--pcap", type=Path, metavar="F", help="the packets, for Wireshark or tshark (classic pcap)")
    what.add_argument("--svg", type=Path, metavar="F", help="the sequence diagram as a standalone SVG")
    what.add_argument("--mermaid", type=Path, metavar="F", help="the sequence diagram as Mermaid text")
    what.add_argument(
        "--html", type=Path, metavar="F", help="a self-contained report: outcome, faults, diagrams, transcript"
    )
    export.add_argument(
        "--keylog", type=Path, metavar="F", help="with --pcap: the TLS key log (NSS format) that decrypts it"
    )
    export.add_argument("--full", action="store_true", help="show message bodies whole in the report's transcript")

    compare = sub.add_parser("compare", help="run a scenario once per retrieval profile and compare the devices")
    compare.add_argument("scenario", help="a scenario with devices that read mail, such as pop3-vs-imap")
    compare.add_argument(
        "--profiles",
        type=_profiles,
        default=COMPARED,
        metavar="P,P",
        help=f"retrieval profiles to compare (default: {','.join(COMPARED)}; any of {', '.join(RETRIEVAL_PROFILES)})",
    )
    compare.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's, else 1)")

    tui = sub.add_parser("tui", help="the terminal app: step through a scenario, break it, look at every byte")
    tui.add_argument(
        "scenario",
        nargs="?",
        default="basic",
        help="a built-in scenario name or the path of a .toml file (default: basic)",
    )
    tui.add_argument("--seed", type=int, default=None, help="random seed (default: the scenario's, else 1)")
    tui.add_argument("--lesson", metavar="ID", default=None, help="open on this lesson of the course (01, 02, ...)")

    serve = sub.add_parser("serve", help="expose the simulated servers to real clients on 127.0.0.1")
    serve.add_argument("scenario", nargs="?", default="basic", help="the world to serve (default: basic)")
    serve.add_argument("--smtp", type=_port, default=0, metavar="P", help="port for SMTP (MX); 0 = any free port")
    serve.add_argument("--submission", type=_port, default=0, metavar="P", help="port for submission; 0 = any free")
    serve.add_argument("--pop3", type=_port, default=0, metavar="P", help="port for POP3 (bob's mailbox); 0 = any free")
    serve.add_argument("--imap", type=_port, default=0, metavar="P", help="port for IMAP (bob's mailbox); 0 = any free")
    serve.add_argument(
        "--submissions", type=_port, default=0, metavar="P", help="port for submission over implicit TLS; 0 = any free"
    )
    serve.add_argument(
        "--pop3s", type=_port, default=0, metavar="P", help="port for POP3 over implicit TLS; 0 = any free"
    )
    serve.add_argument(
        "--imaps", type=_port, default=0, metavar="P", help="port for IMAP over implicit TLS; 0 = any free"
    )
    serve.add_argument(
        "--ca-cert",
        type=Path,
        metavar="FILE",
        help="write the world's CA certificate (PEM) to FILE, for clients to verify the servers' certificates",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1 only)")
    serve.add_argument("--spool", type=Path, metavar="DIR", help="write each accepted message and each delivery to DIR")
    serve.add_argument("--seed", type=int, default=1, help="random seed of the world (default 1)")

    pages = sub.add_parser("web", help="serve the tutorial notebooks as web pages (Voila) on 127.0.0.1")
    lab = sub.add_parser("notebook", help="open JupyterLab on the tutorial notebooks, on 127.0.0.1")
    for page, purpose in ((pages, "serve just this one"), (lab, "open this one first")):
        page.add_argument("lesson", nargs="?", help=f"a lesson id (01) or notebook name: {purpose}")
        page.add_argument("--port", type=_port, default=0, metavar="P", help="port to listen on; 0 = any free port")
        page.add_argument(
            "--dir",
            type=Path,
            metavar="DIR",
            help="the tutorials folder (default: the checkout's notebooks/, else the lessons written to the cache)",
        )
    return parser


def _add_fault_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        type=_fault,
        metavar="SPEC",
        help=f"inject a fault: {faults.GRAMMAR} (see README); repeatable",
    )


def _profiles(text: str) -> tuple[str, ...]:
    profiles = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [p for p in profiles if p not in RETRIEVAL_PROFILES]
    if unknown or not profiles:
        raise argparse.ArgumentTypeError(
            f"expected retrieval profiles separated by commas ({', '.join(RETRIEVAL_PROFILES)}), got {text!r}"
        )
    return profiles


def _compare(args: argparse.Namespace) -> int:
    try:
        sim = Simulation.from_scenario(args.scenario, seed=args.seed)
        comparison = sim.compare_retrieval(args.profiles)
    except ScenarioError as exc:
        print(f"smtpsim: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except ValueError as exc:  # a profile the scenario's servers do not offer
        print(f"smtpsim compare: {args.scenario}: {exc}", file=sys.stderr)
        return USAGE_ERROR
    if not any(r.devices for r in comparison.results):
        print(
            f"smtpsim compare: {args.scenario}: no host reads mail (give a client host retrieval = ...)",
            file=sys.stderr,
        )
        return USAGE_ERROR
    print(comparison.table())
    return 0


def _scenario(name: str) -> ScenarioSpec:
    """Read a scenario; a missing or wrong one is exit code 2 with one line saying where and what."""
    try:
        return scenarios.load(name)
    except ScenarioError as exc:
        print(f"smtpsim: {exc}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR) from None


def _simulation(args: argparse.Namespace, *, keylog: bool = False) -> Simulation | None:
    """The scenario built with the command line's seed and faults; None (said on stderr) for a bad --fault."""
    try:
        sim = Simulation.from_scenario(args.scenario, seed=args.seed, keylog=keylog)
    except ScenarioError as exc:  # missing, malformed, or names what its world does not have
        print(f"smtpsim: {exc}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR) from None
    for fault in args.fault:
        try:
            sim.inject(fault)
        except faults.FaultSpecError as exc:  # names a host this world does not have
            print(f"smtpsim: --fault: {exc}", file=sys.stderr)
            return None
    return sim


def _run(args: argparse.Namespace) -> int:
    sim = _simulation(args)
    if sim is None:
        return USAGE_ERROR
    if args.format == "observed" and not sim.observers:
        print(f"smtpsim: {args.scenario}: --format observed needs an [[observer]] on a link; it has none",
              file=sys.stderr)  # fmt: skip
        return USAGE_ERROR
    sim.run()
    if args.format == "observed":
        sys.stdout.write("\n".join(render_observed(tap) for tap in sim.observers.values()))
    elif args.format == "json":
        sys.stdout.write(render_jsonl(sim.trace))
    elif args.format == "mermaid":
        sys.stdout.write(render_sequence_mermaid(sim.trace))
    elif args.format == "summary":
        for o in sim.outcome():
            print(f"{o.message_id:<32} {o.recipient:<24} {o.status:<10} {o.where:<18} {o.detail}".rstrip())
        for device in sim.devices.values():
            subjects = ", ".join(repr(m.subject) for m in device.messages.values())
            print(f"{device.name} ({device.profile}) shows {len(device.messages)}: {subjects}".rstrip(": "))
    else:
        sys.stdout.write(render_transcript(sim.trace, explain=not args.no_explain, full=args.full))
    if args.check:
        unmet = scenarios.check(sim)
        for line in unmet:
            print(f"smtpsim: {line}", file=sys.stderr)
        return 1 if unmet else 0
    return 0


def _export(args: argparse.Namespace) -> int:
    """Run the scenario, render what was asked for, and write it; an unwritable file is a usage error."""
    if args.keylog is not None and args.pcap is None:
        print("smtpsim export: --keylog goes with --pcap (the key log decrypts the capture's TLS)", file=sys.stderr)
        return USAGE_ERROR
    sim = _simulation(args, keylog=args.keylog is not None)
    if sim is None:
        return USAGE_ERROR
    sim.run()
    outputs = {"pcap": args.pcap, "svg": args.svg, "mermaid": args.mermaid, "html": args.html}
    option, path = next((o, p) for o, p in outputs.items() if p is not None)  # argparse lets exactly one through
    try:
        if option == "pcap":
            export_pcap(sim, path, args.keylog)
        else:
            path.write_text(_exported_text(option, sim, args), encoding="utf-8")
    except OSError as exc:
        failed = exc.filename if exc.filename is not None else path
        which = "--keylog" if args.keylog is not None and str(failed) == str(args.keylog) else f"--{option}"
        print(f"smtpsim export: {which} {failed}: cannot write it: {exc.strerror or exc}", file=sys.stderr)
        return USAGE_ERROR
    return 0


def _exported_text(option: str, sim: Simulation, args: argparse.Namespace) -> str:
    if option == "svg":
        return render_sequence_svg(sim.trace, title=sim.scenario)
    if option == "mermaid":
        return render_sequence_mermaid(sim.trace)
    return render_report(
        sim.trace,
        name=sim.scenario,
        description=sim.spec.description,
        seed=sim.seed,
        fault_specs=[f.spec for f in sim.spec.fault] + [f.spec() for f in args.fault],
        outcomes=sim.outcome(),
        full=args.full,
    )


def _serve(args: argparse.Namespace) -> int:
    _scenario(args.scenario)
    world = serving_world(args.seed, tls=True)
    if args.ca_cert is not None:
        assert world.pki is not None
        try:
            args.ca_cert.write_bytes(world.pki.ca_pem())
        except OSError as exc:
            print(f"smtpsim serve: --ca-cert {args.ca_cert}: cannot write the CA certificate: {exc.strerror}",
                  file=sys.stderr)  # fmt: skip
            return USAGE_ERROR
    if args.spool is not None:
        try:
            args.spool.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            print(f"smtpsim serve: --spool {args.spool}: cannot use it as a directory: {exc.strerror}", file=sys.stderr)
            return USAGE_ERROR
    listeners = [
        bridge.Listener("smtp", "mx.example.org", 25, args.smtp),
        bridge.Listener("submission", "smtp.example.com", 587, args.submission),
        bridge.Listener("pop3", "mx.example.org", 110, args.pop3, "POP3"),
        bridge.Listener("imap", "mx.example.org", 143, args.imap, "IMAP"),
        bridge.Listener("submissions", "smtp.example.com", 465, args.submissions),
        bridge.Listener("pop3s", "mx.example.org", 995, args.pop3s, "POP3"),
        bridge.Listener("imaps", "mx.example.org", 993, args.imaps, "IMAP"),
    ]
    try:
        asyncio.run(bridge.serve(world, listeners, host=args.host, spool=args.spool))
    except OSError as exc:
        print(f"smtpsim serve: cannot listen on {args.host}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _tui(args: argparse.Namespace) -> int:
    """Open the terminal app; it needs a terminal, so without one this says so and is a usage error."""
    if not sys.stdout.isatty():
        print("smtpsim tui: the terminal app needs a terminal; try `smtpsim run` for the transcript", file=sys.stderr)
        return USAGE_ERROR
    try:
        sim = Simulation.from_scenario(args.scenario, seed=args.seed)
    except ScenarioError as exc:
        print(f"smtpsim: {exc}", file=sys.stderr)
        return USAGE_ERROR
    lesson_id = None
    if args.lesson is not None:
        from simulator.lessons import LessonError, lesson, lessons  # noqa: PLC0415 (only for --lesson)

        try:
            lesson_id = lesson(args.lesson).id
        except LessonError as exc:
            print(f"smtpsim tui: {exc}", file=sys.stderr)
            return USAGE_ERROR
        except KeyError:
            known = ", ".join(found.id for found in lessons()) or "none"
            print(f"smtpsim tui: --lesson {args.lesson}: no such lesson (the lessons are {known})", file=sys.stderr)
            return USAGE_ERROR
    # Textual is imported only for this command, so that `import simulator` stays light.
    from simulator.tui.app import SmtpsimApp  # noqa: PLC0415

    SmtpsimApp(sim, lesson=lesson_id).run()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        builtins = scenarios.builtin_scenarios()
        width = max(len(s.name) for s in builtins) + 2
        for scenario in builtins:
            text = textwrap.fill(scenario.description, 100, initial_indent=" " * width, subsequent_indent=" " * width)
            print(scenario.name.ljust(width) + text[width:])
        return 0
    if args.command == "run":
        return _run(args)
    if args.command == "compare":
        return _compare(args)
    if args.command == "export":
        return _export(args)
    if args.command == "tui":
        return _tui(args)
    if args.command in ("web", "notebook"):
        return web.main(args.command, args.dir, args.lesson, args.port)
    return _serve(args)


if __name__ == "__main__":
    raise SystemExit(main())
