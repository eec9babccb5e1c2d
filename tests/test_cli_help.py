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
