"""The running application: what ``serve``, ``probe`` and ``rehearse`` start, as Twisted
services and jobs, and the one runner that drives the reactor for them.

``runner`` runs a :class:`~fakepeer.app.runner.Job` on a reactor until it ends, with
SIGINT/SIGTERM stopping it cleanly and SIGHUP reloading it; ``serve`` is the service tree
of ``fakepeer serve`` (SIP listeners, the HTTP side, dial-back, scenario switches and the
record consumers); ``outbound`` turns a realised scenario into the callers and dial-backs
fakepeer dials with. The CLI above only parses, briefs and prints.
"""
