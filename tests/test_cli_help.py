"""Every option of every command says what it does (`fakepeer COMMAND --help`)."""

from __future__ import annotations

import argparse

from fakepeer.cli.main import build_parser


def _options(parser: argparse.ArgumentParser, command: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _options(sub, f"{command} {name}")
        else:
            yield command, action


def test_every_option_has_help():
    """Before: `serve --max-connections` had none."""
    missing = [f"{command} {'/'.join(action.option_strings) or action.dest}"
               for command, action in _options(build_parser(), "fakepeer")
               if not action.help or action.help == argparse.SUPPRESS]
    assert missing == []


def test_the_token_help_says_loopback_needs_it_too():
    """With a token every caller must send it (fakepeer.net.http_access); the help said
    it only let non-loopback clients in."""
    [serve] = [sub for action in build_parser()._actions
               if isinstance(action, argparse._SubParsersAction)
               for name, sub in action.choices.items() if name == "serve"]
    [token] = [a for a in serve._actions if "--http-token" in a.option_strings]
    assert "every client, loopback too" in token.help


def _usage_error(capsys, *argv: str) -> str:
    from fakepeer.cli.environment import Environment
    from fakepeer.cli.main import main
    from fakepeer.cli.status import ExitStatus

    assert main(list(argv), Environment()) == ExitStatus.USAGE
    return capsys.readouterr().err


def test_a_wrong_flag_gets_the_commands_usage_and_a_suggestion(capsys):
    """Before: `fakepeer serve --scenerio X` printed the top-level usage (which lists no
    serve option) and no suggestion."""
    err = _usage_error(capsys, "serve", "--scenerio", "expired-leaf")
    assert err.startswith("usage: fakepeer serve ")
    assert err.rstrip().endswith("fakepeer serve: error: unrecognized arguments: --scenerio "
                                 "expired-leaf (did you mean '--scenario'?)")


def test_port_is_pointed_at_listen_and_a_far_miss_suggests_nothing(capsys):
    err = _usage_error(capsys, "serve", "--port", "5062")
    assert err.rstrip().endswith("unrecognized arguments: --port 5062 (the address and "
                                 "port to listen on are --listen HOST:PORT)")
    err = _usage_error(capsys, "certs", "list", "--colour")
    assert err.startswith("usage: fakepeer certs list ")
    assert err.rstrip().endswith("fakepeer certs list: error: unrecognized arguments: --colour")
